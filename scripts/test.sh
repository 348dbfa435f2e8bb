#!/usr/bin/env bash
# The whole test suite, from a clean checkout: installs what is missing, builds with warnings as
# errors, runs every test (unit, loopback integration, and the real Kafka broker suite), then
# rebuilds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit and loopback tests
# again. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
jobs=$(nproc)

echo "== release build (warnings are errors)" >&2
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
echo "== tests: unit, integration, real Kafka broker" >&2
ctest --preset ci --timeout 600

echo "== sanitizer build (address, undefined)" >&2
cmake --preset debug >/dev/null
cmake --build --preset debug -j "$jobs"
echo "== tests under ASan + UBSan: unit and loopback integration" >&2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset debug -L 'unit|integration' --timeout 600
echo "== all tests passed" >&2
