#!/usr/bin/env bash
# Builds the libFuzzer targets (the "fuzz" preset: clang 14, ASan + UBSan) and runs each for a bounded
# time from its committed seeds, in a scratch corpus under build/fuzz/fuzz-work (the seeds are never
# modified). Any crash, leak, timeout, OOM or failed invariant fails the script and names the reproducer.
#
#   tests/fuzz/run.sh                 every target, 30 s each
#   tests/fuzz/run.sh 600             the long form: 10 minutes each
#   tests/fuzz/run.sh 120 hub_update  some targets only
#   RELAY_FUZZ_NO_BUILD=1 ...         run what is built
#   RELAY_FUZZ_FRESH=1 ...            start from the seeds alone (drop the scratch corpus of earlier runs)
#
# Reproduce a failure: build/fuzz/tests/fuzz/fuzz_<target> <reproducer file>
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-30}
[[ $# -gt 0 ]] && shift
all_targets=(fhir_extract referral_parse hub_update ocean_decrypt auth_token config_load http_request)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

# target -> max_len, dictionaries, extra read-only seed directories (by path: too large to copy).
declare -A max_len=([fhir_extract]=65536 [referral_parse]=65536 [hub_update]=8192 [ocean_decrypt]=4096
  [auth_token]=8192 [config_load]=8192 [http_request]=16384)
declare -A dicts=([fhir_extract]="json fhir" [referral_parse]="json fhir" [hub_update]="json hub"
  [ocean_decrypt]="json ocean" [auth_token]="json auth" [config_load]="yaml" [http_request]="http")
declare -A extra_seeds=([referral_parse]="tests/golden/transform" [fhir_extract]="tests/golden/transform")

build_dir=build/fuzz
if [[ "${RELAY_FUZZ_NO_BUILD:-}" != 1 ]]; then
  [[ -f $build_dir/build.ninja ]] || cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
fi

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=0
summary=()
for t in "${targets[@]}"; do
  exe=$build_dir/tests/fuzz/fuzz_$t
  [[ -x $exe ]] || { echo "fuzz: $exe is not built" >&2; exit 2; }
  work=$build_dir/fuzz-work/$t
  [[ "${RELAY_FUZZ_FRESH:-}" == 1 ]] && rm -rf "$work"
  rm -rf "$work/artifacts"
  mkdir -p "$work/corpus" "$work/artifacts"
  : >"$work/$t.dict"
  for d in ${dicts[$t]}; do cat "tests/fuzz/dict/$d.dict" >>"$work/$t.dict"; done
  seeds=(tests/fuzz/corpus/"$t")
  for extra in ${extra_seeds[$t]:-}; do [[ -d $extra ]] && seeds+=("$extra"); done

  echo "== fuzz $t: ${seconds}s (log $work/log.txt)" >&2
  start=$(date +%s)
  status=0
  # New inputs go to the first directory only: the scratch corpus.
  "$exe" "$work/corpus" "${seeds[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -max_len="${max_len[$t]}" -dict="$work/$t.dict" -detect_leaks=1 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 -close_fd_mask=1 \
    >"$work/log.txt" 2>&1 || status=$?
  elapsed=$(($(date +%s) - start))

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log.txt" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/log.txt" | tail -1)
  last=$(grep -E '^#[0-9]+' "$work/log.txt" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  artifact=$(find "$work/artifacts" -type f | head -1)
  if [[ $status -ne 0 || -n $artifact ]]; then
    failed=1
    result=FAILED
    echo "fuzz: $t FAILED (exit $status); last lines of $work/log.txt:" >&2
    grep -v -E '^#[0-9]+' "$work/log.txt" | tail -40 >&2
    echo "fuzz: $t reproducer: ${artifact:-none written (see the log)}" >&2
    [[ -n $artifact ]] && echo "fuzz: reproduce with: $exe $artifact" >&2
  else
    result=ok
  fi
  summary+=("$(printf '%-15s %-6s %12s execs %8s/s  cov %6s  ft %7s  corpus %6s  rss %5s MB  %4ss' \
    "$t" "$result" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$elapsed")")
done

echo "== fuzz summary (${seconds}s per target)" >&2
printf '%s\n' "${summary[@]}" >&2
exit $failed
