#!/usr/bin/env bash
# Runs every test: C++ (release build and an ASan/UBSan build), the fuzz harnesses for a short bounded
# time (they need clang with libFuzzer: a missing clang is an error, not a skip), Python under Debian's torch 1.13
# and under the newest torch 2.x from PyPI (each from its own clean build; docs/install.md), and `pip install .`.
#   bash scripts/test.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh --no-demo

echo "== C++ tests (release)"
ctest --test-dir build --output-on-failure -j2

echo "== C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -G Ninja -DLINGER_BUILD_TORCH=OFF -DLINGER_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure -j2

echo "== Fuzz smoke runs (libFuzzer + ASan + UBSan, 20 s per harness; docs/fuzzing.md)"
bash scripts/fuzz.sh 20

echo "== torch 2.x: cached venv, pip install . (build-torch2), install check (scripts/test_torch2.sh)"
bash scripts/test_torch2.sh --build-only
TORCH2_PY="${LINGER_TORCH2_VENV:-$HOME/.cache/linger/venv-torch2}/bin/python"

echo "== Python tests, Debian torch 1.13 (build/)"
LINGER_OTHER_PYTHON="$TORCH2_PY" LINGER_OTHER_PYTHONPATH="" /usr/bin/python3 -m pytest -q tests/python

echo "== Python tests, torch 2.x (build-torch2-tree)"
LINGER_OTHER_PYTHON=/usr/bin/python3 LINGER_OTHER_PYTHONPATH="$ROOT/python" bash scripts/test_torch2.sh --pytest-only

echo "== pip install . into a new venv over Debian's torch 1.13 (scripts/check_install.sh)"
bash scripts/check_install.sh

echo "== CUDA kernels: compiled against a torch with CUDA, CPU-side checks (scripts/gpu_check.sh --ci; docs/cuda.md)"
bash scripts/gpu_check.sh --ci

echo "== Microcontroller: demo model on an emulated Cortex-M4 vs the x86 runtime, packed-file fuzzer"
MCU_FUZZ_SECONDS=15 bash scripts/mcu_check.sh 4
