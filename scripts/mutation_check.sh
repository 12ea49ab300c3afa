#!/usr/bin/env bash
# A test of the tests: plant each bug of scripts/mutations/*.mut, rebuild what it needs, run the tests
# that should catch it, restore the file, and report caught/survived. Not part of CI (slow); see docs/testing.md.
#
#   scripts/mutation_check.sh [BUILD_DIR] [PATTERN]     e.g. scripts/mutation_check.sh build 13-
#
# Each .mut file is a small shell fragment setting
#   FILE   the one file it mutates (relative to the repository root)
#   SED    a sed expression applied to FILE (must change it)
#   BUILD  a CMake target to rebuild (empty: Python only; the Python extensions are not rebuilt)
#   TESTS  the command that must FAIL with the bug planted ("$PY" is the Python interpreter)
# Before planting, TESTS must pass on the clean tree (else the bug is reported BASELINE-FAILS).
# The mutated files must be clean in git (no uncommitted changes): the script restores them with
# `git checkout -- FILE` and refuses to touch a file with local changes. Exit status 0 iff every bug was caught.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${1:-build}"
PATTERN="${2:-}"
PY="${PYTHON:-/usr/bin/python3}"
export PY
JOBS="${JOBS:-2}"
LOG_DIR="$(mktemp -d /tmp/linger-mutation.XXXXXX)"

MUTS=()
for f in scripts/mutations/*.mut; do
  # PATTERN: a glob on the file name, e.g. 13- or '1[78]-' or numerics
  # shellcheck disable=SC2053
  [[ -z "$PATTERN" || "$(basename "$f")" == *$PATTERN* ]] && MUTS+=("$f")
done
[[ ${#MUTS[@]} -gt 0 ]] || { echo "no mutation matches '$PATTERN'"; exit 2; }

# Refuse to start unless every file we will mutate is clean.
for m in "${MUTS[@]}"; do
  FILE=$(bash -c "source '$m'; echo \"\$FILE\"")
  if ! git diff --quiet HEAD -- "$FILE"; then
    echo "refusing: $FILE (used by $m) has uncommitted changes; commit or stash them first"
    exit 2
  fi
done

CURRENT=""
restore() {
  if [[ -n "$CURRENT" ]]; then git checkout -- "$CURRENT"; CURRENT=""; fi
}
trap 'restore; echo "interrupted: tree restored"; exit 130' INT TERM

build() {  # target
  [[ -z "$1" ]] && return 0
  nice cmake --build "$BUILD_DIR" --target "$1" -j"$JOBS" >"$LOG_DIR/build.log" 2>&1
}

caught=0; survived=0; broken=0
results=()
for m in "${MUTS[@]}"; do
  name=$(basename "$m" .mut)
  FILE= SED= BUILD= TESTS=
  # shellcheck disable=SC1090
  source "$m"
  desc=$(sed -n '1s/^# //p' "$m")
  # the tests must pass on the clean tree, or a failure would prove nothing (pytest -k selecting
  # nothing fails too: exit status 5)
  if ! (eval "$TESTS") >"$LOG_DIR/$name.baseline.log" 2>&1; then
    results+=("BASELINE-FAILS $name  (its tests fail without the bug: $LOG_DIR/$name.baseline.log)")
    broken=$((broken + 1))
    echo "${results[-1]}"
    continue
  fi
  CURRENT="$FILE"
  before=$(md5sum "$FILE")
  sed -i -e "$SED" "$FILE"
  if [[ "$(md5sum "$FILE")" == "$before" ]]; then
    restore
    results+=("NOT-APPLIED  $name  (the sed expression no longer matches $FILE)")
    broken=$((broken + 1))
    continue
  fi
  if ! build "$BUILD"; then
    restore
    results+=("BUILD-FAILED $name  (see $LOG_DIR/build.log)")
    broken=$((broken + 1))
    build "$BUILD"
    continue
  fi
  start=$(date +%s)
  if (eval "$TESTS") >"$LOG_DIR/$name.log" 2>&1; then
    status="SURVIVED"; survived=$((survived + 1))
  else
    status="caught  "; caught=$((caught + 1))
  fi
  secs=$(( $(date +%s) - start ))
  restore
  if [[ -n "$BUILD" ]] && ! build "$BUILD"; then
    echo "rebuild after restoring $FILE failed (see $LOG_DIR/build.log)"; exit 2
  fi
  results+=("$status $name  [${secs}s]  $desc")
  echo "${results[-1]}"
done
trap - INT TERM

echo
echo "==== mutation check: ${#MUTS[@]} planted bugs (logs in $LOG_DIR)"
printf '%s\n' "${results[@]}"
echo "total: $caught caught, $survived survived, $broken not run"
[[ $survived -eq 0 && $broken -eq 0 ]]
