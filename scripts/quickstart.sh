#!/usr/bin/env bash
# The embedded quick start: installs what is missing, builds ocean-relay (every role in one process) and
# the simulators, runs ocean-relay on its embedded Kafka broker (in memory, not durable) from one file
# with a section per role, and runs the whole loop unattended: ocean-sim plays Ocean (an OAuth2 token from
# the ingress, then a few hundred FHIR eReferral webhooks with Ocean's plain duplicates), the router drops
# duplicates and renders each referral for two hub systems, the delivery service posts them to pos-sim
# (one system fails a third of the time: retries, in order per referral) and tells Ocean "received",
# pos-sim decides on each referral through the hub API (accept, decline, book, message), the updater
# sends each decision to ocean-sim's $process-messages, and Ocean's echo of every change is recognised
# and dropped. ocean-sim also plays Ocean's Open API / Patient Engagement webhook: it validates the
# ingress's open_api endpoint (challenge echo), then notifies a few completed patient eForms and a few
# Open eReferral referrals; the fetcher pulls each from ocean-sim's Open API with the site's credentials,
# decrypts it with the site's SEK and writes it sealed at rest (a key generated here): the eForms go to
# clinic-emr, the referrals through the router like the FHIR ones; clinic-emr also gets each FHIR
# referral's letter and attachments, which the fetcher pulls with the site's OAuth2 token. The hub then
# uses Ocean's Open API through the hub API: a few messages to the referrer (sealed under the site's SEK)
# and a few patient-specific eForm links, which ocean-sim's patients complete a moment later: the link goes
# to clinic-emr, the completed forms follow it. Last, the Referral System Launch: a scripted clinician's
# browser follows ocean-sim's "referral sent" link to the relay's launch role, which confirms the referral
# with Ocean and hands the browser to pos-sim with a signed one-time context; pos-sim redeems it, the
# clinician accepts, and the relay shows the confirmation message. Progress is shown as it goes, then a
# summary table: counts per stage, the relay's own latencies beside the simulated waits, where to look
# next. Stops with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh
echo "== building ocean-relay, ocean-sim, pos-sim and relayctl (release preset)" >&2
cmake --preset release >/dev/null
cmake --build --preset release --target ocean-relay ocean-sim pos-sim relayctl -j "$(nproc)"

work=$(mktemp -d)
relay_pid=""
pos_sim_pid=""
ocean_pid=""
cleanup() {
  [[ -n "$ocean_pid" ]] && kill "$ocean_pid" 2>/dev/null && wait "$ocean_pid" 2>/dev/null || true
  [[ -n "$pos_sim_pid" ]] && kill "$pos_sim_pid" 2>/dev/null && wait "$pos_sim_pid" 2>/dev/null || true
  [[ -n "$relay_pid" ]] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
admin=$(free_port)
router_admin=$(free_port)
delivery_admin=$(free_port)
updater_admin=$(free_port)
fetcher_admin=$(free_port)
launch_port=$(free_port)
launch_admin=$(free_port)
pos_port=$(free_port)
pos_admin=$(free_port)
ocean_api=$(free_port)
ocean_admin=$(free_port)
decision_delay_ms=500
eform_sessions=6            # Patient Engagement notifications (completed eForms)
open_api_referrals=4        # Open eReferral notifications (notify-referral-new)
eform_links=3               # eForm links the hub asks Ocean for (completed by ocean-sim's patients)
open_api_messages=3         # messages the hub sends over Ocean's Open API

# Secrets in files only this user can read: the key that seals records at rest (every role of the
# all-in-one shares it) and the secret key in the Open API webhook's URL.
(umask 077
 openssl rand -base64 32 >"$work/at-rest.key"
 openssl rand -hex 24 >"$work/open-api-webhook.key"
 openssl rand -base64 32 >"$work/launch-signing.key"
 openssl rand -hex 24 >"$work/launch-hub.token")
# The Ocean site's Open API credentials and Shared Encryption Key, as ocean-sim's site has them. Ocean
# issues the real ones (Admin → Manage Credentials); these are local stand-ins.
site_key=quickstart-site-key
site_credential=quickstart-site-credential
site_sek=quickstartSEK123

cat >"$work/ocean-relay.yaml" <<YAML
# One process, one file: a section per role, each what that service's own file would hold.
kafka:                   # shared by every role: the embedded broker, in memory (quick start only)
  embedded: true
  partitions: 3
  commit_interval: 200ms
  at_rest:               # sealed at rest (AES-256-GCM); every role opens them with the same key
    keys: [{id: quickstart, key: {file: $work/at-rest.key}}]
    # Everything but relay.updates.*, left in clear only so that this script can show its records with
    # kcat below; in production seal every topic (topics: ["*"], the default).
    topics: ["ocean.*", "relay.deliveries*", "relay.documents.v1", "relay.events.v1", "relay.referrals.state.v1", "relay.inbound.dlq.v1",
             "relay.openapi.*"]
ingress:
  listeners: [{address: 127.0.0.1, port: $port}]
  admin: {address: 127.0.0.1, port: $admin}
  auth: {token_signing_key: {value: "quickstart-signing-key-0123456789abcdef"}}
  integrations:
    - site: "1234"
      auth:
        scheme: oauth2
        clients: [{client_id: ocean-site-1234, client_secret: {value: quickstart-client-secret}}]
      open_api:          # Ocean's Open API webhook: /ocean/1234/openapi/webhook?k=<key> → ocean.notifications.v1
        keys: [{file: $work/open-api-webhook.key}]
        # Per client address; the default (60 a minute, bursts of 10) is Ocean Labs'. ocean-sim sends its
        # challenge and notifications back to back, and Ocean retries a 429 only a minute later.
        rate_limit: {per_minute: 600, burst: 50}
  hub_api:               # the hub systems' side: POST /hub/v1/referrals/{ref}/accept, ... (openapi/hub-api.yaml)
    systems:
      - name: central-intake
        auth: {scheme: api_key, header: X-Api-Key, key: {value: quickstart-hub-key}}
router:
  admin: {address: 127.0.0.1, port: $router_admin}
  destinations:
    - {id: central-intake, format: fhir-r4}
    - {id: clinic-emr, format: hub-json, documents: separate}   # the letter and attachments after the referral
  routes:
    - {site: "1234", external_service_id: INTAKE, destinations: [central-intake, clinic-emr]}
delivery:
  admin: {address: 127.0.0.1, port: $delivery_admin}
  retry_tiers: [1s, 5s]
  destinations:
    - id: central-intake
      url: http://127.0.0.1:$pos_port/central-intake
      retry: {initial: 500ms, max_delay: 2s, max_attempts: 20, max_age: 10m}
      breaker: {consecutive_failures: 12, open_for: 5s}
      ocean_received_task: true      # tell Ocean "received" when a new referral gets here
    - id: clinic-emr
      url: http://127.0.0.1:$pos_port/clinic-emr
updater:
  service: {bundle_wait: 30s}
  admin: {address: 127.0.0.1, port: $updater_admin}
  ocean:
    base_url: http://127.0.0.1:$ocean_api     # ocean-sim plays Ocean's API
    sites: [{site: "1234", client_id: relay-site-1234, client_secret: {value: quickstart-ocean-secret}}]
  retry: {initial: 500ms, max_delay: 5s, max_age: 10m}
fetcher:                 # pulls what Ocean's Open API notifications name; writes it sealed
  admin: {address: 127.0.0.1, port: $fetcher_admin}
  ocean:
    base_url: http://127.0.0.1:$ocean_api     # ocean-sim plays Ocean's Open API
    sites:
      - site: "1234"
        site_key: {value: $site_key}
        site_credential: {value: $site_credential}
        sek: {value: $site_sek}
        client_id: relay-site-1234                        # the FHIR API's OAuth2 client: the referral documents
        client_secret: {value: quickstart-ocean-secret}
  eforms:
    destinations: [{id: clinic-emr, format: hub-json}]   # completed eForms go to the clinic's EMR
  retry: {initial: 500ms, max_delay: 5s, max_age: 10m}
launch:                  # Ocean's Referral System Launch: Ocean → the relay → the hub system's page (no Kafka)
  listener: {address: 127.0.0.1, port: $launch_port}   # loopback: plain HTTP allowed (TLS anywhere else)
  admin: {address: 127.0.0.1, port: $launch_admin}
  public_url: http://127.0.0.1:$launch_port
  ocean:
    base_url: http://127.0.0.1:$ocean_api
    sites: [{site: "1234", site_key: {value: $site_key}, site_credential: {value: $site_credential}, sek: {value: $site_sek}}]
  signing_key: {file: $work/launch-signing.key}
  hub_systems:
    - {id: central-intake, auth: {scheme: bearer, token: {file: $work/launch-hub.token}}}
  integrations:
    - id: demo           # Ocean's "Base launch URL": http://127.0.0.1:$launch_port/ocean/demo/launch
      site: "1234"
      mode: redirect
      branding:
        company_name: Lakeshore Health Systems
        application_name: Central Intake
        category: Regional intake
        confirmation_message: Central Intake has accepted this referral. You can close this page.
      targets: [{hub_system: central-intake, launch_url: "http://127.0.0.1:$pos_port/launch"}]
YAML

echo "== starting ocean-relay: ingress, router, delivery, updater, fetcher and launch in one process (embedded broker; logs in $work/ocean-relay.log)" >&2
build/release/services/all-in-one/ocean-relay --config "$work/ocean-relay.yaml" 2>"$work/ocean-relay.log" &
relay_pid=$!
for _ in $(seq 1 150); do
  all=1
  for p in "$admin" "$router_admin" "$delivery_admin" "$updater_admin" "$fetcher_admin" "$launch_admin"; do
    curl -fs "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 || all=0
  done
  [[ $all == 1 ]] && break
  sleep 0.2
done
[[ $all == 1 ]] || { cat "$work/ocean-relay.log" >&2; exit 1; }
# Ready is not yet working: a new consumer group gets its partitions a few seconds after it joins (the
# broker waits for more members). Ocean's first webhooks should not wait for that in the latencies below.
for _ in $(seq 1 150); do
  owned=1
  for m in "$router_admin relay_router_partitions" "$delivery_admin relay_delivery_partitions" \
           "$updater_admin relay_updater_partitions" "$fetcher_admin relay_fetcher_partitions"; do
    set -- $m
    curl -fs "http://127.0.0.1:$1/metrics" | grep -Eq "^$2 [1-9]" || owned=0
  done
  [[ $owned == 1 ]] && break
  sleep 0.2
done
bootstrap=$(python3 scripts/lib/quickstart_report.py bootstrap "$work/ocean-relay.log")

cat >"$work/pos-sim.yaml" <<YAML
log_level: warn
listener: {address: 127.0.0.1, port: $pos_port}
admin: {address: 127.0.0.1, port: $pos_admin}
deliveries_file: $work/pos-sim.jsonl
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
  delay: ${decision_delay_ms}ms
  mix: {accept: 0.4, decline: 0.2, book: 0.25, message: 0.15}
  seed: 2026
launch:                  # the hub system's launch page: redeems the relay's context, then Accept / Decline
  relay_url: http://127.0.0.1:$launch_port
  token: {file: $work/launch-hub.token}
YAML
echo "== starting pos-sim, the hub systems (logs in $work/pos-sim.log)" >&2
build/release/services/pos-sim/pos-sim --config "$work/pos-sim.yaml" >"$work/pos-sim.out" 2>"$work/pos-sim.log" &
pos_sim_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$pos_admin/healthz" >/dev/null 2>&1 && break
  sleep 0.1
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
  ocean_host: http://127.0.0.1:$ocean_api     # the letter and attachment URLs in the bundles: ocean-sim's API
  external_service_id: INTAKE
  v0_10_share: 0
  duplicate_share: 0.1
  resend_update_share: 0
  auth:
    scheme: oauth2
    token_url: http://127.0.0.1:$port/ocean/1234/oauth2/token
    client_id: ocean-site-1234
    client_secret: {value: quickstart-client-secret}
open_api:                # Ocean's Open API / Patient Engagement webhook: the challenge, then notifications
  url: http://127.0.0.1:$port/ocean/1234/openapi/webhook
  key: {file: $work/open-api-webhook.key}     # sent as ?k=
  patient_notifications: $eform_sessions
  referral_notifications: $open_api_referrals
  complete_links_after: 2s   # a patient completes the forms of an eForm link 2 s after it was issued
api:
  listener: {address: 127.0.0.1, port: $ocean_api}
  signing_key: {value: quickstart-ocean-signing-key-0123456789}
  clients: [{client_id: relay-site-1234, client_secret: {value: quickstart-ocean-secret}}]
  sites: [{site_num: "1234", site_key: {value: $site_key}, site_credential: {value: $site_credential}, sek: {value: $site_sek}}]
launch:                  # after a send, Ocean sends the clinician's browser to the relay's launch URL
  url: http://127.0.0.1:$launch_port/ocean/demo/launch
  mode: redirect
YAML

echo
echo "== ocean-sim plays Ocean: $referrals webhooks (10% of them Ocean's plain duplicates) to /ocean/1234/fhir,"
echo "   pos-sim's central-intake decides on each referral through the hub API, the updater sends each decision"
echo "   to ocean-sim's \$process-messages, and Ocean echoes every change back (the router must drop the echo);"
echo "   on its Open API webhook (/ocean/1234/openapi/webhook) Ocean notifies $eform_sessions completed patient eForms and"
echo "   $open_api_referrals Open eReferral referrals, which the fetcher pulls from ocean-sim's Open API"
build/release/services/ocean-sim/ocean-sim --config "$work/ocean-sim.yaml" >"$work/ocean-sim.out" 2>"$work/ocean-sim.log" &
ocean_pid=$!
# The hub uses Ocean's Open API too (hub API → relay.openapi.requests.v1 → the fetcher → ocean-sim): a few
# messages to the referrer and a few eForm links, for patients (referrals) Ocean has sent.
for _ in $(seq 1 100); do
  [[ $(curl -fs "http://127.0.0.1:$ocean_admin/referrals" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0) -ge $((eform_links + open_api_messages)) ]] && break
  sleep 0.2
done
mapfile -t hub_refs < <(curl -fs "http://127.0.0.1:$ocean_admin/referrals" |
  python3 -c 'import json,sys; [print(r["ref"]) for r in json.load(sys.stdin)[:'"$((eform_links + open_api_messages))"']]')
echo "== the hub asks Ocean for $eform_links eForm links and sends $open_api_messages messages over Ocean's Open API (hub API, 202 each)"
for i in $(seq 0 $((eform_links - 1))); do
  curl -fs -o /dev/null -w '  POST /hub/v1/patients/…/form-links: %{http_code}\n' -H 'X-Api-Key: quickstart-hub-key' \
    -H 'Content-Type: application/json' -d '{"site":"1234","form_refs":["phq9","gad7"],"expiry_hours":72}' \
    "http://127.0.0.1:$port/hub/v1/patients/${hub_refs[$i]}/form-links"
done
for i in $(seq "$eform_links" $((eform_links + open_api_messages - 1))); do
  curl -fs -o /dev/null -w '  POST /hub/v1/open-api/referrals/…/messages: %{http_code}\n' -H 'X-Api-Key: quickstart-hub-key' \
    -H 'Content-Type: application/json' \
    -d '{"site":"1234","text":"We received the referral; the consult note is attached.","attachment":{"content_type":"text/plain","data":"Q29uc3VsdCBub3RlCg==","title":"consult-note.txt"}}' \
    "http://127.0.0.1:$port/hub/v1/open-api/referrals/${hub_refs[$i]}/messages"
done
python3 scripts/lib/quickstart_report.py progress "$ocean_admin" "$pos_admin" "$updater_admin" "$referrals" 180 \
  "$fetcher_admin" "$((eform_sessions + eform_links))" "$open_api_referrals" "$open_api_messages" "$eform_links"

echo
echo "== the Referral System Launch: a clinician sends a referral in Ocean and is handed to the hub's system"
python3 scripts/lib/quickstart_report.py launch "$ocean_api" "${hub_refs[0]}" "$pos_admin"

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
  "$delivery_admin" "$updater_admin" "$work/ocean-sim.jsonl" "$work/pos-sim.jsonl" "$decision_delay_ms" \
  "$fetcher_admin" "$bootstrap"

echo
echo "== the dead-letter topics (relayctl dlq list)"
build/release/services/relayctl/relayctl dlq list --bootstrap-servers "$bootstrap" 2>&1 | sed 's/^/  /' || true
echo
echo "== where to look next"
echo "  metrics:   ocean-relay's roles: ingress :$admin, router :$router_admin, delivery :$delivery_admin, updater :$updater_admin, fetcher :$fetcher_admin, launch :$launch_admin (/metrics)"
echo "  Ocean:     ocean-sim :$ocean_admin/referrals (folders, history), /updates (every update it applied)"
echo "  hub:       pos-sim :$pos_admin/deliveries, /decisions, /launches"
echo "  logs:      $work/*.log (kept until the script exits)"
echo "  the hub API: services/ingress/openapi/hub-api.yaml (OpenAPI 3.1), README \"The hub API\""

kill -TERM "$ocean_pid" 2>/dev/null && wait "$ocean_pid" 2>/dev/null || true
ocean_pid=""
echo
echo "== SIGTERM: ocean-relay's ingress and launch drain, its router, delivery, updater and fetcher commit and leave their groups"
kill -TERM "$pos_sim_pid"
wait "$pos_sim_pid" 2>/dev/null || true
pos_sim_pid=""
kill -TERM "$relay_pid"
wait "$relay_pid" && echo "  ocean-relay exited 0"
relay_pid=""
