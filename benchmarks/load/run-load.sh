#!/usr/bin/env bash
# Load harness: the ingress end to end (HTTP -> extract -> Kafka ack -> 200) against a real Kafka broker,
# then the same load against bare_beast_server (the machine's HTTP ceiling), and a comparison.
#
#   benchmarks/load/run-load.sh [BUILD_DIR]          default build/release; builds nothing
#
# Needs: BUILD_DIR/services/ingress/ocean-relay-ingress, BUILD_DIR/benchmarks/bare_beast_server, wrk, curl,
# python3, java (+ mvn once) for tests/kafka/kafka-broker.sh.
#
# Environment (defaults in brackets):
#   DURATION [20]        seconds of measured load per run
#   WARMUP [3]           seconds of unmeasured load before each run (0 = none)
#   WRK_THREADS [2]      wrk threads
#   CONNECTIONS [32]     wrk connections (keep-alive)
#   SIZES ["10240 102400"]  body sizes in bytes
#   VARIANTS [16]        distinct bundles (referral refs) per size, cycled by wrk
#   FIXTURE [tests/fixtures/ocean-fhir-v0.11.1/ereferral_back_pain.bundle.json]
#   IO_THREADS [2]       ingress service.threads and bare_beast_server --threads
#   LOG_LEVEL [warn]     ingress service.log_level (info = one JSON line per accepted request)
#   STRICT_JSON [true]   ingress fhir.strict_json
#   TARGETS ["ingress bare"]  which servers to load
#   KEEP [0]             1 = keep the work directory (configs, bodies, logs, raw wrk output)
#
# Output: progress on stderr; a markdown report on stdout (also saved as WORK/report.md).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

BUILD_ARG="${1:-build/release}"
if [[ -d "$BUILD_ARG" ]]; then
  BUILD="$(cd "$BUILD_ARG" && pwd)"
elif [[ -d "$ROOT/$BUILD_ARG" ]]; then
  BUILD="$(cd "$ROOT/$BUILD_ARG" && pwd)"
else
  echo "run-load: build directory '$BUILD_ARG' not found" >&2
  exit 2
fi

DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-3}"
WRK_THREADS="${WRK_THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
SIZES="${SIZES:-10240 102400}"
VARIANTS="${VARIANTS:-16}"
FIXTURE="${FIXTURE:-$ROOT/tests/fixtures/ocean-fhir-v0.11.1/ereferral_back_pain.bundle.json}"
IO_THREADS="${IO_THREADS:-2}"
LOG_LEVEL="${LOG_LEVEL:-warn}"
STRICT_JSON="${STRICT_JSON:-true}"
TARGETS="${TARGETS:-ingress bare}"
KEEP="${KEEP:-0}"

INGRESS_BIN="$BUILD/services/ingress/ocean-relay-ingress"
BARE_BIN="$BUILD/benchmarks/bare_beast_server"
BROKER_SH="$ROOT/tests/kafka/kafka-broker.sh"
TOPIC="ocean.inbound.v1"
SITE="1234"
CLK_TCK="$(getconf CLK_TCK)"

log() { printf 'run-load: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in wrk curl python3 java; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
# wrk --version prints its banner and exits 1.
[[ "$(wrk --version 2>&1 || true)" == wrk* ]] || die "wrk does not run"
[[ " $TARGETS " == *" ingress "* ]] && { [[ -x "$INGRESS_BIN" ]] || die "$INGRESS_BIN not built (cmake --build $BUILD --target ocean-relay-ingress)"; }
[[ " $TARGETS " == *" bare "* ]] && { [[ -x "$BARE_BIN" ]] || die "$BARE_BIN not built (cmake --build $BUILD --target bare_beast_server)"; }
[[ -f "$FIXTURE" ]] || die "fixture $FIXTURE not found"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/relay-load.XXXXXX")"
KAFKA_STATE="$WORK/kafka"
SERVER_PID=""
BROKER_STARTED=0

cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if ((BROKER_STARTED)); then
    "$BROKER_SH" stop "$KAFKA_STATE" >/dev/null 2>&1 || true
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

# utime+stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat, after the "(comm)").
cpu_ticks() {
  local stat
  stat="$(cat "/proc/$1/stat")"
  stat="${stat##*) }"
  awk '{print $12 + $13}' <<<"$stat"
}

# Voluntary + involuntary context switches of all threads of a process.
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }

# kB value of a /proc/PID/status field (VmRSS, VmHWM).
vm_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# Machine-wide busy and total jiffies (all CPUs) from /proc/stat.
machine_ticks() { awk '/^cpu / {idle=$5+$6; total=0; for (i=2;i<=NF;i++) total+=$i; print total-idle, total}' /proc/stat; }

human_size() {
  local b=$1
  if ((b % 1048576 == 0)); then echo "$((b / 1048576)) MiB"
  elif ((b % 1024 == 0)); then echo "$((b / 1024)) KiB"
  else echo "$b B"; fi
}

# Sum of the end offsets of all partitions of the inbound topic = records written (idempotent producer,
# no transactions: one offset per record).
topic_records() {
  local out
  out="$(java -Xms32m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$("$BROKER_SH" classpath)" \
      org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC" 2>/dev/null)" || {
    log "GetOffsetShell failed; counting with kcat"
    kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -e -q -f '.\n' 2>/dev/null | wc -l
    return
  }
  awk -F: '{s += $NF} END {print s + 0}' <<<"$out"
}

# Sum of relay_ingress_requests_total samples whose code label starts with 2.
metrics_2xx() {
  curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '/^relay_ingress_requests_total\{/ && /code="2/ {s += $NF} END {printf "%d\n", s}'
}

run_wrk() {  # url body_prefix seconds out_file
  local url="$1" prefix="$2" seconds="$3" out="$4"
  wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${seconds}s" --timeout 10s --latency \
    -s "$SCRIPT_DIR/post-bundle.lua" "$url" -- "$prefix" "$VARIANTS" >"$out" 2>&1
}

RESULTS=()      # one line per run: target size key=value...
KAFKA_CHECKS=() # one line per ingress run

# measure TARGET PID URL SIZE: warm-up, then a measured wrk run with CPU/RSS accounting.
measure() {
  local target="$1" pid="$2" url="$3" size="$4"
  local prefix="$WORK/body-$size" raw="$WORK/wrk-$target-$size.txt"
  if ((WARMUP > 0)); then
    log "$target $(human_size "$size"): warm-up ${WARMUP}s"
    run_wrk "$url" "$prefix" "$WARMUP" "$WORK/wrk-$target-$size-warmup.txt" || true
  fi
  local records_before=0 m2xx_before=0 broker_pid="" broker_before=0
  if [[ "$target" == ingress ]]; then
    sleep 0.5
    records_before="$(topic_records)"
    m2xx_before="$(metrics_2xx)"
    broker_pid="$(cat "$KAFKA_STATE/broker.pid")"
    broker_before="$(cpu_ticks "$broker_pid")"
  fi
  local cpu_before rss_before wrk_cpu mbusy_before mtotal_before mbusy_after mtotal_after wrk_user wrk_sys cs_before
  cpu_before="$(cpu_ticks "$pid")"
  cs_before="$(ctx_switches "$pid")"
  rss_before="$(vm_kb "$pid" VmRSS)"
  read -r mbusy_before mtotal_before < <(machine_ticks)
  log "$target $(human_size "$size"): measuring ${DURATION}s (-t$WRK_THREADS -c$CONNECTIONS)"
  local TIMEFORMAT='%U %S'
  wrk_cpu="$({ time run_wrk "$url" "$prefix" "$DURATION" "$raw"; } 2>&1)" || die "wrk failed: $(cat "$raw")"
  local cpu_after rss_after hwm
  cpu_after="$(cpu_ticks "$pid")"
  local cs_after; cs_after="$(ctx_switches "$pid")"
  read -r mbusy_after mtotal_after < <(machine_ticks)
  rss_after="$(vm_kb "$pid" VmRSS)"
  hwm="$(vm_kb "$pid" VmHWM)"
  local line
  line="$(grep '^RESULT ' "$raw")" || die "no RESULT line from wrk: $(cat "$raw")"
  local broker_ticks=""
  if [[ "$target" == ingress ]]; then
    broker_ticks=$(($(cpu_ticks "$broker_pid") - broker_before))
    sleep 1  # let requests that wrk cut off at the deadline finish
    local records_after m2xx_after
    records_after="$(topic_records)"
    m2xx_after="$(metrics_2xx)"
    KAFKA_CHECKS+=("size=$size ${line#RESULT } records=$((records_after - records_before)) metrics_2xx=$((m2xx_after - m2xx_before))")
  fi
  read -r wrk_user wrk_sys <<<"$wrk_cpu"
  RESULTS+=("target=$target size=$size ${line#RESULT } cpu_ticks=$((cpu_after - cpu_before)) ctx_switches=$((cs_after - cs_before)) rss_before_kb=$rss_before rss_kb=$rss_after hwm_kb=$hwm broker_ticks=$broker_ticks wrk_cpu_s=$(awk -v u="$wrk_user" -v s="$wrk_sys" 'BEGIN{print u+s}') machine_busy=$((mbusy_after - mbusy_before)) machine_total=$((mtotal_after - mtotal_before))")
}

# ------------------------------------------------------------------ bodies --
for size in $SIZES; do
  python3 "$SCRIPT_DIR/make-bundles.py" "$FIXTURE" "$size" "$WORK/body-$size" "$VARIANTS"
done
log "bodies: $(for s in $SIZES; do printf '%s ' "$(human_size "$s")"; done)x $VARIANTS variants from $(basename "$FIXTURE")"

# ----------------------------------------------------------------- ingress --
if [[ " $TARGETS " == *" ingress "* ]]; then
  log "starting Kafka broker in $KAFKA_STATE"
  BROKER_STARTED=1
  BOOTSTRAP="$("$BROKER_SH" start "$KAFKA_STATE")"
  log "broker at $BOOTSTRAP"

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
  bootstrap_servers: "$BOOTSTRAP"
  partitions: 6
  replication_factor: 1
fhir:
  strict_json: $STRICT_JSON
shutdown:
  grace_period: 10s
integrations:
  - site: "$SITE"
    auth:
      scheme: none
EOF
  "$INGRESS_BIN" -c "$WORK/ingress.yaml" >"$WORK/ingress.log" 2>&1 &
  SERVER_PID=$!
  log "ingress pid $SERVER_PID, public :$PUBLIC_PORT, admin :$ADMIN_PORT; waiting for /readyz"
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "ingress exited: $(tail -n 20 "$WORK/ingress.log")"
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || die "ingress not ready after 30 s: $(tail -n 20 "$WORK/ingress.log")"
  # One request by hand: it must be accepted, or the load run is meaningless.
  first="$(curl -sS -o "$WORK/first-response.json" -w '%{http_code}' -H 'Content-Type: application/fhir+json' \
    --data-binary "@$WORK/body-${SIZES%% *}-00.json" "http://127.0.0.1:$PUBLIC_PORT/ocean/$SITE/fhir")"
  [[ "$first" == 200 ]] || die "first request answered $first: $(cat "$WORK/first-response.json")"

  for size in $SIZES; do
    measure ingress "$SERVER_PID" "http://127.0.0.1:$PUBLIC_PORT/ocean/$SITE/fhir" "$size"
  done
  curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" >"$WORK/ingress-metrics.txt" || true
  kill -TERM "$SERVER_PID"
  rc=0; wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  ((rc == 0)) || log "warning: ingress exited with $rc: $(tail -n 5 "$WORK/ingress.log")"
  # The ceiling runs with nothing else on the machine.
  "$BROKER_SH" stop "$KAFKA_STATE" >/dev/null 2>&1 || true
  BROKER_STARTED=0
fi

# -------------------------------------------------------------------- bare --
if [[ " $TARGETS " == *" bare "* ]]; then
  "$BARE_BIN" 0 --threads "$IO_THREADS" >"$WORK/bare.out" 2>&1 &
  SERVER_PID=$!
  BARE_PORT=""
  for _ in $(seq 1 100); do
    BARE_PORT="$(awk '/^port / {print $2}' "$WORK/bare.out")"
    [[ -n "$BARE_PORT" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "bare_beast_server exited: $(cat "$WORK/bare.out")"
    sleep 0.1
  done
  [[ -n "$BARE_PORT" ]] || die "bare_beast_server printed no port"
  log "bare_beast_server pid $SERVER_PID on :$BARE_PORT"
  for size in $SIZES; do
    measure bare "$SERVER_PID" "http://127.0.0.1:$BARE_PORT/ocean/$SITE/fhir" "$size"
  done
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
fi

# ------------------------------------------------------------------ report --
python3 - "$CLK_TCK" "${RESULTS[@]}" -- "${KAFKA_CHECKS[@]}" >"$WORK/report.md" <<'EOF'
import sys

clk = int(sys.argv[1])
args = sys.argv[2:]
sep = args.index("--")
runs = [dict(kv.split("=", 1) for kv in line.split()) for line in args[:sep]]
checks = [dict(kv.split("=", 1) for kv in line.split()) for line in args[sep + 1:]]

def size_name(b):
    b = int(b)
    return f"{b // 1048576} MiB" if b % 1048576 == 0 else f"{b // 1024} KiB" if b % 1024 == 0 else f"{b} B"

def derived(r):
    req = int(r["requests"])
    secs = int(r["duration_us"]) / 1e6
    cpu_ms = int(r["cpu_ticks"]) * 1000 / clk
    broker_ms = int(r["broker_ticks"]) * 1000 / clk if r.get("broker_ticks") else None
    busy_cores = int(r["machine_busy"]) / clk / secs
    wrk_cores = float(r["wrk_cpu_s"]) / secs
    return {
        "rps": req / secs,
        "mbps": req * int(r["size"]) / secs / 1e6,
        "p50": int(r["p50_us"]) / 1000, "p99": int(r["p99_us"]) / 1000, "p999": int(r["p999_us"]) / 1000,
        "non2xx": int(r["status_errors"]),
        "socket_errors": sum(int(r[k]) for k in ("connect_errors", "read_errors", "write_errors", "timeouts")),
        "cpu_per_1k": cpu_ms / (req / 1000) if req else float("nan"),
        "cpu_cores": cpu_ms / 1000 / secs,
        "cs_per_req": int(r["ctx_switches"]) / req if req else float("nan"),
        "broker_per_1k": broker_ms / (req / 1000) if broker_ms is not None and req else None,
        "wrk_cores": wrk_cores,
        "other_cores": busy_cores - cpu_ms / 1000 / secs - (broker_ms or 0) / 1000 / secs - wrk_cores,
        "busy": 100 * int(r["machine_busy"]) / max(1, int(r["machine_total"])),
        "rss": int(r["rss_kb"]) / 1024, "hwm": int(r["hwm_kb"]) / 1024,
    }

print("| server | body | req/s | MB/s | p50 ms | p99 ms | p99.9 ms | non-2xx | socket errors "
      "| server CPU ms / 1k req | server cores | ctx switches / req | broker CPU ms / 1k req "
      "| wrk cores | other cores | machine busy % | RSS MiB (end) | VmHWM MiB |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
table = {}
for r in runs:
    d = derived(r)
    table[(r["target"], r["size"])] = d
    broker = f"{d['broker_per_1k']:.1f}" if d["broker_per_1k"] is not None else "–"
    print(f"| {r['target']} | {size_name(r['size'])} | {d['rps']:,.0f} | {d['mbps']:,.0f} | {d['p50']:.2f} | {d['p99']:.2f} "
          f"| {d['p999']:.2f} | {d['non2xx']} | {d['socket_errors']} | {d['cpu_per_1k']:.1f} | {d['cpu_cores']:.2f} "
          f"| {d['cs_per_req']:.2f} | {broker} | {d['wrk_cores']:.2f} | {max(0.0, d['other_cores']):.2f} | {d['busy']:.0f} "
          f"| {d['rss']:.1f} | {d['hwm']:.1f} |")

sizes = sorted({r["size"] for r in runs}, key=int)
ratios = []
for s in sizes:
    i, b = table.get(("ingress", s)), table.get(("bare", s))
    if i and b:
        ratios.append(f"| {size_name(s)} | {i['cpu_per_1k'] / b['cpu_per_1k']:.1f}× | {b['rps'] / i['rps']:.1f}× | "
                      f"{i['p99'] / b['p99']:.1f}× |")
if ratios:
    print()
    print("| body | CPU per request, ingress / bare | req/s, bare / ingress | p99, ingress / bare |")
    print("|---|--:|--:|--:|")
    print("\n".join(ratios))

if checks:
    print()
    print("| body | wrk responses | wrk 2xx (responses − status errors) | ingress metrics 2xx | records added to topic | records ≥ 2xx |")
    print("|---|--:|--:|--:|--:|---|")
    for c in checks:
        wrk_2xx = int(c["requests"]) - int(c["status_errors"])
        records, m2xx = int(c["records"]), int(c["metrics_2xx"])
        ok = "yes" if records >= wrk_2xx and records >= m2xx else "**NO**"
        print(f"| {size_name(c['size'])} | {c['requests']} | {wrk_2xx} | {m2xx} | {records} | {ok} |")
EOF

{
  echo
  echo "Load: wrk -t$WRK_THREADS -c$CONNECTIONS, ${DURATION}s measured after ${WARMUP}s warm-up, $VARIANTS bundle variants per size;"
  echo "server threads $IO_THREADS; ingress log_level $LOG_LEVEL, strict_json $STRICT_JSON; kafka 6 partitions, RF 1, acks=all."
} >>"$WORK/report.md"
cat "$WORK/report.md"
if grep -q '\*\*NO\*\*' "$WORK/report.md"; then
  log "error: fewer records in the topic than 2xx responses"
  exit 3
fi
