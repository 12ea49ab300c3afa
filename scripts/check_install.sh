#!/usr/bin/env bash
# `pip install .` into a new venv over Debian's torch 1.13 (made from /usr/bin/python3 with --system-site-packages),
# then, from another folder, `import linger, linger.runtime` (from the venv, not the checkout) and `linger-run --help`.
# (The torch-2.x side of the same check is part of scripts/test_torch2.sh.)
#   bash scripts/check_install.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"
export CXX="${CXX:-c++}"  # as build/ (scripts/setup.sh): ccache reuses its objects
VENV="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$VENV")"' EXIT
/usr/bin/python3 -m venv --system-site-packages "$VENV"
rm -rf build-pip-debian
"$VENV/bin/python" -m pip install --disable-pip-version-check -q . --config-settings=build-dir=build-pip-debian
(cd / && "$VENV/bin/python" - "$VENV" <<'PYEOF'
import os, sys
import linger, linger.runtime, torch
assert linger.__file__.startswith(sys.argv[1]), f"linger imported from {linger.__file__}, not the venv {sys.argv[1]}"
print(f"   torch {torch.__version__} ({os.path.dirname(torch.__file__)}), linger {linger.__version__} from "
      f"{os.path.dirname(linger.__file__)}")
PYEOF
)
"$VENV/bin/linger-run" --help >/dev/null
"$VENV/bin/linger-pack" --help >/dev/null 2>&1
echo "   linger-run --help, linger-pack --help: ok (on the venv's PATH)"
