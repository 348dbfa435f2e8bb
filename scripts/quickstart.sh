#!/usr/bin/env bash
# The embedded quick start: installs what is missing, builds the ingress, the router and ocean-sim, runs
# the ingress with the embedded Kafka broker (in memory, not durable) and the router on it, lets
# ocean-sim play Ocean — an OAuth2 token from the ingress, then FHIR eReferral webhooks in both IG
# dialects, with Ocean's plain duplicates and resends — and shows each message in Kafka with the facts
# the ingress extracted, then what the router made of it: duplicates dropped, the rest rendered for two
# hub systems. Stops both with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh
echo "== building the ingress, the router and ocean-sim (release preset)" >&2
cmake --preset release >/dev/null
cmake --build --preset release --target ocean-relay-ingress ocean-relay-router ocean-sim -j "$(nproc)"

work=$(mktemp -d)
ingress_pid=""
router_pid=""
cleanup() {
  [[ -n "$router_pid" ]] && kill "$router_pid" 2>/dev/null && wait "$router_pid" 2>/dev/null || true
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
auth: {token_signing_key: {value: "quickstart-signing-key-0123456789abcdef"}}
integrations:
  - site: "1234"
    auth:
      scheme: oauth2
      clients: [{client_id: ocean-site-1234, client_secret: {value: quickstart-client-secret}}]
YAML

echo "== starting ocean-relay-ingress (embedded broker; logs in $work/ingress.log)" >&2
build/release/services/ingress/ocean-relay-ingress --config "$work/ingress.yaml" 2>"$work/ingress.log" &
ingress_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null || { cat "$work/ingress.log" >&2; exit 1; }
bootstrap=$(python3 scripts/lib/quickstart_report.py bootstrap "$work/ingress.log")

# The router on the ingress's embedded broker. That broker has no admin API and creates topics on first
# use, hence verify_topics: false (a real cluster keeps the default).
router_admin=$(free_port)
cat >"$work/router.yaml" <<YAML
admin: {address: 127.0.0.1, port: $router_admin}
kafka: {bootstrap_servers: "$bootstrap", partitions: 3, replication_factor: 1, verify_topics: false, commit_interval: 200ms}
destinations:
  - {id: central-intake, format: fhir-r4}
  - {id: clinic-emr, format: hub-json}
routes:
  - {site: "1234", external_service_id: INTAKE, destinations: [central-intake, clinic-emr]}
YAML
echo "== starting ocean-relay-router (logs in $work/router.log)" >&2
build/release/services/router/ocean-relay-router --config "$work/router.yaml" 2>"$work/router.log" &
router_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$router_admin/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$router_admin/readyz" >/dev/null || { cat "$work/router.log" >&2; exit 1; }

cat >"$work/ocean-sim.yaml" <<YAML
log_level: warn
admin: {address: 127.0.0.1, port: $(free_port)}
observations_file: $work/ocean-sim.jsonl
webhooks:
  target_url: http://127.0.0.1:$port/ocean/1234/fhir
  count: 12
  concurrency: 4
  seed: 2026
  site_number: "1234"
  listing_ref: quickstart_intake_10000001
  external_service_id: INTAKE
  v0_10_share: 0.3
  duplicate_share: 0.2
  resend_update_share: 0.2
  auth:
    scheme: oauth2
    token_url: http://127.0.0.1:$port/ocean/1234/oauth2/token
    client_id: ocean-site-1234
    client_secret: {value: quickstart-client-secret}
YAML

echo
echo "== ocean-sim plays Ocean: token from /ocean/1234/oauth2/token, then webhooks to /ocean/1234/fhir"
build/release/services/ocean-sim/ocean-sim --config "$work/ocean-sim.yaml" >"$work/summary.json"
python3 scripts/lib/quickstart_report.py webhooks "$work/ocean-sim.jsonl" "$work/summary.json"
count=$(python3 scripts/lib/quickstart_report.py delivered "$work/summary.json")
printf '  %-40s -> HTTP %s\n' "(and a bundle sent without a token)" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/fhir+json' -d '{"resourceType":' \
     "http://127.0.0.1:$port/ocean/1234/fhir")"

echo
echo "== what landed in Kafka topic ocean.inbound.v1 (key = referral ref; headers = extracted facts; body unchanged)"
kcat -C -b "$bootstrap" -t ocean.inbound.v1 -c "$count" -e -q -f '%k\t%p\t%o\t%h\t%S\n' |
  python3 scripts/lib/quickstart_report.py records

echo
echo "== the router's decision for each (topic relay.events.v1): duplicates dropped, the rest routed"
timeout 60 kcat -C -b "$bootstrap" -t relay.events.v1 -c "$count" -q -f '%s\n' |
  python3 scripts/lib/quickstart_report.py events

echo
echo "== what the hub systems will receive (topic relay.deliveries.v1; the delivery service posts these)"
kcat -C -b "$bootstrap" -t relay.deliveries.v1 -e -q -f '%k\t%h\t%S\n' |
  python3 scripts/lib/quickstart_report.py deliveries

echo
echo "== metrics (http://127.0.0.1:$admin/metrics and http://127.0.0.1:$router_admin/metrics)"
curl -s "http://127.0.0.1:$admin/metrics" | grep -E '^relay_ingress_(requests_total|published_total|rejections_total|tokens_issued_total)' | sed 's/^/  /'
curl -s "http://127.0.0.1:$router_admin/metrics" | grep -E '^relay_router_(records_total|deliveries_total|state_referrals)' | sed 's/^/  /'

echo
echo "== SIGTERM: the router commits and leaves its group; the ingress turns readiness off and drains"
kill -TERM "$router_pid"
wait "$router_pid" && echo "  router exited 0"
router_pid=""
kill -TERM "$ingress_pid"
wait "$ingress_pid" && echo "  ingress exited 0"
ingress_pid=""
