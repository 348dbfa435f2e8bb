#!/usr/bin/env bash
# Delivery benchmarks (issue 5) on a real Kafka broker:
#   1. throughput: ocean-relay-delivery draining a pre-filled relay.deliveries.v1 into a fast hub system
#      (pos-sim in-process in delivery_load), with destination_queue_limit high enough that nothing is
#      deferred: deliveries/s, CPU per delivery, peak RSS;
#   2. defaults: the same backlog with the example configuration's queue settings (destination_queue_wait
#      5s, destination_queue_limit 0 = kafka.max_in_flight): a fast hub's backlog is not deferred
#      (capped at DEFAULTS_TIMEOUT s);
#   3. hop: the delivery service alone at fixed rates: records produced straight to relay.deliveries.v1
#      (linger 0), latency from the produce call to the receiver, and the delivery's CPU per record;
#   4. e2e: ingress -> router -> delivery -> receiver at fixed rates: latency from the ingress's 200 to the
#      delivery's arrival, p50 / p99 / max, loss, and CPU per referral of every process.
#
#   benchmarks/delivery/run-delivery-bench.sh [BUILD_DIR]     default build/release; builds nothing
#
# Needs: BUILD_DIR/benchmarks/delivery_load, BUILD_DIR/services/{ingress,router,delivery}/ocean-relay-*,
# curl, python3, java (+ mvn once) for tests/kafka/kafka-broker.sh.
#
# Environment (defaults in brackets):
#   PHASES ["throughput defaults hop e2e"]   which measurements to run
#   RECORDS [100000]        records pre-filled for the throughput run
#   REFERRALS [RECORDS/10]  distinct referrals (keys) they belong to
#   FORMAT [fhir-r4]        the renderer that makes the record bodies (fhir-r4: ~9.7 KB; hub-json: ~4 KB)
#   PARTITIONS [6]          partitions of every topic
#   CONCURRENCY [8]         the destination's max_concurrency (the example's default)
#   TUNED_QUEUE_LIMIT [5000]  destination_queue_limit of the throughput run (= kafka.max_in_flight: never defers)
#   DEFAULTS_RECORDS [20000], DEFAULTS_REFERRALS [2000], DEFAULTS_TIMEOUT [60]   the defaults run
#   RATES ["50 200 500"]    e2e request rates per second
#   DURATION [20]           e2e measured seconds per rate
#   WARMUP [3]              e2e unmeasured seconds per rate before it (drained before measuring)
#   DRAIN [30]              e2e: seconds to wait for the last deliveries
#   IDLE [5]                e2e: seconds without traffic before each measured run, to take the processes'
#                           idle CPU out of the CPU per referral ("marginal")
#   HOP_RATES [RATES], HOP_DURATION [10]   the hop run: the delivery service alone at fixed rates
#   QUIET_LOAD [1.0], QUIET_MAX [1200], QUIET_POLL [30]   before each measurement, wait (polling every
#                           QUIET_POLL s, at most QUIET_MAX s) until the 1-minute load average is below
#                           QUIET_LOAD; if it never is, measure anyway (the load is in the results)
#   LOG_LEVEL [warn]        log level of the relay services
#   KEEP [0]                1 = keep the work directory (configs, logs, raw RESULT lines, metrics)
#
# Output: progress on stderr; a markdown report on stdout (also WORK/report.md). Exit 3 if an e2e run lost
# a referral or got a non-200, or the throughput run did not deliver every record.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

BUILD_ARG="${1:-build/release}"
if [[ -d "$BUILD_ARG" ]]; then
  BUILD="$(cd "$BUILD_ARG" && pwd)"
elif [[ -d "$ROOT/$BUILD_ARG" ]]; then
  BUILD="$(cd "$ROOT/$BUILD_ARG" && pwd)"
else
  echo "run-delivery-bench: build directory '$BUILD_ARG' not found" >&2
  exit 2
fi

PHASES="${PHASES:-throughput defaults hop e2e}"
RECORDS="${RECORDS:-100000}"
REFERRALS="${REFERRALS:-$((RECORDS / 10))}"
FORMAT="${FORMAT:-fhir-r4}"
PARTITIONS="${PARTITIONS:-6}"
CONCURRENCY="${CONCURRENCY:-8}"
TUNED_QUEUE_LIMIT="${TUNED_QUEUE_LIMIT:-5000}"
DEFAULTS_RECORDS="${DEFAULTS_RECORDS:-20000}"
DEFAULTS_REFERRALS="${DEFAULTS_REFERRALS:-2000}"
DEFAULTS_TIMEOUT="${DEFAULTS_TIMEOUT:-60}"
RATES="${RATES:-50 200 500}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-3}"
DRAIN="${DRAIN:-30}"
IDLE="${IDLE:-5}"
HOP_RATES="${HOP_RATES:-$RATES}"
HOP_DURATION="${HOP_DURATION:-10}"
QUIET_LOAD="${QUIET_LOAD:-1.0}"
QUIET_MAX="${QUIET_MAX:-1200}"
QUIET_POLL="${QUIET_POLL:-30}"
LOG_LEVEL="${LOG_LEVEL:-warn}"
KEEP="${KEEP:-0}"

DRIVER="$BUILD/benchmarks/delivery_load"
INGRESS_BIN="$BUILD/services/ingress/ocean-relay-ingress"
ROUTER_BIN="$BUILD/services/router/ocean-relay-router"
DELIVERY_BIN="$BUILD/services/delivery/ocean-relay-delivery"
BROKER_SH="$ROOT/tests/kafka/kafka-broker.sh"
SITE="1234"
CLIENT_ID="ocean-bench"
CLIENT_SECRET="bench-secret-0123456789abcdef"

log() { printf 'run-delivery-bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in curl python3 java; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
for bin in "$DRIVER" "$INGRESS_BIN" "$ROUTER_BIN" "$DELIVERY_BIN"; do
  [[ -x "$bin" ]] || die "$bin not built (cmake --build $BUILD_ARG --target delivery_load ocean-relay-ingress ocean-relay-router ocean-relay-delivery)"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/relay-delivery-bench.XXXXXX")"
KAFKA_STATE="$WORK/kafka"
BROKER_STARTED=0
PIDS=()        # services and drivers started by this script, stopped on exit
RESULTS="$WORK/results.txt"
: >"$RESULTS"

cleanup() {
  local rc=$?
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if ((BROKER_STARTED)); then
    "$BROKER_SH" stop "$KAFKA_STATE" >/dev/null 2>&1 || true
  fi
  if [[ "$KEEP" == 1 || ($rc -ne 0 && $rc -ne 3) ]]; then
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

cpu_ticks() {  # utime+stime of all threads, clock ticks
  local stat
  stat="$(cat "/proc/$1/stat")"
  stat="${stat##*) }"
  awk '{print $12 + $13}' <<<"$stat"
}

# Waits until the 1-minute load average is below QUIET_LOAD (polling every QUIET_POLL s, at most QUIET_MAX s).
wait_quiet() {
  local waited=0 load
  load="$(cut -d' ' -f1 /proc/loadavg)"
  while awk -v l="$load" -v q="$QUIET_LOAD" 'BEGIN {exit !(l >= q)}' && ((waited < QUIET_MAX)); do
    log "load average $load >= $QUIET_LOAD: waiting ${QUIET_POLL}s for a quiet machine"
    sleep "$QUIET_POLL"
    waited=$((waited + QUIET_POLL))
    load="$(cut -d' ' -f1 /proc/loadavg)"
  done
  if awk -v l="$load" -v q="$QUIET_LOAD" 'BEGIN {exit !(l >= q)}'; then
    log "still busy (load $load) after ${QUIET_MAX}s: measuring anyway"
  fi
}

# wait_ready NAME PID ADMIN_PORT LOG: /readyz answers 200 (60 s at most).
wait_ready() {
  local name="$1" pid="$2" port="$3" logf="$4"
  for _ in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || die "$name exited: $(tail -n 20 "$logf")"
    sleep 0.1
  done
  die "$name not ready after 60 s: $(tail -n 20 "$logf")"
}

# start_driver OUT ARGS...: runs delivery_load in the background, waits for its "READY <port>" line.
# Sets DRIVER_PID and DRIVER_PORT.
start_driver() {
  local out="$1"; shift
  "$DRIVER" "$@" >"$out" 2>"$out.err" &
  DRIVER_PID=$!
  PIDS+=("$DRIVER_PID")
  DRIVER_PORT=""
  for _ in $(seq 1 600); do
    DRIVER_PORT="$(awk '/^READY / {print $2}' "$out")"
    [[ -n "$DRIVER_PORT" ]] && return 0
    kill -0 "$DRIVER_PID" 2>/dev/null || die "delivery_load exited: $(cat "$out.err")"
    sleep 0.1
  done
  die "delivery_load printed no READY line"
}

stop_pid() {  # SIGTERM and wait; the exit code is not ours to judge here
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Delivery YAML: delivery_yaml PREFIX ADMIN_PORT RECEIVER_PORT QUEUE_LIMIT
delivery_yaml() {
  cat <<EOF
service: {log_level: $LOG_LEVEL, destination_queue_limit: $4}
admin: {address: 127.0.0.1, port: $2}
kafka:
  bootstrap_servers: "$BOOTSTRAP"
  group_id: ${1}delivery
  tier_group_id: ${1}delivery-tiers
  partitions: $PARTITIONS
  replication_factor: 1
topics: {prefix: "$1"}
destinations:
  - id: hub
    url: http://127.0.0.1:$3/hub
    max_concurrency: $CONCURRENCY
EOF
}

metric_sum() {  # metric_sum FILE REGEX: sum of the samples of matching lines
  awk -v re="$2" '$0 ~ re && $0 !~ /^#/ {s += $NF} END {printf "%d\n", s}' "$1"
}

# backlog_run NAME RECORDS REFERRALS QUEUE_LIMIT TIMEOUT: pre-fill, then drain it with a fresh delivery process.
backlog_run() {
  local name="$1" records="$2" referrals="$3" limit="$4" timeout="$5"
  local prefix="bench.$name.$$." dir="$WORK/$name"
  mkdir -p "$dir"
  log "$name: pre-filling ${prefix}relay.deliveries.v1 with $records records ($referrals referrals, $FORMAT)"
  "$DRIVER" prefill --bootstrap "$BOOTSTRAP" --topic "${prefix}relay.deliveries.v1" --partitions "$PARTITIONS" \
    --records "$records" --referrals "$referrals" --format "$FORMAT" >"$dir/prefill.out" 2>"$dir/prefill.err" \
    || die "prefill failed: $(cat "$dir/prefill.err")"
  start_driver "$dir/receive.out" receive --port 0 --expect "$records" --pids-file "$dir/pids" --timeout "$timeout"
  local admin; admin="$(free_port)"
  delivery_yaml "$prefix" "$admin" "$DRIVER_PORT" "$limit" >"$dir/delivery.yaml"
  wait_quiet
  log "$name: starting ocean-relay-delivery (destination_queue_limit $limit, max_concurrency $CONCURRENCY)"
  "$DELIVERY_BIN" -c "$dir/delivery.yaml" >"$dir/delivery.log" 2>&1 &
  local dpid=$!
  PIDS+=("$dpid")
  printf 'delivery %s\nbroker %s\n' "$dpid" "$(cat "$KAFKA_STATE/broker.pid")" >"$dir/pids.tmp"
  mv "$dir/pids.tmp" "$dir/pids"
  local rc=0
  wait "$DRIVER_PID" || rc=$?
  ((rc == 0 || rc == 3)) || die "delivery_load receive failed ($rc): $(cat "$dir/receive.out.err")"
  kill -0 "$dpid" 2>/dev/null || die "ocean-relay-delivery exited: $(tail -n 20 "$dir/delivery.log")"
  sleep 1  # the last outcome events
  curl -fsS "http://127.0.0.1:$admin/metrics" >"$dir/metrics.txt" || true
  local total_ticks; total_ticks="$(cpu_ticks "$dpid")"
  stop_pid "$dpid"
  local line; line="$(grep '^RESULT ' "$dir/receive.out")" || die "no RESULT from delivery_load: $(cat "$dir/receive.out.err")"
  {
    printf '%s run=%s queue_limit=%s concurrency=%s timeout=%s delivery_total_cpu_ms=%s' "$line" "$name" "$limit" \
      "$CONCURRENCY" "$timeout" "$((total_ticks * 1000 / $(getconf CLK_TCK)))"
    printf ' m_delivered=%s m_deferred=%s m_retry=%s m_dead=%s m_tier_forwarded=%s m_parked_keys=%s' \
      "$(metric_sum "$dir/metrics.txt" 'relay_delivery_outcomes_total.*outcome="delivered"')" \
      "$(metric_sum "$dir/metrics.txt" 'relay_delivery_outcomes_total.*outcome="deferred"')" \
      "$(metric_sum "$dir/metrics.txt" 'relay_delivery_outcomes_total.*outcome="retry"')" \
      "$(metric_sum "$dir/metrics.txt" 'relay_delivery_outcomes_total.*outcome="dead-letter"')" \
      "$(metric_sum "$dir/metrics.txt" '^relay_delivery_tier_forwarded_total')" \
      "$(metric_sum "$dir/metrics.txt" '^relay_delivery_parked_keys')"
    printf ' %s\n' "$(sed -n 's/^RESULT //p' "$dir/prefill.out")"
  } >>"$RESULTS"
  log "$name: $(grep -o 'rate=[0-9.]*' <<<"$line") deliveries/s, $(grep -o 'cpu_us_per_item.delivery=[0-9.]*' <<<"$line") µs"
}

# ------------------------------------------------------------------ broker --
log "starting Kafka broker in $KAFKA_STATE"
BROKER_STARTED=1
BOOTSTRAP="$("$BROKER_SH" start "$KAFKA_STATE")"
log "broker at $BOOTSTRAP"

# -------------------------------------------------------------- throughput --
if [[ " $PHASES " == *" throughput "* ]]; then
  backlog_run throughput "$RECORDS" "$REFERRALS" "$TUNED_QUEUE_LIMIT" 300
fi
if [[ " $PHASES " == *" defaults "* ]]; then
  backlog_run defaults "$DEFAULTS_RECORDS" "$DEFAULTS_REFERRALS" 0 "$DEFAULTS_TIMEOUT"
fi

# --------------------------------------------------------------------- hop --
if [[ " $PHASES " == *" hop "* ]]; then
  dir="$WORK/hop"
  mkdir -p "$dir"
  prefix="bench.hop.$$."
  start_driver "$dir/hop.out" hop --bootstrap "$BOOTSTRAP" --topic "${prefix}relay.deliveries.v1" \
    --partitions "$PARTITIONS" --format "$FORMAT" --port 0 --pids-file "$dir/pids" \
    --rates "$(tr ' ' ',' <<<"$HOP_RATES")" --duration "$HOP_DURATION" --warmup "$WARMUP" --drain "$DRAIN" \
    --idle "$IDLE" --quiet-load "$QUIET_LOAD" --quiet-max "$QUIET_MAX" --quiet-poll "$QUIET_POLL"
  hop_driver=$DRIVER_PID
  admin="$(free_port)"
  delivery_yaml "$prefix" "$admin" "$DRIVER_PORT" 200 >"$dir/delivery.yaml"
  "$DELIVERY_BIN" -c "$dir/delivery.yaml" >"$dir/delivery.log" 2>&1 &
  delivery_pid=$!; PIDS+=("$delivery_pid")
  wait_ready delivery "$delivery_pid" "$admin" "$dir/delivery.log"
  printf 'delivery %s\nbroker %s\n' "$delivery_pid" "$(cat "$KAFKA_STATE/broker.pid")" >"$dir/pids.tmp"
  mv "$dir/pids.tmp" "$dir/pids"
  log "hop: delivery and the receiver :$DRIVER_PORT up; rates $HOP_RATES/s"
  rc=0
  wait "$hop_driver" || rc=$?
  ((rc == 0 || rc == 3)) || die "delivery_load hop failed ($rc): $(tail -n 5 "$dir/hop.out.err")"
  curl -fsS "http://127.0.0.1:$admin/metrics" >"$dir/delivery-metrics.txt" || true
  stop_pid "$delivery_pid"
  grep '^RESULT ' "$dir/hop.out" >>"$RESULTS" || true
fi

# --------------------------------------------------------------------- e2e --
if [[ " $PHASES " == *" e2e "* ]]; then
  dir="$WORK/e2e"
  mkdir -p "$dir"
  prefix="bench.e2e.$$."
  ingress_port="$(free_port)"
  ingress_admin="$(free_port)"
  router_admin="$(free_port)"
  delivery_admin="$(free_port)"
  start_driver "$dir/e2e.out" e2e --port 0 --ingress-port "$ingress_port" --client-id "$CLIENT_ID" \
    --client-secret "$CLIENT_SECRET" --pids-file "$dir/pids" --rates "$(tr ' ' ',' <<<"$RATES")" \
    --duration "$DURATION" --warmup "$WARMUP" --drain "$DRAIN" --idle "$IDLE" \
    --quiet-load "$QUIET_LOAD" --quiet-max "$QUIET_MAX" --quiet-poll "$QUIET_POLL"
  e2e_driver=$DRIVER_PID
  cat >"$dir/ingress.yaml" <<EOF
service: {log_level: $LOG_LEVEL, threads: 2}
listeners:
  - {name: public, address: 127.0.0.1, port: $ingress_port}
admin: {address: 127.0.0.1, port: $ingress_admin}
kafka:
  bootstrap_servers: "$BOOTSTRAP"
  partitions: $PARTITIONS
  replication_factor: 1
topics: {prefix: "$prefix"}
auth:
  token_signing_key: {value: "bench-signing-key-0123456789abcdef0123"}
integrations:
  - site: "$SITE"
    auth:
      scheme: oauth2
      clients:
        - {client_id: $CLIENT_ID, client_secret: {value: "$CLIENT_SECRET"}}
EOF
  cat >"$dir/router.yaml" <<EOF
service: {log_level: $LOG_LEVEL}
admin: {address: 127.0.0.1, port: $router_admin}
kafka:
  bootstrap_servers: "$BOOTSTRAP"
  group_id: ${prefix}router
  partitions: $PARTITIONS
  replication_factor: 1
topics: {prefix: "$prefix"}
destinations:
  - {id: hub, format: $FORMAT}
routes:
  - {site: "$SITE", destinations: [hub]}
EOF
  # The example's defaults (destination_queue_limit 0 = kafka.max_in_flight, destination_queue_wait 5s).
  delivery_yaml "$prefix" "$delivery_admin" "$DRIVER_PORT" 0 >"$dir/delivery.yaml"
  # The ingress creates the inbound topic; the router the rest of its own; the delivery its own.
  "$INGRESS_BIN" -c "$dir/ingress.yaml" >"$dir/ingress.log" 2>&1 &
  ingress_pid=$!; PIDS+=("$ingress_pid")
  wait_ready ingress "$ingress_pid" "$ingress_admin" "$dir/ingress.log"
  "$ROUTER_BIN" -c "$dir/router.yaml" >"$dir/router.log" 2>&1 &
  router_pid=$!; PIDS+=("$router_pid")
  wait_ready router "$router_pid" "$router_admin" "$dir/router.log"
  "$DELIVERY_BIN" -c "$dir/delivery.yaml" >"$dir/delivery.log" 2>&1 &
  delivery_pid=$!; PIDS+=("$delivery_pid")
  wait_ready delivery "$delivery_pid" "$delivery_admin" "$dir/delivery.log"
  printf 'ingress %s\nrouter %s\ndelivery %s\nbroker %s\n' "$ingress_pid" "$router_pid" "$delivery_pid" \
    "$(cat "$KAFKA_STATE/broker.pid")" >"$dir/pids.tmp"
  mv "$dir/pids.tmp" "$dir/pids"
  log "e2e: ingress :$ingress_port, router, delivery and the receiver :$DRIVER_PORT up; rates $RATES/s"
  rc=0
  wait "$e2e_driver" || rc=$?
  ((rc == 0 || rc == 3)) || die "delivery_load e2e failed ($rc): $(tail -n 5 "$dir/e2e.out.err")"
  for svc in ingress:$ingress_admin router:$router_admin delivery:$delivery_admin; do
    curl -fsS "http://127.0.0.1:${svc#*:}/metrics" >"$dir/${svc%%:*}-metrics.txt" || true
  done
  for pid in "$delivery_pid" "$router_pid" "$ingress_pid"; do stop_pid "$pid"; done
  grep '^RESULT ' "$dir/e2e.out" | sed "s/\$/ m_deferred=$(metric_sum "$dir/delivery-metrics.txt" 'relay_delivery_outcomes_total.*outcome="deferred"')/" >>"$RESULTS" || true
fi

"$BROKER_SH" stop "$KAFKA_STATE" >/dev/null 2>&1 || true
BROKER_STARTED=0

# ------------------------------------------------------------------ report --
python3 - "$RESULTS" >"$WORK/report.md" <<'EOF'
import sys

rows = []
for line in open(sys.argv[1]):
    parts = line.split()
    if not parts or parts[0] != "RESULT":
        continue
    d = {}
    for kv in parts[1:]:
        if "=" in kv:
            k, v = kv.split("=", 1)
            d.setdefault(k, v)  # the first mode= wins (the prefill's is appended after)
    rows.append(d)

def f(d, k, fmt="{:,.0f}", scale=1.0):
    v = d.get(k)
    if v is None or v == "":
        return "–"
    try:
        return fmt.format(float(v) * scale)
    except ValueError:
        return v

backlog = [r for r in rows if r.get("mode") == "throughput"]
if backlog:
    print("### Draining a backlog of relay.deliveries.v1 into a fast receiver\n")
    print("| run | destination_queue_limit | records (referrals) | body B (mean) | delivered | deliveries/s | first → last s "
          "| delivery CPU µs / delivery | delivery cores | broker CPU µs / delivery | receiver cores | other cores "
          "| delivery VmHWM MiB | start → first s | deferred | tier forwards | parked keys (end) | duplicates | load1 start |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in backlog:
        print(f"| {r['run']} | {r['queue_limit']} | {int(r['expected']):,} ({int(r['referrals']):,}) | {f(r, 'body_mean')} "
              f"| {int(r['unique']):,}{'' if r['complete'] == '1' else ' (cut off)'} | {f(r, 'rate')} | {f(r, 'seconds', '{:.2f}')} "
              f"| {f(r, 'cpu_us_per_item.delivery', '{:,.1f}')} | {f(r, 'cores.delivery', '{:.2f}')} "
              f"| {f(r, 'cpu_us_per_item.broker', '{:,.1f}')} | {f(r, 'cores.driver', '{:.2f}')} | {f(r, 'other_cores', '{:.2f}')} "
              f"| {f(r, 'hwm_kb.delivery', '{:.0f}', 1 / 1024)} | {f(r, 'start_to_first_s', '{:.1f}')} | {f(r, 'm_deferred')} "
              f"| {f(r, 'm_tier_forwarded')} | {f(r, 'm_parked_keys')} | {r['duplicates']} | {f(r, 'load1_start', '{:.2f}')} |")
    print()
    for r in backlog:
        ps = [int(x) for x in r.get("per_second", "").split(",") if x]
        if len(ps) > 1:
            print(f"{r['run']}: distinct deliveries per second from the first: {', '.join(map(str, ps[:40]))}"
                  f"{' …' if len(ps) > 40 else ''}\n")

hop = [r for r in rows if r.get("mode") == "hop"]
if hop:
    print("### The delivery service alone: produced to relay.deliveries.v1 (linger 0) → delivered to the receiver\n")
    print("| rate /s | sent | delivered | lost | duplicates | from produce call: p50 ms | p90 ms | p99 ms | max ms "
          "| broker ack p50 / p99 ms | from ack: p50 / p99 ms | delivery CPU µs / record | above idle | delivery idle cores "
          "| broker CPU µs / record | other cores | load1 start |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in hop:
        print(f"| {f(r, 'rate')} | {r['sent']} | {r['delivered']} | {r['lost']} | {r['duplicates']} | {f(r, 'call_p50_ms', '{:.1f}')} "
              f"| {f(r, 'call_p90_ms', '{:.1f}')} | {f(r, 'call_p99_ms', '{:.1f}')} | {f(r, 'call_max_ms', '{:.1f}')} "
              f"| {f(r, 'ack_p50_ms', '{:.2f}')} / {f(r, 'ack_p99_ms', '{:.2f}')} | {f(r, 'fromack_p50_ms', '{:.1f}')} / {f(r, 'fromack_p99_ms', '{:.1f}')} "
              f"| {f(r, 'cpu_us_per_item.delivery', '{:,.0f}')} | {f(r, 'marginal_us_per_item.delivery', '{:,.0f}')} "
              f"| {f(r, 'idle_cores.delivery', '{:.3f}')} | {f(r, 'cpu_us_per_item.broker', '{:,.0f}')} "
              f"| {f(r, 'other_cores', '{:.2f}')} | {f(r, 'load1_start', '{:.2f}')} |")
    print()

e2e = [r for r in rows if r.get("mode") == "e2e"]
if e2e:
    print("### End to end: ingress 200 → delivered to the receiver\n")
    print("| rate /s | achieved /s | sent | accepted | delivered | lost | duplicates | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms "
          "| ingress answer p50 / p99 ms | CPU µs / referral: ingress · router · delivery · broker "
          "| the same above idle (marginal) | idle cores: ingress · router · delivery · broker | receiver cores | other cores | load1 start |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    procs = ("ingress", "router", "delivery", "broker")
    for r in e2e:
        cpu = " · ".join(f(r, f"cpu_us_per_item.{p}", "{:,.0f}") for p in procs)
        marginal = " · ".join(f(r, f"marginal_us_per_item.{p}", "{:,.0f}") for p in procs)
        idle = " · ".join(f(r, f"idle_cores.{p}", "{:.3f}") for p in procs)
        print(f"| {f(r, 'rate')} | {f(r, 'achieved_rate', '{:.1f}')} | {r['sent']} | {r['accepted']} | {r['delivered']} | {r['lost']} "
              f"| {r['duplicates']} | {f(r, 'lat_p50_ms', '{:.1f}')} | {f(r, 'lat_p90_ms', '{:.1f}')} | {f(r, 'lat_p99_ms', '{:.1f}')} "
              f"| {f(r, 'lat_p999_ms', '{:.1f}')} | {f(r, 'lat_max_ms', '{:.1f}')} "
              f"| {f(r, 'resp_p50_ms', '{:.2f}')} / {f(r, 'resp_p99_ms', '{:.2f}')} | {cpu} | {marginal} | {idle} "
              f"| {f(r, 'cores.driver', '{:.2f}')} | {f(r, 'other_cores', '{:.2f}')} | {f(r, 'load1_start', '{:.2f}')} |")
EOF
cat "$WORK/report.md"
cp "$RESULTS" "$WORK/results.txt.done" 2>/dev/null || true
status=0
if grep -q '^RESULT mode=throughput complete=0.*run=throughput ' "$RESULTS"; then status=3; fi
if grep '^RESULT mode=e2e' "$RESULTS" | grep -qv ' lost=0 '; then status=3; fi
if grep '^RESULT mode=e2e' "$RESULTS" | grep -qv ' refused=0 '; then status=3; fi
if grep '^RESULT mode=hop' "$RESULTS" | grep -qv ' lost=0 '; then status=3; fi
if [[ "$KEEP" == 1 ]]; then log "raw results: $RESULTS"; fi
exit $status
