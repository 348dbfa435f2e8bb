#!/usr/bin/env bash
# Run a real single-node Apache Kafka 4.4.0 broker (KRaft, combined
# broker+controller) for tests -- no Docker, just a JVM and jars from Maven
# Central.  See README.md next to this file.
#
#   kafka-broker.sh fetch                    resolve the jars into the cache
#   kafka-broker.sh start  <state-dir>       start (or restart) the broker; prints bootstrap
#   kafka-broker.sh stop   <state-dir>       SIGTERM, then SIGKILL after 30 s; idempotent
#   kafka-broker.sh status <state-dir>       exit 0 iff the broker is running
#   kafka-broker.sh bootstrap <state-dir>    print host:port
#   kafka-broker.sh create-topic <state-dir> <topic> [partitions] [key=value ...]
#   kafka-broker.sh classpath                print the java classpath of the jars
#
# Environment:
#   RELAY_CACHE_DIR          cache root (default $HOME/.cache/ocean-relay)
#   RELAY_KAFKA_START_TIMEOUT seconds to wait for readiness (default 90)
#   RELAY_KAFKA_JVM_OPTS     replaces the default JVM options of the broker
#   JAVA_HOME / JAVA         java to use
#
# Only the bootstrap address goes to stdout (start, bootstrap); progress and
# errors go to stderr.
set -euo pipefail

readonly KAFKA_VERSION=4.4.0
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly POM="$SCRIPT_DIR/pom.xml"
readonly CACHE_DIR="${RELAY_CACHE_DIR:-$HOME/.cache/ocean-relay}/kafka-$KAFKA_VERSION"
readonly LIB_DIR="$CACHE_DIR/libs"
readonly MARKER="$CACHE_DIR/.fetched"
readonly CP="$LIB_DIR/*"
readonly START_TIMEOUT="${RELAY_KAFKA_START_TIMEOUT:-90}"
readonly STOP_TIMEOUT=30
readonly MAX_MESSAGE_BYTES=33554432 # 32 MiB: ingress accepts bodies of ~20 MiB+

if [[ -n "${JAVA:-}" ]]; then
  :
elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=java
fi

log() { printf 'kafka-broker: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '5,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- fetch ----

# The marker holds the pom's checksum, so editing pom.xml triggers a re-fetch.
pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

fetched() { [[ -f "$MARKER" && "$(cat "$MARKER")" == "$(pom_sum)" && -d "$LIB_DIR" ]]; }

cmd_fetch() {
  fetched && return 0
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Kafka jars)"
  mkdir -p "$CACHE_DIR"
  # Serialise concurrent fetches (e.g. parallel ctest fixtures).
  exec 9>"$CACHE_DIR/.lock"
  flock 9
  if ! fetched; then
    log "fetching Kafka $KAFKA_VERSION jars into $LIB_DIR (one-time) ..."
    local tmp="$CACHE_DIR/libs.tmp.$$" mvnlog="$CACHE_DIR/fetch.log"
    rm -rf "$tmp"
    if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime >"$mvnlog" 2>&1; then
      cat "$mvnlog" >&2
      rm -rf "$tmp"
      die "mvn dependency:copy-dependencies failed"
    fi
    rm -rf "$LIB_DIR"
    mv "$tmp" "$LIB_DIR"
    pom_sum >"$MARKER"
    log "fetched $(find "$LIB_DIR" -name '*.jar' | wc -l) jars"
  fi
  flock -u 9
  exec 9>&-
}

# ---------------------------------------------------------------- state ----

state_dir_arg() {
  [[ $# -ge 1 && -n "$1" ]] || usage
  mkdir -p "$1"
  (cd "$1" && pwd -P)
}

# Whether a process is alive: it exists and is not a zombie waiting to be reaped.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ "$state" != "Z" ]]
}

# Prints the pid if the broker recorded in <state-dir> is alive, else fails.
broker_pid() {
  local dir="$1" pid
  [[ -f "$dir/broker.pid" ]] || return 1
  pid="$(cat "$dir/broker.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: it must be *our* broker. While the launcher shell execs java, the
  # process's command line reads empty for a moment: that is our broker starting, not another
  # process, so read again instead of calling it gone (which once made `start` kill a starting
  # broker, or leave it running unrecorded beside a second one).
  local cmdline="" tries
  for tries in 1 2 3 4 5 6 7 8 9 10; do
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ -n "$cmdline" ]] && break
    alive "$pid" || return 1
    sleep 0.05
  done
  grep -qF -- "$dir/server.properties" <<<"$cmdline" || return 1
  echo "$pid"
}

# Two free loopback ports *below* the kernel's ephemeral range, so that no
# outgoing client connection can grab them while the broker is stopped
# between a stop/start (outage simulation).
pick_ports() {
  python3 - <<'EOF'
import random, socket
lo, _ = map(int, open('/proc/sys/net/ipv4/ip_local_port_range').read().split())
start = 10000 if lo > 12000 else 1024
candidates = list(range(start, lo))
random.shuffle(candidates)
found = []
for port in candidates:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', port))
    except OSError:
        continue
    finally:
        s.close()
    found.append(port)
    if len(found) == 2:
        break
if len(found) != 2:
    # Fall back to kernel-assigned ports.
    found = []
    socks = []
    for _ in range(2):
        s = socket.socket(); s.bind(('127.0.0.1', 0)); socks.append(s)
        found.append(s.getsockname()[1])
    for s in socks: s.close()
print(found[0], found[1])
EOF
}

port_free() {
  python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}

# Kafka cluster ids are 16 random bytes, base64url without padding (the
# format of `kafka.tools.StorageTool random-uuid`); generating it here saves
# a JVM start.
random_cluster_id() {
  python3 -c 'import base64, os
while True:
    s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not s.startswith("-"): print(s); break'
}

write_configs() {
  local dir="$1" port="$2" cport="$3"
  cat >"$dir/server.properties" <<EOF
# Generated by tests/kafka/kafka-broker.sh -- single-node KRaft test broker.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data

num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false

num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2

message.max.bytes=$MAX_MESSAGE_BYTES
replica.fetch.max.bytes=$MAX_MESSAGE_BYTES
EOF

  # Broker log: INFO (startup, topic creation, shutdown) without the chattiest
  # per-request / per-segment loggers.  Goes to stdout -> broker.log.
  cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = warn
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = warn
logger.metrics.name = org.apache.kafka.common.metrics
logger.metrics.level = warn
logger.loader.name = org.apache.kafka.image.loader.MetadataLoader
logger.loader.level = warn
logger.purgatory.name = org.apache.kafka.server.purgatory.DelayedOperationPurgatory$ExpiredOperationReaper
logger.purgatory.level = warn
logger.quota.name = org.apache.kafka.server.quota.ClientQuotaManager$ThrottledChannelReaper
logger.quota.level = warn
EOF

  # Command-line tools (StorageTool, TopicCommand): warnings only, to stderr.
  cat >"$dir/tools-log4j2.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = STDERR
EOF
}

run_tool() {
  local dir="$1"; shift
  "$JAVA" -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$dir/tools-log4j2.properties" \
    -cp "$CP" "$@"
}

# Readiness: the process is alive, the PLAINTEXT port accepts connections
# and (with kcat) a metadata request returns our broker.
broker_ready() {
  local dir="$1" bootstrap="$2"
  local host="${bootstrap%:*}" port="${bootstrap##*:}"
  # Cheap TCP probe first: kcat against a closed port would sit in
  # librdkafka's reconnect backoff until its metadata timeout.
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null || return 1
  if command -v kcat >/dev/null; then
    kcat -L -b "$bootstrap" -m 5 2>/dev/null | grep -qF "broker 1 at $bootstrap"
  else
    grep -q 'Kafka Server started' "$dir/broker.log" 2>/dev/null
  fi
}

# fail_start <dir> <message> [pid]: the pid is the JVM this start launched (killed if still alive, so
# that no broker is left running unrecorded).
fail_start() {
  local dir="$1" msg="$2" pid="${3:-}"
  log "error: $msg"
  if [[ -f "$dir/broker.log" ]]; then
    log "---- last 60 lines of $dir/broker.log ----"
    tail -n 60 "$dir/broker.log" >&2 || true
    log "---- end of broker.log ----"
  fi
  if [[ -n "$pid" ]] && alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$dir/broker.pid"
  exit 1
}

cmd_start() {
  local dir; dir="$(state_dir_arg "$@")"
  local pid port cport bootstrap
  if pid="$(broker_pid "$dir")"; then
    log "already running (pid $pid)"
    cat "$dir/bootstrap"
    return 0
  fi
  cmd_fetch
  command -v python3 >/dev/null || die "python3 not found"

  if [[ -f "$dir/ports" ]]; then
    # Restart: reuse the same ports (and the data, below).
    read -r port cport <"$dir/ports"
    local p
    for p in "$port" "$cport"; do
      port_free "$p" || die "port $p (from $dir/ports) is in use; is another broker running?"
    done
  else
    read -r port cport < <(pick_ports)
    echo "$port $cport" >"$dir/ports"
  fi
  bootstrap="127.0.0.1:$port"
  write_configs "$dir" "$port" "$cport"

  if [[ -f "$dir/data/meta.properties" ]]; then
    log "reusing formatted data in $dir/data"
  else
    local cluster_id; cluster_id="$(random_cluster_id)"
    log "formatting $dir/data (cluster id $cluster_id)"
    local fmtlog
    if ! fmtlog="$(run_tool "$dir" kafka.tools.StorageTool format --standalone \
        -t "$cluster_id" -c "$dir/server.properties" 2>&1)"; then
      printf '%s\n' "$fmtlog" >&2
      die "kafka.tools.StorageTool format failed"
    fi
  fi
  printf '%s\n' "$bootstrap" >"$dir/bootstrap"

  local jvm_opts
  # shellcheck disable=SC2206 # intentional word splitting of user options
  jvm_opts=(${RELAY_KAFKA_JVM_OPTS:--Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1})
  rm -f "$dir/broker.pid" # stale after a crash / SIGKILL from outside
  echo "==== $(date -u +%FT%TZ) starting Kafka $KAFKA_VERSION on $bootstrap" \
    "(controller 127.0.0.1:$cport)" >>"$dir/broker.log"
  # New session, no controlling tty, all std fds redirected: the broker
  # outlives this script (and a ctest fixture test) without holding its pipes.
  # The inner shell records its own pid and then execs java, so the pid file
  # is the JVM's pid.
  # shellcheck disable=SC2016 # $$, $1, $@ are for the inner shell
  setsid nohup bash -c 'echo $$ >"$1/broker.pid"; shift; exec "$@"' _ "$dir" \
    "$JAVA" "${jvm_opts[@]}" \
    -Djava.awt.headless=true \
    -XX:+ExitOnOutOfMemoryError \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$CP" kafka.Kafka "$dir/server.properties" \
    >>"$dir/broker.log" 2>&1 </dev/null &
  local launcher=$!

  log "waiting for broker on $bootstrap (timeout ${START_TIMEOUT}s)"
  local deadline=$((SECONDS + START_TIMEOUT)) jvm=""
  while :; do
    # The pid file holds the launcher's pid, which becomes the JVM's by exec: the process this start
    # owns, whatever its command line reads at this instant.
    [[ -z "$jvm" && -s "$dir/broker.pid" ]] && jvm="$(cat "$dir/broker.pid")"
    if [[ -z "$jvm" ]]; then
      kill -0 "$launcher" 2>/dev/null || fail_start "$dir" "broker launcher exited immediately"
    elif ! alive "$jvm"; then
      sleep 0.2 # let the log flush
      fail_start "$dir" "broker process exited during startup"
    elif broker_ready "$dir" "$bootstrap"; then
      break
    fi
    ((SECONDS < deadline)) || fail_start "$dir" "broker not ready after ${START_TIMEOUT}s" "$jvm"
    sleep 0.1
  done
  log "ready (pid $(cat "$dir/broker.pid"))"
  echo "$bootstrap"
}

cmd_stop() {
  [[ $# -ge 1 && -n "$1" ]] || usage
  [[ -d "$1" ]] || return 0
  local dir; dir="$(cd "$1" && pwd -P)"
  local pid
  if ! pid="$(broker_pid "$dir")"; then
    rm -f "$dir/broker.pid"
    return 0
  fi
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "broker did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$dir/broker.pid"
  log "stopped"
}

cmd_status() {
  [[ $# -ge 1 && -n "$1" ]] || usage
  [[ -d "$1" ]] || exit 1
  local dir; dir="$(cd "$1" && pwd -P)"
  local pid
  if pid="$(broker_pid "$dir")"; then
    log "running (pid $pid, $(cat "$dir/bootstrap" 2>/dev/null))"
    return 0
  fi
  log "not running"
  exit 1
}

cmd_bootstrap() {
  [[ $# -ge 1 && -n "$1" ]] || usage
  [[ -f "$1/bootstrap" ]] || die "no bootstrap file in $1 (never started?)"
  cat "$1/bootstrap"
}

# create-topic <state-dir> <topic> [partitions] [key=value ...]
# (auto.create.topics.enable=false, so tests create their topics explicitly.)
cmd_create_topic() {
  [[ $# -ge 2 ]] || usage
  local dir; dir="$(cd "$1" && pwd -P)"
  local topic="$2" partitions="${3:-1}"
  shift 2; [[ $# -gt 0 ]] && shift
  local args=() kv
  for kv in "$@"; do args+=(--config "$kv"); done
  broker_pid "$dir" >/dev/null || die "broker in $dir is not running"
  run_tool "$dir" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$(cat "$dir/bootstrap")" --create --if-not-exists \
    --topic "$topic" --partitions "$partitions" --replication-factor 1 \
    "${args[@]}" >&2
}

cmd_classpath() {
  cmd_fetch
  echo "$CP"
}

[[ $# -ge 1 ]] || usage
sub="$1"; shift
case "$sub" in
  fetch) cmd_fetch ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  bootstrap) cmd_bootstrap "$@" ;;
  create-topic) cmd_create_topic "$@" ;;
  classpath) cmd_classpath ;;
  -h | --help | help) usage ;;
  *) log "unknown subcommand: $sub"; usage ;;
esac
