#!/usr/bin/env bash
# The embedded quick start: installs what is missing, builds every service, runs the ingress with the
# embedded Kafka broker (in memory, not durable) and the router, the delivery service and the updater on
# it, and runs the whole loop unattended: ocean-sim plays Ocean (an OAuth2 token from the ingress, then a
# few hundred FHIR eReferral webhooks with Ocean's plain duplicates), the router drops duplicates and
# renders each referral for two hub systems, the delivery service posts them to pos-sim (one system fails
# a third of the time: retries, in order per referral) and tells Ocean "received", pos-sim decides on each
# referral through the hub API (accept, decline, book, message), the updater sends each decision to
# ocean-sim's $process-messages, and Ocean's echo of every change is recognised and dropped. Progress is
# shown as it goes, then a summary table (per stage counts, latencies, where to look next). Stops all with
# SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh
echo "== building the ingress, the router, the delivery service, the updater, ocean-sim, pos-sim and relayctl (release preset)" >&2
cmake --preset release >/dev/null
cmake --build --preset release --target ocean-relay-ingress ocean-relay-router ocean-relay-delivery ocean-relay-updater ocean-sim pos-sim relayctl \
  -j "$(nproc)"

work=$(mktemp -d)
ingress_pid=""
router_pid=""
delivery_pid=""
pos_sim_pid=""
updater_pid=""
ocean_pid=""
cleanup() {
  [[ -n "$ocean_pid" ]] && kill "$ocean_pid" 2>/dev/null && wait "$ocean_pid" 2>/dev/null || true
  [[ -n "$updater_pid" ]] && kill "$updater_pid" 2>/dev/null && wait "$updater_pid" 2>/dev/null || true
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
hub_api:                 # the hub systems' side: POST /hub/v1/referrals/{ref}/accept, ... (openapi/hub-api.yaml)
  systems:
    - name: central-intake
      auth: {scheme: api_key, header: X-Api-Key, key: {value: quickstart-hub-key}}
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

# pos-sim plays the hub's two systems: central-intake answers 503 to about a third of the requests and,
# like the hub's clinicians, decides on each referral (accept, decline, book, message) through the hub API.
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
decisions:
  hub_url: http://127.0.0.1:$port/hub/v1
  auth_header: X-Api-Key
  auth_value: {value: quickstart-hub-key}
  routes: [central-intake]
  delay: 500ms
  mix: {accept: 0.4, decline: 0.2, book: 0.25, message: 0.15}
  seed: 2026
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
    # A third of the answers fail: a breaker that opens on 5 failures in a row would pause this system
    # for 30 s (the default, for a hub system that is down) every few hundred requests.
    breaker: {consecutive_failures: 12, open_for: 5s}
    ocean_received_task: true      # tell Ocean "received" when a new referral gets here
  - id: clinic-emr
    url: http://127.0.0.1:$pos_port/clinic-emr
YAML
echo "== starting ocean-relay-delivery and pos-sim (logs in $work/delivery.log, $work/pos-sim.log)" >&2
build/release/services/delivery/ocean-relay-delivery --config "$work/delivery.yaml" 2>"$work/delivery.log" &
delivery_pid=$!

ocean_api=$(free_port)
ocean_admin=$(free_port)
updater_admin=$(free_port)
cat >"$work/updater.yaml" <<YAML
service: {bundle_wait: 30s}
admin: {address: 127.0.0.1, port: $updater_admin}
kafka:
  bootstrap_servers: "$bootstrap"
  partitions: 3
  replication_factor: 1
  verify_topics: false
  commit_interval: 200ms
  properties: {topic.metadata.refresh.interval.ms: "1000"}
ocean:
  base_url: http://127.0.0.1:$ocean_api     # ocean-sim plays Ocean's API
  sites: [{site: "1234", client_id: relay-site-1234, client_secret: {value: quickstart-ocean-secret}}]
retry: {initial: 500ms, max_delay: 5s, max_age: 10m}
YAML
echo "== starting ocean-relay-updater (logs in $work/updater.log)" >&2
build/release/services/updater/ocean-relay-updater --config "$work/updater.yaml" 2>"$work/updater.log" &
updater_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$delivery_admin/readyz" >/dev/null 2>&1 &&
    curl -fs "http://127.0.0.1:$updater_admin/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

referrals=${QUICKSTART_REFERRALS:-300}
cat >"$work/ocean-sim.yaml" <<YAML
log_level: warn
admin: {address: 127.0.0.1, port: $ocean_admin}
observations_file: $work/ocean-sim.jsonl
exit_when_done: false
webhooks:
  target_url: http://127.0.0.1:$port/ocean/1234/fhir
  count: $referrals
  concurrency: 8
  seed: 2026
  site_number: "1234"
  listing_ref: quickstart_intake_10000001
  external_service_id: INTAKE
  v0_10_share: 0
  duplicate_share: 0.1
  resend_update_share: 0
  auth:
    scheme: oauth2
    token_url: http://127.0.0.1:$port/ocean/1234/oauth2/token
    client_id: ocean-site-1234
    client_secret: {value: quickstart-client-secret}
api:
  listener: {address: 127.0.0.1, port: $ocean_api}
  signing_key: {value: quickstart-ocean-signing-key-0123456789}
  clients: [{client_id: relay-site-1234, client_secret: {value: quickstart-ocean-secret}}]
YAML

echo
echo "== ocean-sim plays Ocean: $referrals webhooks (10% of them Ocean's plain duplicates) to /ocean/1234/fhir,"
echo "   pos-sim's central-intake decides on each referral through the hub API, the updater sends each decision"
echo "   to ocean-sim's \$process-messages, and Ocean echoes every change back (the router must drop the echo)"
build/release/services/ocean-sim/ocean-sim --config "$work/ocean-sim.yaml" >"$work/ocean-sim.out" 2>"$work/ocean-sim.log" &
ocean_pid=$!
python3 scripts/lib/quickstart_report.py progress "$ocean_admin" "$pos_admin" "$updater_admin" "$referrals" 180

echo
echo "== a few of the records in Kafka topic ocean.inbound.v1 (key = referral ref; headers = extracted facts)"
kcat -C -b "$bootstrap" -t ocean.inbound.v1 -c 5 -e -q -f '%k\t%p\t%o\t%h\t%S\n' |
  python3 scripts/lib/quickstart_report.py records
echo
echo "== a few hub updates in Kafka topic relay.updates.v1 (from the hub API, and the delivery's 'received')"
kcat -C -b "$bootstrap" -t relay.updates.v1 -c 6 -e -q -f '%k\t%h\t%s\n' |
  python3 scripts/lib/quickstart_report.py updates

echo
python3 scripts/lib/quickstart_report.py summary "$ocean_admin" "$pos_admin" "$port" "$admin" "$router_admin" \
  "$delivery_admin" "$updater_admin"

echo
echo "== the dead-letter topics (relayctl dlq list; on the embedded broker a topic exists only after a first dead letter)"
build/release/services/relayctl/relayctl dlq list --bootstrap-servers "$bootstrap" 2>&1 | sed 's/^/  /' || true
echo
echo "== where to look next"
echo "  metrics:   ingress :$admin, router :$router_admin, delivery :$delivery_admin, updater :$updater_admin (/metrics)"
echo "  Ocean:     ocean-sim :$ocean_admin/referrals (folders, history), /updates (every update it applied)"
echo "  hub:       pos-sim :$pos_admin/deliveries, /decisions"
echo "  logs:      $work/*.log (kept until the script exits)"
echo "  the hub API: services/ingress/openapi/hub-api.yaml (OpenAPI 3.1), README \"The hub API\""

kill -TERM "$ocean_pid" 2>/dev/null && wait "$ocean_pid" 2>/dev/null || true
ocean_pid=""
echo
echo "== SIGTERM: the updater, delivery and router commit and leave their groups; the ingress drains"
kill -TERM "$updater_pid"
wait "$updater_pid" && echo "  updater exited 0"
updater_pid=""
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
