#!/usr/bin/env bash
# Load harness for the hub API: `POST /hub/v1/referrals/{ref}/accept` (a distinct ref and update id per request,
# api_key credentials) against the ingress on its embedded Kafka broker (`kafka.embedded: true`: librdkafka's
# in-process mock cluster), answered 202 after the broker's ack. For comparison, the same ingress process
# then takes Ocean's FHIR webhook (10 KiB bundles, as run-load.sh sends them) on the same embedded broker.
#
#   benchmarks/load/run-hub-load.sh [BUILD_DIR]      default build/release; builds nothing
#
# Needs: BUILD_DIR/services/ingress/ocean-relay-ingress, wrk, curl, python3, kcat (to read the topics' end
# offsets). No Java: the broker is inside the ingress.
#
# Environment (defaults in brackets):
#   DURATION [20]        seconds of measured load per run
#   WARMUP [3]           seconds of unmeasured load before each run (0 = none)
#   WRK_THREADS [2]      wrk threads
#   CONNECTIONS [32]     wrk connections (keep-alive)
#   IO_THREADS [2]       ingress service.threads
#   LOG_LEVEL [warn]     ingress service.log_level (info = one JSON line per accepted request)
#   TARGETS ["hub fhir"] hub = the hub API's accept; fhir = Ocean's webhook, FHIR_SIZE bytes
#   FHIR_SIZE [10240]    webhook body size (make-bundles.py)
#   KEEP [0]             1 = keep the work directory (config, bodies, log, raw wrk output)
#
# Output: progress on stderr; a markdown report on stdout (also saved as WORK/report.md).
#
# CPU: the embedded broker's threads are the ingress process's, so "server CPU" includes the broker's (there is
# no separate broker column, unlike run-load.sh). The records check sums the topic's end offsets (kcat -Q) before
# and after each run and requires records added >= the 2xx answers the ingress counted in /metrics.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

BUILD_ARG="${1:-build/release}"
if [[ -d "$BUILD_ARG" ]]; then
  BUILD="$(cd "$BUILD_ARG" && pwd)"
elif [[ -d "$ROOT/$BUILD_ARG" ]]; then
  BUILD="$(cd "$ROOT/$BUILD_ARG" && pwd)"
else
  echo "run-hub-load: build directory '$BUILD_ARG' not found" >&2
  exit 2
fi

DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-3}"
WRK_THREADS="${WRK_THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
IO_THREADS="${IO_THREADS:-2}"
LOG_LEVEL="${LOG_LEVEL:-warn}"
TARGETS="${TARGETS:-hub fhir}"
FHIR_SIZE="${FHIR_SIZE:-10240}"
KEEP="${KEEP:-0}"

INGRESS_BIN="$BUILD/services/ingress/ocean-relay-ingress"
FIXTURE="$ROOT/tests/fixtures/ocean-fhir-v0.11.1/ereferral_back_pain.bundle.json"
HUB_PREFIX="/hub/v1"
HUB_TOPIC="relay.updates.v1"
FHIR_TOPIC="ocean.inbound.v1"
SITE="1234"
PARTITIONS=6
API_KEY="load-test-key-$RANDOM$RANDOM"
CLK_TCK="$(getconf CLK_TCK)"

log() { printf 'run-hub-load: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in wrk curl python3 kcat; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ "$(wrk --version 2>&1 || true)" == wrk* ]] || die "wrk does not run"
[[ -x "$INGRESS_BIN" ]] || die "$INGRESS_BIN not built (cmake --build $BUILD --target ocean-relay-ingress)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/relay-hub-load.XXXXXX")"
SERVER_PID=""

cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ "$KEEP" == 1 || $rc -ne 0 ]]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The same /proc accounting as run-load.sh.
cpu_ticks() {
  local stat
  stat="$(cat "/proc/$1/stat")"
  stat="${stat##*) }"
  awk '{print $12 + $13}' <<<"$stat"
}
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }
vm_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
machine_ticks() { awk '/^cpu / {idle=$5+$6; total=0; for (i=2;i<=NF;i++) total+=$i; print total-idle, total}' /proc/stat; }

# Sum of the end offsets of a topic's partitions (kcat -Q, timestamp -1 = end) = records written (idempotent
# producer, no transactions). Not a count of what can be read back: the mock cluster drops a partition's
# oldest records beyond its log size (the 10 KiB bundles reach it within seconds).
topic_records() {
  local p sum=0 end
  for ((p = 0; p < PARTITIONS; p++)); do
    end="$(kcat -Q -b "$BOOTSTRAP" -t "$1:$p:-1" 2>/dev/null | awk '/offset/ {print $NF}')"
    [[ "$end" =~ ^[0-9]+$ ]] || die "no end offset for $1 [$p]"
    sum=$((sum + end))
  done
  echo "$sum"
}

# Sum of the 2xx answers the ingress counted: hub requests or Ocean's.
metrics_2xx() {
  local family
  if [[ "$1" == hub ]]; then family=relay_ingress_hub_requests_total; else family=relay_ingress_requests_total; fi
  curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk -v f="$family" '$0 ~ "^" f "\\{" && (/code="2/ || /class="2xx"/) {s += $NF} END {printf "%d\n", s}'
}

run_wrk() {  # target seconds out_file run_tag
  local target="$1" seconds="$2" out="$3" tag="$4"
  if [[ "$target" == hub ]]; then
    wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${seconds}s" --timeout 10s --latency \
      -s "$SCRIPT_DIR/post-hub-update.lua" "http://127.0.0.1:$PUBLIC_PORT" -- "$HUB_PREFIX" "$API_KEY" "$tag" >"$out" 2>&1
  else
    wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${seconds}s" --timeout 10s --latency \
      -s "$SCRIPT_DIR/post-bundle.lua" "http://127.0.0.1:$PUBLIC_PORT/ocean/$SITE/fhir" -- "$WORK/body-$FHIR_SIZE" 16 >"$out" 2>&1
  fi
}

RESULTS=()

measure() {  # target
  local target="$1" raw="$WORK/wrk-$1.txt" topic
  if [[ "$target" == hub ]]; then topic="$HUB_TOPIC"; else topic="$FHIR_TOPIC"; fi
  if ((WARMUP > 0)); then
    log "$target: warm-up ${WARMUP}s"
    run_wrk "$target" "$WARMUP" "$WORK/wrk-$target-warmup.txt" "w$RANDOM" || true
  fi
  sleep 0.5
  local records_before m2xx_before
  records_before="$(topic_records "$topic")"
  m2xx_before="$(metrics_2xx "$target")"
  local cpu_before cs_before mbusy_before mtotal_before mbusy_after mtotal_after wrk_cpu wrk_user wrk_sys
  cpu_before="$(cpu_ticks "$SERVER_PID")"
  cs_before="$(ctx_switches "$SERVER_PID")"
  read -r mbusy_before mtotal_before < <(machine_ticks)
  log "$target: measuring ${DURATION}s (-t$WRK_THREADS -c$CONNECTIONS)"
  local TIMEFORMAT='%U %S'
  wrk_cpu="$({ time run_wrk "$target" "$DURATION" "$raw" "m$RANDOM"; } 2>&1)" || die "wrk failed: $(cat "$raw")"
  local cpu_after cs_after
  cpu_after="$(cpu_ticks "$SERVER_PID")"
  cs_after="$(ctx_switches "$SERVER_PID")"
  read -r mbusy_after mtotal_after < <(machine_ticks)
  local line
  line="$(grep '^RESULT ' "$raw")" || die "no RESULT line from wrk: $(cat "$raw")"
  sleep 1  # let requests that wrk cut off at the deadline finish
  local records_after m2xx_after
  records_after="$(topic_records "$topic")"
  m2xx_after="$(metrics_2xx "$target")"
  read -r wrk_user wrk_sys <<<"$wrk_cpu"
  RESULTS+=("target=$target ${line#RESULT } cpu_ticks=$((cpu_after - cpu_before)) ctx_switches=$((cs_after - cs_before)) rss_kb=$(vm_kb "$SERVER_PID" VmRSS) hwm_kb=$(vm_kb "$SERVER_PID" VmHWM) wrk_cpu_s=$(awk -v u="$wrk_user" -v s="$wrk_sys" 'BEGIN{print u+s}') machine_busy=$((mbusy_after - mbusy_before)) machine_total=$((mtotal_after - mtotal_before)) records=$((records_after - records_before)) metrics_2xx=$((m2xx_after - m2xx_before))")
}

# ------------------------------------------------------------------ ingress --
if [[ " $TARGETS " == *" fhir "* ]]; then
  python3 "$SCRIPT_DIR/make-bundles.py" "$FIXTURE" "$FHIR_SIZE" "$WORK/body-$FHIR_SIZE" 16
fi
PUBLIC_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
while [[ "$ADMIN_PORT" == "$PUBLIC_PORT" ]]; do ADMIN_PORT="$(free_port)"; done
cat >"$WORK/ingress.yaml" <<EOF
service:
  log_level: $LOG_LEVEL
  threads: $IO_THREADS
listeners:
  - name: public
    address: 127.0.0.1
    port: $PUBLIC_PORT
admin:
  address: 127.0.0.1
  port: $ADMIN_PORT
kafka:
  embedded: true
  partitions: $PARTITIONS
shutdown:
  grace_period: 10s
integrations:
  - site: "$SITE"
    auth:
      scheme: none
hub_api:
  systems:
    - name: load-hub
      auth:
        scheme: api_key
        key: {value: "$API_KEY"}
EOF
# warn: the embedded broker's start-up line (with its bootstrap address) is a warning.
"$INGRESS_BIN" -c "$WORK/ingress.yaml" >"$WORK/ingress.log" 2>&1 &
SERVER_PID=$!
log "ingress pid $SERVER_PID, public :$PUBLIC_PORT, admin :$ADMIN_PORT; waiting for /readyz"
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "ingress exited: $(tail -n 20 "$WORK/ingress.log")"
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || die "ingress not ready after 30 s: $(tail -n 20 "$WORK/ingress.log")"
BOOTSTRAP="$(grep -o '"bootstrap_servers":"[^"]*"' "$WORK/ingress.log" | head -n 1 | cut -d'"' -f4)"
[[ -n "$BOOTSTRAP" ]] || die "no bootstrap_servers in the ingress log: $(tail -n 5 "$WORK/ingress.log")"
log "embedded broker at $BOOTSTRAP"

# One request of each kind by hand: it must be accepted, or the load run is meaningless.
first="$(curl -sS -o "$WORK/first-hub.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -H "X-Api-Key: $API_KEY" --data '{"update_id":"first-1","import_to_emr":true}' \
  "http://127.0.0.1:$PUBLIC_PORT$HUB_PREFIX/referrals/first-ref/accept")"
[[ "$first" == 202 ]] || die "first hub request answered $first: $(cat "$WORK/first-hub.json")"
unauth="$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data '{}' \
  "http://127.0.0.1:$PUBLIC_PORT$HUB_PREFIX/referrals/first-ref/accept")"
[[ "$unauth" == 401 ]] || die "a hub request without credentials answered $unauth, not 401"
if [[ " $TARGETS " == *" fhir "* ]]; then
  first="$(curl -sS -o "$WORK/first-fhir.json" -w '%{http_code}' -H 'Content-Type: application/fhir+json' \
    --data-binary "@$WORK/body-$FHIR_SIZE-00.json" "http://127.0.0.1:$PUBLIC_PORT/ocean/$SITE/fhir")"
  [[ "$first" == 200 ]] || die "first FHIR request answered $first: $(cat "$WORK/first-fhir.json")"
fi

for target in $TARGETS; do
  measure "$target"
done
curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" >"$WORK/ingress-metrics.txt" || true
kill -TERM "$SERVER_PID"
rc=0; wait "$SERVER_PID" || rc=$?
SERVER_PID=""
((rc == 0)) || log "warning: ingress exited with $rc: $(tail -n 5 "$WORK/ingress.log")"

# ------------------------------------------------------------------ report --
python3 - "$CLK_TCK" "$FHIR_SIZE" "${RESULTS[@]}" >"$WORK/report.md" <<'EOF'
import sys

clk = int(sys.argv[1])
fhir_size = int(sys.argv[2])
runs = [dict(kv.split("=", 1) for kv in line.split()) for line in sys.argv[3:]]

print("| route | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | non-2xx | socket errors "
      "| ingress+broker CPU ms / 1k req | ingress cores | ctx switches / req | wrk cores | other cores "
      "| machine busy % | RSS MiB (end) | VmHWM MiB |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for r in runs:
    req = int(r["requests"])
    secs = int(r["duration_us"]) / 1e6
    cpu_ms = int(r["cpu_ticks"]) * 1000 / clk
    wrk_cores = float(r["wrk_cpu_s"]) / secs
    busy_cores = int(r["machine_busy"]) / clk / secs
    other = max(0.0, busy_cores - cpu_ms / 1000 / secs - wrk_cores)
    name = "hub accept" if r["target"] == "hub" else f"FHIR webhook, {fhir_size // 1024} KiB"
    sock = sum(int(r[k]) for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    print(f"| {name} | {req / secs:,.0f} | {int(r['p50_us']) / 1000:.2f} | {int(r['p90_us']) / 1000:.2f} "
          f"| {int(r['p99_us']) / 1000:.2f} | {int(r['p999_us']) / 1000:.2f} | {int(r['max_us']) / 1000:.2f} "
          f"| {r['status_errors']} | {sock} | {cpu_ms / (req / 1000):.1f} | {cpu_ms / 1000 / secs:.2f} "
          f"| {int(r['ctx_switches']) / req:.2f} | {wrk_cores:.2f} | {other:.2f} "
          f"| {100 * int(r['machine_busy']) / max(1, int(r['machine_total'])):.0f} "
          f"| {int(r['rss_kb']) / 1024:.1f} | {int(r['hwm_kb']) / 1024:.1f} |")

print()
print("| route | wrk responses | wrk 2xx (responses − status errors) | ingress metrics 2xx | records added to topic | records ≥ 2xx |")
print("|---|--:|--:|--:|--:|---|")
bad = False
for r in runs:
    wrk_2xx = int(r["requests"]) - int(r["status_errors"])
    records, m2xx = int(r["records"]), int(r["metrics_2xx"])
    ok = records >= wrk_2xx and records >= m2xx
    bad = bad or not ok
    name = "hub accept" if r["target"] == "hub" else "FHIR webhook"
    print(f"| {name} | {r['requests']} | {wrk_2xx} | {m2xx} | {records} | {'yes' if ok else '**NO**'} |")
EOF

{
  echo
  echo "Load: wrk -t$WRK_THREADS -c$CONNECTIONS, ${DURATION}s measured after ${WARMUP}s warm-up; ingress threads $IO_THREADS,"
  echo "log_level $LOG_LEVEL; kafka.embedded (in-process mock cluster, 6 partitions, acks=all); hub system auth api_key."
} >>"$WORK/report.md"
cat "$WORK/report.md"
if grep -q '\*\*NO\*\*' "$WORK/report.md"; then
  log "error: fewer records in a topic than 2xx answers"
  exit 3
fi
