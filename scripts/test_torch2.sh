#!/usr/bin/env bash
# The Python tests against the newest torch 2.x from PyPI (scripts/test.sh runs this after the torch-1.13 tests).
#   bash scripts/test_torch2.sh [pytest args]       # steps 1-4; default: the whole tests/python suite
#   bash scripts/test_torch2.sh --build-only        # steps 1-3 and the copy of step 4 (scripts/test.sh)
#   bash scripts/test_torch2.sh --pytest-only [...] # step 4 on what --build-only left
# 1. the cached venv (scripts/torch2_venv.sh; ~/.cache/linger/venv-torch2);
# 2. `pip install .` into it from a clean build folder (build-torch2): the extension, the runtime module and
#    the CLIs built against that venv's torch, exactly as a user installs linger (docs/install.md);
# 3. the install check: `import linger, linger.runtime` from another folder, `linger-run --help` on PATH;
# 4. pytest in build-torch2-tree, a copy of the checkout whose python/linger/_lib holds the files step 2 installed
#    (the checkout's own python/linger/_lib belongs to the torch-1.13 CMake build in build/, and the tests import
#    the checkout's python/, also in their subprocesses).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"
# The compiler CMake picks by itself (c++), also under pip: ccache then reuses build/'s objects of the torch-free parts.
export CXX="${CXX:-c++}"
MODE=all
case "${1:-}" in --build-only|--pytest-only) MODE="${1#--}"; shift ;; esac

if [ "$MODE" = pytest-only ]; then
  VENV="${LINGER_TORCH2_VENV:-$HOME/.cache/linger/venv-torch2}"   # as --build-only left it
else
  VENV="$(bash scripts/torch2_venv.sh)"
fi
PY="$VENV/bin/python"
TORCH2="$("$PY" -c 'import torch; print(torch.__version__)')"

if [ "$MODE" = pytest-only ]; then
  [ -d build-torch2-tree/python/linger/_lib ] || { echo "test_torch2.sh: run --build-only first" >&2; exit 1; }
  echo "== pytest under torch $TORCH2 (build-torch2-tree)"
  cd build-torch2-tree
  exec "$PY" -m pytest -q -p no:cacheprovider "${@:-tests/python}"
fi
echo "== torch-2.x venv $VENV: torch $TORCH2"

rm -rf build-torch2 build-torch2-tree

echo "== pip install . (build-torch2, against that torch)"
"$PY" -m pip install --disable-pip-version-check -q . --config-settings=build-dir=build-torch2

echo "== install check: import from another folder, linger-run on PATH"
SITE_LINGER="$(cd / && "$PY" - <<'PYEOF'
import os, linger, linger.runtime, torch
here = os.path.dirname(linger.__file__)
assert "site-packages" in here, f"linger imported from {here}, not the venv's site-packages"
print(here)
PYEOF
)"
"$VENV/bin/linger-run" --help >/dev/null
"$VENV/bin/linger-pack" --help >/dev/null 2>&1
echo "   linger from $SITE_LINGER; $VENV/bin/linger-run --help ok"

mkdir -p build-torch2-tree
git ls-files -z --cached --others --exclude-standard | grep -zv '^build' \
  | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C build-torch2-tree
rm -rf build-torch2-tree/python/linger/_lib
cp -r "$SITE_LINGER/_lib" build-torch2-tree/python/linger/_lib
[ "$MODE" = build-only ] && exit 0
echo "== pytest under torch $TORCH2 (build-torch2-tree)"
cd build-torch2-tree
"$PY" -m pytest -q -p no:cacheprovider "${@:-tests/python}"
