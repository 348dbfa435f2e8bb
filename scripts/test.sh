#!/usr/bin/env bash
# The whole test suite, from a clean checkout: installs what is missing, builds with warnings as
# errors, runs every test (unit, loopback integration, and the real Kafka broker suite), then
# rebuilds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit and loopback tests
# again, and last runs every libFuzzer target for a bounded time (tests/fuzz/run.sh; clang 14). Each
# step's elapsed time is printed when it ends, and the whole run's at the end. This is what CI runs
# (.ci/run).
#   RELAY_CI_FUZZ_SECONDS=N   seconds per fuzz target (default 30: seven targets, about 4 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

run_start=$SECONDS
step_name=""
step_start=$SECONDS
elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
# step NAME: ends the current step (printing its elapsed time) and starts NAME.
step() {
  end_step
  step_name=$1
  step_start=$SECONDS
  echo "== $step_name" >&2
}
# The build trees are the run's largest use of disk (a CI machine once ran out of it mid-link): each
# step also reports what is left on the disk that holds build/.
disk_free() { df -h --output=avail build 2>/dev/null | tail -1 | tr -d ' '; }
end_step() {
  [[ -n $step_name ]] && echo "   ($step_name: $(elapsed $((SECONDS - step_start))); disk free: $(disk_free))" >&2
  step_name=""
}
# A failing command stops the run (set -e): say which step failed, after how long.
trap 'status=$?; if [[ $status -ne 0 ]]; then end_step; echo "== FAILED (exit $status) after $(elapsed $((SECONDS - run_start)))" >&2; fi' EXIT

step "dependencies"
mkdir -p build
scripts/install-deps.sh --test
jobs=$(nproc)

step "release build (warnings are errors)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
step "tests: unit, integration, real Kafka broker"
ctest --preset ci --timeout 600

step "sanitizer build (address, undefined)"
cmake --preset debug >/dev/null
cmake --build --preset debug -j "$jobs"
step "tests under ASan + UBSan: unit and loopback integration"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset debug -L 'unit|integration' --timeout 600

step "fuzz build (clang 14, libFuzzer + ASan + UBSan)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs" --target relay_fuzzers
step "fuzz: every target for ${RELAY_CI_FUZZ_SECONDS:-30}s under ASan + UBSan"
RELAY_FUZZ_NO_BUILD=1 tests/fuzz/run.sh "${RELAY_CI_FUZZ_SECONDS:-30}"
end_step
echo "   (build trees: $(du -sh build/ci build/debug build/fuzz 2>/dev/null | awk '{printf "%s %s  ", $2, $1}'))" >&2
echo "== all tests passed in $(elapsed $((SECONDS - run_start)))" >&2
