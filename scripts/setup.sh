#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install the Debian packages linger
# needs, build everything, make `import linger` work from any directory
# (/usr/bin/python3), then run the main job (the Fashion-MNIST demo).
#   bash scripts/setup.sh            # everything
#   bash scripts/setup.sh --no-demo  # install + build only
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PKGS=(cmake ninja-build g++ ccache python3-dev libtorch-dev python3-torch python3-onnx pybind11-dev
      python3-pytest python3-numpy python3-torchvision libgtest-dev libbenchmark-dev dataset-fashion-mnist
      gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm
      clang libclang-rt-14-dev python3-matplotlib python3-tqdm
      python3-venv)  # python3-venv: the torch-2.x test venv and `pip install .` checks (scripts/test.sh)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

echo "== building (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build build -j"$(nproc)"

# Make the checkout's python/ package importable by /usr/bin/python3 from anywhere.
SITE="$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')"
if [ -w "$SITE" ] || [ "$(id -u)" -eq 0 ]; then
  mkdir -p "$SITE"
  echo "$ROOT/python" > "$SITE/linger.pth"
else
  sudo sh -c "echo '$ROOT/python' > '$SITE/linger.pth'"
fi
(cd / && /usr/bin/python3 -c "import linger; print('linger', linger.__version__, 'importable from', linger.__file__)")

if [ "${1:-}" != "--no-demo" ]; then
  echo "== main job: examples/fashion_mnist_demo.py"
  /usr/bin/python3 examples/fashion_mnist_demo.py
fi
