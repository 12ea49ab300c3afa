#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz (clang, ASan + UBSan) in build-fuzz/ and runs each one.
#   bash scripts/fuzz.sh                 # smoke run: 20 s per harness (what scripts/test.sh does)
#   bash scripts/fuzz.sh 3600 -jobs=2    # an hour per harness; extra arguments go to every libFuzzer run
# The committed seed corpus (tests/fuzz/corpus/) is read, never written: new inputs go to
# build-fuzz/corpus/<harness>/ (kept between runs), crashes to build-fuzz/artifacts/. See docs/fuzzing.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${1:-20}"
shift || true

fail() { echo "fuzz.sh: ERROR: $*" >&2; exit 1; }
command -v clang++ >/dev/null 2>&1 ||
  fail "clang++ is not installed; the fuzz harnesses need clang with libFuzzer (Debian: apt-get install clang)"
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' \
  > "$probe/probe.cc"
clang++ -fsanitize=fuzzer,address,undefined "$probe/probe.cc" -o "$probe/probe" >"$probe/log" 2>&1 ||
  fail "clang++ cannot link a libFuzzer binary (-fsanitize=fuzzer,address,undefined):
$(cat "$probe/log")"

echo "== building the fuzz harnesses (build-fuzz/, clang, ASan + UBSan)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DLINGER_FUZZ=ON -DLINGER_BUILD_TORCH=OFF -DLINGER_BUILD_TESTS=OFF -DLINGER_BUILD_PYTHON=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_model_load fuzz_npy fuzz_session_run

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p build-fuzz/artifacts
status=0
for spec in fuzz_model_load:model:onnx fuzz_session_run:model:onnx fuzz_npy:npy:npy; do
  IFS=: read -r harness seeds dict <<<"$spec"
  work="build-fuzz/corpus/$harness"
  mkdir -p "$work"
  echo "== $harness: ${SECONDS_EACH} s (seeds tests/fuzz/corpus/$seeds, dictionary tests/fuzz/$dict.dict)"
  if ! "build-fuzz/tests/fuzz/$harness" "$work" "tests/fuzz/corpus/$seeds" -dict="tests/fuzz/$dict.dict" \
      -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/artifacts/$harness-" "$@" >"build-fuzz/$harness.log" 2>&1; then
    echo "fuzz.sh: $harness FAILED; the end of build-fuzz/$harness.log:" >&2
    tail -n 60 "build-fuzz/$harness.log" >&2
    status=1
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ *DONE" "build-fuzz/$harness.log" | tr '\n' ' ' || true
  echo
done
[ "$status" -eq 0 ] || fail "a fuzz harness found a problem (inputs saved under build-fuzz/artifacts/)"
echo "== fuzz smoke runs passed"
