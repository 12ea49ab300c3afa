#!/usr/bin/env bash
# The CUDA check (docs/cuda.md): builds the torch extension with its CUDA kernels against this machine's torch,
# runs the CUDA tests (CPU vs CUDA bits, tests/python/test_cuda_ops.py), QAT steps on GPU vs CPU
# (tests/python/test_cuda_qat.py) and benchmarks the CUDA fake-quant against torch.fake_quantize_per_tensor_affine
# on the same GPU (bench/bench_fake_quant_cuda.py). Needs no network; finishes in under 8 minutes on one GPU.
#
#   bash scripts/gpu_check.sh         on a GPU machine: a missing GPU is an error
#   bash scripts/gpu_check.sh --ci    anywhere (CI): the same build and tests; the GPU parts print "skipped: no GPU"
#
# Python: $LINGER_GPU_PYTHON, else the first of `python3` on PATH, ~/.cache/linger/venv-torch2/bin/python and
# /usr/bin/python3 whose torch was built with CUDA (and, without --ci, sees a GPU). nvcc: on PATH, else
# $CUDA_HOME/bin, /usr/local/cuda/bin. Fashion-MNIST for the QAT steps: $LINGER_FASHION_MNIST or Debian's
# dataset-fashion-mnist (the t10k files suffice), else a synthetic set.
# The build uses a copy of the sources in build-gpu-check/ and leaves the checkout's python/linger/_lib alone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE=gpu
case "${1:-}" in
  "") ;;
  --ci) MODE=ci ;;
  -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "usage: bash scripts/gpu_check.sh [--ci]" >&2; exit 2 ;;
esac

START=$SECONDS
# The GPU run must end within 8 minutes: every step gets what is left of 7 min 45 s.
if [ "$MODE" = gpu ]; then DEADLINE=$((START + 465)); else DEADLINE=$((START + 3600)); fi
say() { echo "== [gpu_check +$((SECONDS - START))s] $*"; }
die() { echo "gpu_check: ERROR: $*" >&2; exit 1; }
step() {  # step NAME CMD...: runs CMD within the time left
  local name="$1"; shift
  local left=$((DEADLINE - SECONDS))
  [ "$left" -gt 10 ] || die "out of time before '$name' ($((SECONDS - START)) s spent)"
  say "$name"
  local rc=0
  timeout --foreground "$left" "$@" || rc=$?
  [ "$rc" -ne 124 ] || die "'$name' ran past the time limit ($((SECONDS - START)) s spent)"
  [ "$rc" -eq 0 ] || die "'$name' failed (exit code $rc)"
}

# ---- the Python whose torch has CUDA
PY=""
TRIED=""
SEEN=""
for cand in "${LINGER_GPU_PYTHON:-}" "$(command -v python3 || true)" "$HOME/.cache/linger/venv-torch2/bin/python" \
            /usr/bin/python3; do
  [ -n "$cand" ] && [ -x "$cand" ] || continue
  case " $SEEN " in *" $cand "*) continue ;; esac
  SEEN="$SEEN $cand"
  info=$("$cand" -c 'import torch; print(torch.__version__, torch.version.cuda or "-", int(torch.cuda.is_available()))' \
         2>/dev/null | tail -1) || info="(no torch)"
  TRIED="$TRIED
  $cand: torch ${info}"
  set -- $info
  [ "$#" -eq 3 ] && [ "$2" != "-" ] || continue
  if [ "$MODE" = ci ] || [ "$3" = 1 ]; then PY="$cand"; TORCH_VERSION="$1"; TORCH_CUDA="$2"; HAVE_GPU="$3"; break; fi
done
if [ -z "$PY" ]; then
  if [ "$MODE" = gpu ]; then
    die "no Python whose torch was built with CUDA and sees a GPU (torch.cuda.is_available()). Tried (version, CUDA, GPU):$TRIED
Set LINGER_GPU_PYTHON=/path/to/python, or run 'bash scripts/gpu_check.sh --ci' for the part that needs no GPU."
  fi
  die "no Python whose torch was built with CUDA, so the CUDA kernels cannot be compiled. Tried (version, CUDA):$TRIED
Install a CUDA build of torch in a venv (pip install torch) and set LINGER_GPU_PYTHON to its python."
fi

# ---- nvcc, cmake, ninja
NVCC="$(command -v nvcc || true)"
for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
  [ -n "$NVCC" ] && break
  [ -n "$d" ] && [ -x "$d/bin/nvcc" ] && NVCC="$d/bin/nvcc"
done
[ -n "$NVCC" ] || die "nvcc not found (PATH, \$CUDA_HOME/bin, /usr/local/cuda/bin): install the CUDA toolkit ${TORCH_CUDA%%.*}.x"
PYBIN="$(dirname "$PY")"
CMAKE="$(command -v cmake || true)"
if [ -z "$CMAKE" ] && [ -x "$PYBIN/cmake" ]; then CMAKE="$PYBIN/cmake"; fi
[ -n "$CMAKE" ] || die "cmake not found (PATH, $PYBIN)"
GEN=(-G "Unix Makefiles")
if command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja)
elif [ -x "$PYBIN/ninja" ]; then GEN=(-G Ninja -DCMAKE_MAKE_PROGRAM="$PYBIN/ninja"); fi
# The same toolkit for CMake's CUDA language, torch's FindCUDA and FindCUDAToolkit.
CUDA_ROOT="$(cd "$(dirname "$NVCC")/.." && pwd)"
export CUDACXX="$NVCC" PATH="$(dirname "$NVCC"):$PATH" CUDA_PATH="${CUDA_PATH:-$CUDA_ROOT}" CUDA_HOME="${CUDA_HOME:-$CUDA_ROOT}"

if [ "$MODE" = gpu ]; then
  CAP=$("$PY" -c 'import torch; print("%d%d" % torch.cuda.get_device_capability())')
  ARCHS="$CAP"                                    # this GPU only: the fastest build
  export TORCH_CUDA_ARCH_LIST="${CAP:0:${#CAP}-1}.${CAP: -1}"
  GPU_NAME=$("$PY" -c 'import torch; print(torch.cuda.get_device_name())')
else
  ARCHS="80-real;90"                              # the default of LINGER_CUDA_ARCHITECTURES (CI: two archs)
  export TORCH_CUDA_ARCH_LIST="8.0;9.0"           # spares torch's CMake config its GPU probe
  GPU_NAME="none"
fi
say "python $PY: torch $TORCH_VERSION (CUDA $TORCH_CUDA); nvcc $("$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') ($NVCC); GPU: $GPU_NAME; archs: $ARCHS"
if [ "$MODE" = gpu ] && command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

# ---- a copy of what the extension build and its tests need (the runtime for its optimised kernels, which the
# eval ops link; no micro)
WORK="$ROOT/build-gpu-check"
SRC="$WORK/src"
rm -rf "$SRC"
mkdir -p "$SRC/tests"
cp -r "$ROOT/CMakeLists.txt" "$ROOT/include" "$ROOT/csrc" "$ROOT/runtime" "$ROOT/python" "$ROOT/bench" "$ROOT/pytest.ini" "$SRC/"
cp -r "$ROOT/tests/python" "$SRC/tests/"
rm -rf "$SRC/python/linger/_lib"
find "$SRC" -name __pycache__ -prune -exec rm -rf {} +

PREFIX=$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
step "configure (LINGER_CUDA=ON)" "$CMAKE" -S "$SRC" -B "$WORK/build" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE="$PY" -DCMAKE_PREFIX_PATH="$PREFIX;$PREFIX/../.." -DLINGER_BUILD_TESTS=OFF \
  -DLINGER_BUILD_PYTHON=OFF -DLINGER_CUDA=ON -DLINGER_CUDA_ARCHITECTURES="$ARCHS" -DCMAKE_CUDA_COMPILER="$NVCC"
JOBS=$(nproc 2>/dev/null || echo 2)
step "build the torch extension with its CUDA kernels ($JOBS jobs)" "$CMAKE" --build "$WORK/build" --target linger_torch -j"$JOBS"
[ -f "$SRC/python/linger/_lib/liblinger_torch.so" ] || die "the build did not place liblinger_torch.so in $SRC/python/linger/_lib"

cd "$SRC"
export LINGER_EXPECT_CUDA_KERNELS=1 PYTHONUNBUFFERED=1
step "CUDA tests: CPU vs CUDA bits, QAT steps on GPU vs CPU" "$PY" -m pytest -q -rs -s -p no:cacheprovider \
  tests/python/test_cuda_ops.py tests/python/test_cuda_qat.py
if [ "$HAVE_GPU" = 1 ]; then
  step "benchmark: CUDA fake-quant vs torch.fake_quantize_per_tensor_affine" "$PY" bench/bench_fake_quant_cuda.py
else
  say "benchmark: skipped: no GPU"
fi
if [ "$MODE" = ci ] && [ "$HAVE_GPU" != 1 ]; then
  say "done: CUDA kernels compiled for $ARCHS and registered; GPU tests and benchmark skipped: no GPU"
else
  say "done in $((SECONDS - START)) s"
fi
