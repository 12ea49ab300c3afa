#!/usr/bin/env bash
# Prints the path of the torch-2.x virtual environment the tests use, creating it when missing.
#   VENV=$(bash scripts/torch2_venv.sh)
# The venv lives outside the checkout (LINGER_TORCH2_VENV, default ~/.cache/linger/venv-torch2) so CI reuses it
# across clones: it is (re)installed when scripts/requirements-torch2.txt changes (the key in .linger-req), and torch
# is upgraded when PyPI serves a newer 2.x (one index query; without network the cached torch is tested, with a
# warning). Made from /usr/bin/python3 (a plain venv: PyPI's torch, not Debian's). Progress goes to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/scripts/requirements-torch2.txt"
VENV="${LINGER_TORCH2_VENV:-$HOME/.cache/linger/venv-torch2}"
KEY="$(sha256sum "$REQ" | cut -c1-16)"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating the torch-2.x venv $VENV" >&2
  mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV" >&2
fi
if [ "$(cat "$VENV/.linger-req" 2>/dev/null)" != "$KEY" ]; then
  echo "== installing scripts/requirements-torch2.txt into $VENV (torch from PyPI: a few GB the first time)" >&2
  "${PIP[@]}" install -q --upgrade pip >&2
  "${PIP[@]}" install -q --upgrade -r "$REQ" >&2
  echo "$KEY" > "$VENV/.linger-req"
else
  have="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))')"
  newest="$(timeout 120 "${PIP[@]}" index versions torch 2>/dev/null | sed -n 's/^Available versions: //p' \
             | tr ',' '\n' | tr -d ' ' | grep -m1 '^2\.' || true)"
  if [ -z "$newest" ]; then
    echo "warning: PyPI not reachable; testing the cached torch $have" >&2
  elif [ "$newest" != "$have" ]; then
    echo "== upgrading torch $have -> $newest in $VENV" >&2
    "${PIP[@]}" install -q --upgrade -r "$REQ" "torch==$newest" >&2
  fi
fi
echo "$VENV"
