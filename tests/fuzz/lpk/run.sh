#!/usr/bin/env bash
# Builds the packed-file loader fuzzer (tests/fuzz/fuzz_lpk_loader.cc + micro/src) with clang's
# libFuzzer, ASan and UBSan, and runs it for SECONDS on a seed corpus of packed models.
#   bash tests/fuzz/lpk/run.sh SECONDS SEED.lpk...        (exit 0: no crash found)
# Self-contained: no CMake; the binary and corpus go to ${LPK_FUZZ_DIR:-build/fuzz-lpk}.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
SECONDS_TO_RUN="${1:?usage: run.sh SECONDS SEED.lpk...}"
shift
OUT="${LPK_FUZZ_DIR:-build/fuzz-lpk}"
CXX="${CLANGXX:-clang++}"
command -v "$CXX" >/dev/null || { echo "fuzz_lpk: $CXX not found (apt-get install clang)"; exit 1; }
mkdir -p "$OUT/corpus"
nice "$CXX" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -fno-exceptions -fno-rtti -Imicro/include -Iinclude -Imicro/src \
  tests/fuzz/fuzz_lpk_loader.cc micro/src/*.cc micro/src/ops/*.cc -o "$OUT/fuzz_lpk_loader"
for s in "$@"; do cp "$s" "$OUT/corpus/"; done
# Small seeds covering every micro op (fast to run), when linger-pack is built.
PACK="${LPK_PACK:-build/micro/linger-pack}"
if [ -x "$PACK" ] && /usr/bin/python3 tests/fuzz/lpk/make_seeds.py "$OUT/seeds" 2>/dev/null; then
  for m in "$OUT"/seeds/*.onnx; do "$PACK" "$m" -o "$OUT/corpus/$(basename "$m" .onnx).lpk" --quiet; done
fi
# -max_len: the seeds are a few tens of KiB; -timeout: one input (load + two invokes) must stay fast.
"$OUT/fuzz_lpk_loader" "$OUT/corpus" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=20 \
  -rss_limit_mb=2048 -print_final_stats=1 -close_fd_mask=1 2>&1 | tail -n 12
echo "fuzz_lpk: ${SECONDS_TO_RUN}s without a crash"
