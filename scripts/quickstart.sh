#!/usr/bin/env bash
# The embedded quick start: installs what is missing, builds the ingress, runs it with the embedded
# Kafka broker (in memory, not durable), posts Ocean's real FHIR eReferral bundles to it as Ocean
# would, and shows each one in Kafka with the facts the ingress extracted. Stops it with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh
echo "== building the ingress (release preset)" >&2
cmake --preset release >/dev/null
cmake --build --preset release --target ocean-relay-ingress -j "$(nproc)"

work=$(mktemp -d)
ingress_pid=""
cleanup() {
  [[ -n "$ingress_pid" ]] && kill "$ingress_pid" 2>/dev/null && wait "$ingress_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
admin=$(free_port)
cat >"$work/ingress.yaml" <<YAML
listeners: [{address: 127.0.0.1, port: $port}]
admin: {address: 127.0.0.1, port: $admin}
kafka: {embedded: true, partitions: 3}
integrations:
  - site: "1234"
YAML

echo "== starting ocean-relay-ingress (embedded broker; logs in $work/ingress.log)" >&2
build/release/services/ingress/ocean-relay-ingress --config "$work/ingress.yaml" 2>"$work/ingress.log" &
ingress_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null || { cat "$work/ingress.log" >&2; exit 1; }
bootstrap=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    rec = json.loads(line)
    if "bootstrap_servers" in rec: print(rec["bootstrap_servers"]); break
' "$work/ingress.log")

echo
echo "== Ocean posts its FHIR eReferral bundles to http://127.0.0.1:$port/ocean/1234/fhir"
count=0
for bundle in "$root"/tests/fixtures/ocean-fhir-v0.11.1/*.json; do
  status=$(curl -s -o "$work/reply.json" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/fhir+json' --data-binary "@$bundle" \
    "http://127.0.0.1:$port/ocean/1234/fhir")
  printf '  %-40s -> HTTP %s  %s\n' "$(basename "$bundle")" "$status" "$(cat "$work/reply.json")"
  count=$((count + 1))
done
printf '  %-40s -> HTTP %s\n' "(a bundle that is not JSON)" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/fhir+json' -d '{"resourceType":' \
     "http://127.0.0.1:$port/ocean/1234/fhir")"

echo
echo "== what landed in Kafka topic ocean.inbound.v1 (key = referral ref; headers = extracted facts)"
kcat -C -b "$bootstrap" -t ocean.inbound.v1 -c "$count" -e -q -f '%k\t%h\t%S\n' | python3 -c '
import sys
for line in sys.stdin:
    key, headers, size = line.rstrip("\n").split("\t")
    print(f"  record key={key}  body={size} bytes (unchanged)")
    for h in headers.split(","):
        name, _, value = h.partition("=")
        print(f"      {name:20} {value}")
'

echo
echo "== metrics (http://127.0.0.1:$admin/metrics)"
curl -s "http://127.0.0.1:$admin/metrics" | grep -E '^relay_ingress_(requests_total|published_total|rejections_total)' | sed 's/^/  /'

echo
echo "== SIGTERM: readiness off, in-flight requests finish, the producer flushes"
kill -TERM "$ingress_pid"
wait "$ingress_pid" && echo "  ingress exited 0"
ingress_pid=""
