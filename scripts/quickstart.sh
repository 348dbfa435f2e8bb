#!/usr/bin/env bash
# The embedded quick start: installs what is missing, builds the ingress, the router, the delivery
# service, ocean-sim and pos-sim, runs the ingress with the embedded Kafka broker (in memory, not durable)
# and the other services on it, lets ocean-sim play Ocean — an OAuth2 token from the ingress, then FHIR
# eReferral webhooks in both IG dialects, with Ocean's plain duplicates and resends — and shows each
# message in Kafka with the facts the ingress extracted, what the router made of it (duplicates dropped,
# the rest rendered for two hub systems), and how the delivery service got it to pos-sim's two hub
# systems, one of which fails now and then (retries, in order per referral). Stops all with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh
echo "== building the ingress, the router, the delivery service, ocean-sim and pos-sim (release preset)" >&2
cmake --preset release >/dev/null
cmake --build --preset release --target ocean-relay-ingress ocean-relay-router ocean-relay-delivery ocean-sim pos-sim relayctl \
  -j "$(nproc)"

work=$(mktemp -d)
ingress_pid=""
router_pid=""
delivery_pid=""
pos_sim_pid=""
cleanup() {
  [[ -n "$delivery_pid" ]] && kill "$delivery_pid" 2>/dev/null && wait "$delivery_pid" 2>/dev/null || true
  [[ -n "$pos_sim_pid" ]] && kill "$pos_sim_pid" 2>/dev/null && wait "$pos_sim_pid" 2>/dev/null || true
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

total=$(kcat -C -b "$bootstrap" -t relay.deliveries.v1 -e -q -f '%o\n' | wc -l)

# pos-sim plays the hub's two systems; central-intake answers 503 to about a third of the requests.
pos_port=$(free_port)
pos_admin=$(free_port)
cat >"$work/pos-sim.yaml" <<YAML
log_level: warn
listener: {address: 127.0.0.1, port: $pos_port}
admin: {address: 127.0.0.1, port: $pos_admin}
fault_seed: 7
routes:
  - name: central-intake
    faults: [{kind: status, status: 503, probability: 0.35}]
  - name: clinic-emr
YAML
build/release/services/pos-sim/pos-sim --config "$work/pos-sim.yaml" >"$work/pos-sim.out" 2>"$work/pos-sim.log" &
pos_sim_pid=$!

delivery_admin=$(free_port)
cat >"$work/delivery.yaml" <<YAML
admin: {address: 127.0.0.1, port: $delivery_admin}
kafka:
  bootstrap_servers: "$bootstrap"
  partitions: 3
  replication_factor: 1
  verify_topics: false
  commit_interval: 200ms
  properties: {topic.metadata.refresh.interval.ms: "1000"}   # the embedded broker creates topics on first use
retry_tiers: [1s, 5s]
destinations:
  - id: central-intake
    url: http://127.0.0.1:$pos_port/central-intake
    retry: {initial: 500ms, max_delay: 2s, max_attempts: 20, max_age: 10m}
  - id: clinic-emr
    url: http://127.0.0.1:$pos_port/clinic-emr
YAML
echo
echo "== starting ocean-relay-delivery and pos-sim (logs in $work/delivery.log, $work/pos-sim.log)" >&2
build/release/services/delivery/ocean-relay-delivery --config "$work/delivery.yaml" 2>"$work/delivery.log" &
delivery_pid=$!
echo "== the delivery service posts the $total records to pos-sim's two hub systems (waiting for all of them)"
for _ in $(seq 1 600); do
  got=$(curl -fs "http://127.0.0.1:$pos_admin/deliveries" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["deliveries"])' 2>/dev/null || echo 0)
  [[ "$got" -ge "$total" ]] && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$pos_admin/deliveries" | python3 scripts/lib/quickstart_report.py pos_sim_received
sleep 1  # the last outcome events
kcat -C -b "$bootstrap" -t relay.events.v1 -e -q -f '%s\n' | python3 scripts/lib/quickstart_report.py delivery_events

echo
echo "== metrics (ingress :$admin, router :$router_admin, delivery :$delivery_admin — all at /metrics)"
curl -s "http://127.0.0.1:$admin/metrics" | grep -E '^relay_ingress_(requests_total|published_total|rejections_total|tokens_issued_total)' | sed 's/^/  /'
curl -s "http://127.0.0.1:$router_admin/metrics" | grep -E '^relay_router_(records_total|deliveries_total|state_referrals)' | sed 's/^/  /'
curl -s "http://127.0.0.1:$delivery_admin/metrics" | grep -E '^relay_delivery_(outcomes_total|attempts_total|parked_keys)' | grep -v ' 0$' | sed 's/^/  /'
echo
echo "== the dead-letter topic (relayctl dlq list; on the embedded broker it exists only after a first dead letter)"
build/release/services/relayctl/relayctl dlq list --bootstrap-servers "$bootstrap" 2>&1 | sed 's/^/  /' || true

echo
echo "== SIGTERM: delivery and router commit and leave their groups; the ingress turns readiness off and drains"
kill -TERM "$delivery_pid"
wait "$delivery_pid" && echo "  delivery exited 0"
delivery_pid=""
kill -TERM "$pos_sim_pid"
wait "$pos_sim_pid" 2>/dev/null || true
pos_sim_pid=""
kill -TERM "$router_pid"
wait "$router_pid" && echo "  router exited 0"
router_pid=""
kill -TERM "$ingress_pid"
wait "$ingress_pid" && echo "  ingress exited 0"
ingress_pid=""
