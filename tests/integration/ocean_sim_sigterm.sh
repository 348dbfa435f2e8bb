#!/usr/bin/env bash
# ocean-sim ends promptly on SIGTERM even while a webhook waits for Ocean's next retry (an hour away),
# records the message as given up, prints its summary and exits 3.
set -euo pipefail
sim=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/sim.yaml" <<YAML
log_level: error
admin: {address: 127.0.0.1, port: 0}
observations_file: $work/obs.jsonl
webhooks:
  target_url: http://127.0.0.1:$port/nobody-listens
  count: 2
  concurrency: 2
YAML
"$sim" --config "$work/sim.yaml" >"$work/summary.json" 2>"$work/log" &
pid=$!
# Wait until both messages failed once and are waiting for the retry a minute later.
for _ in $(seq 1 50); do
  [[ -s "$work/obs.jsonl" && $(wc -l <"$work/obs.jsonl") -ge 2 ]] && break
  sleep 0.1
done
started=$(date +%s%N)
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
echo "exit=$status elapsed=${elapsed_ms}ms summary=$(cat "$work/summary.json")"
[[ $status -eq 3 ]] || { echo "expected exit 3 (messages given up)"; cat "$work/log"; exit 1; }
(( elapsed_ms < 5000 )) || { echo "SIGTERM took too long"; exit 1; }
grep -q '"gave_up":2' "$work/summary.json" || { echo "both messages should be recorded as given up"; exit 1; }
grep -q '"attempts":2' "$work/summary.json" || { echo "the abandoned retries are not attempts"; exit 1; }
