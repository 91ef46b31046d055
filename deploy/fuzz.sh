#!/usr/bin/env bash
# Builds the parsers' and the zip reader's libFuzzer targets with Debian's clang (ASan+UBSan) and runs each for a
# bounded time: first over the regression inputs in tests/fuzz/regressions/<target>/ (inputs
# that once crashed; each must pass now), then fuzzing from the real samples as seeds. For
# companyfacts the seeds are cut small (tests/fuzz/seeds/companyfacts/, a few facts of each
# sample): from the multi-MB samples a 60 s run executed ~500 inputs, from these ~285,000 in 30 s,
# and the samples themselves are all parsed by the unit tests.
#
#   deploy/fuzz.sh [SECONDS_PER_TARGET]     (default 30; CI runs it from deploy/test.sh)
#
# A crash leaves its input in build-fuzz/findings/<target>/; copy it to the regressions folder
# with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DEDGARPIPE_SANITIZE=fuzzer -DEDGARPIPE_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz --target fuzz_submissions fuzz_overflow fuzz_companyfacts fuzz_zip --parallel "$(nproc)"

seeds() {  # the samples a target starts from
  case "$1" in
    submissions) ls tests/data/submissions/*.json | grep -v -- '-submissions-' ;;
    overflow) ls tests/data/submissions/*-submissions-*.json ;;
    companyfacts) ls tests/fuzz/seeds/companyfacts/*.json ;;  # cut small from tests/data/companyfacts
    zip) ls tests/fuzz/seeds/zip/*.zip ;;  # tests/fuzz/make_zip_seeds.py
  esac
}
max_len() {  # room for a mutated whole sample (the submissions ones run to 220 KB)
  case "$1" in
    companyfacts | zip) echo 65536 ;;
    *) echo 4000000 ;;
  esac
}
for target in submissions overflow companyfacts zip; do
  exe=build-fuzz/bin/fuzz_$target
  corpus=build-fuzz/corpus/$target findings=build-fuzz/findings/$target
  mkdir -p "$corpus" "$findings"
  seeds "$target" | xargs -I{} cp {} "$corpus/"
  if [ -d "tests/fuzz/regressions/$target" ]; then
    echo "== fuzz_$target: regression inputs"
    "$exe" tests/fuzz/regressions/$target/*
  fi
  echo "== fuzz_$target: ${seconds}s from $(ls "$corpus" | wc -l) seeds"
  log=build-fuzz/fuzz_$target.log
  if ! "$exe" -max_total_time="$seconds" -max_len="$(max_len "$target")" -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1; then
    grep -E -A30 '==[0-9]+==ERROR|deadly signal|SUMMARY' "$log" | head -60 >&2
    echo "fuzz_$target found a failing input: $(ls "$findings")  (log: $log)" >&2
    exit 1
  fi
  grep -E 'stat::number_of_executed_units' "$log"
done
echo "deploy/fuzz.sh: no failing input"
