#!/usr/bin/env python3
"""Pretty-prints the quick start's evidence: what ocean-sim sent, and what landed in Kafka."""
import json
import sys


def webhooks(observations_path, summary_path):
    for line in open(observations_path):
        o = json.loads(line)
        print(f"  {o['variant']:14} {o['event']:30} v{o['dialect']:5} ref={o['referral_ref']}"
              f"  -> HTTP {o['status']}  {o.get('message_id', '')}")
    s = json.load(open(summary_path))
    print(f"  summary: {s['delivered']} delivered, {s['gave_up']} given up, by variant {s['delivered_by_variant']}")


def records():
    # kcat -f '%k\t%p\t%o\t%h\t%S\n'
    for line in sys.stdin:
        key, partition, offset, headers, size = line.rstrip("\n").split("\t")
        h = dict(x.partition("=")[::2] for x in headers.split(","))
        if h.get("kind") == "open-api-referral":  # the fetcher's: a referral pulled over the Open API
            print(f"  p{partition}@{offset:<3} key={key} kind=open-api-referral event={h.get('event', '')}"
                  f" site={h.get('site', '')} notification={h.get('notification-type', '')} bytes={size} (sealed)")
            continue
        print(f"  p{partition}@{offset:<3} key={key} event={h.get('event', '')} dialect={h.get('fhir-dialect', '')}"
              f" site={h.get('site', '')} listing={h.get('listing-ref', '')} service={h.get('external-service-id', '')}"
              f" message-id={h.get('message-id', '')} bytes={size}")


def events(_=None):
    # kcat -f '%s\n': one outcome event (compact JSON) per line
    for line in sys.stdin:
        e = json.loads(line)
        where = f"p{e['source']['partition']}@{e['source']['offset']}"
        to = ", ".join(e.get("destinations", [])) or "-"
        print(f"  {where:7} {e['outcome']:9} {e['event']:30} ref={e['referral_ref']}  to: {to}")


def deliveries(_=None):
    # kcat -f '%k\t%h\t%S\n'
    for line in sys.stdin:
        key, headers, size = line.rstrip("\n").split("\t")
        h = dict(x.partition("=")[::2] for x in headers.split(","))
        print(f"  {h['destination']:15} {h['format']:9} {h['event']:30} ref={h['referral-ref']}"
              f"  idempotency-key={h['idempotency-key'][:16]}…  bytes={size}")


def delivery_events(_=None):
    # kcat -f '%s\n' over relay.events.v1: the delivery service's outcomes (they name the delivery instance)
    counts = {}
    for line in sys.stdin:
        e = json.loads(line)
        if "delivery" not in e:
            continue  # the router's decisions, shown above
        o = e["outcome"]
        counts[(e["destination"], o)] = counts.get((e["destination"], o), 0) + 1
        if o == "delivered":
            detail = f"attempt {e['attempt']}, HTTP {e['status']}, {e['latency_ms']:.1f} ms"
        elif o == "retry-scheduled":
            detail = f"attempt {e['attempt']} got HTTP {e['status']} ({e['reason']}); again in {e['retry_in_ms']} ms"
        elif o == "parked":
            detail = "waits behind an earlier event of the same referral"
        else:
            detail = f"{e.get('reason', '')} HTTP {e.get('status', '')}"
        print(f"  {o:15} {e['destination']:15} {e['event']:30} ref={e['referral_ref']}  {detail}")
    print("  summary:", ", ".join(f"{d} {o}: {n}" for (d, o), n in sorted(counts.items())))


def pos_sim_received(_=None):
    # pos-sim's /deliveries on stdin: what the hub systems received
    d = json.load(sys.stdin)
    print(f"  {d['deliveries']} received ({d['duplicates']} repeated an idempotency key), by route {d['by_route']}")


def delivered(summary_path):
    print(json.load(open(summary_path))["delivered"])


def bootstrap(log_path):
    for line in open(log_path):
        rec = json.loads(line)
        if "bootstrap_servers" in rec:
            print(rec["bootstrap_servers"])
            return


def _get(port, target):
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{target}", timeout=5) as r:
            body = r.read().decode()
    except Exception:
        return None
    return body if target == "/metrics" else json.loads(body)


def _metric(port, name, labels=None):
    """Sum of the samples of `name` whose labels include `labels`."""
    text = _get(port, "/metrics") or ""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        rest = line[len(name):]
        if rest[:1] not in ("{", " "):
            continue
        if labels and not all(f'{k}="{v}"' in rest for k, v in labels.items()):
            continue
        total += float(line.rsplit(" ", 1)[1])
    return total


def _expected_folder(d):
    return {"accept": "Pending Booking", "decline": "Declined", "message": "New"}.get(
        d["action"], "Booking Confirmed" if d.get("confirmed") else "Booking Unconfirmed")


def _settled(referrals, decisions):
    by_ref = {d["referral_ref"]: d for d in decisions}
    done = 0
    for r in referrals:
        d = by_ref.get(r["ref"])
        if d is None or r["folder"] != _expected_folder(d):
            continue
        if d["action"] == "message" and r["communications"] < 1:
            continue
        done += 1
    return done


PE_TYPES = ("notify-patient-note-added", "notify-patient-message-forms-completion")


def _eforms_received(pos):
    """eForm sessions each hub system received (first deliveries of a Patient Engagement event)."""
    out = {}
    for route, events in (pos.get("by_route_event") or {}).items():
        n = sum(events.get(t, 0) for t in PE_TYPES)
        if n:
            out[route] = n
    return out


def _writes(ocean_admin):
    """What ocean-sim's Open API took from the hub (messages, attachments, eForm links)."""
    return _get(ocean_admin, "/open-api-writes") or {}


def progress(ocean_admin, pos_admin, updater_admin, count, limit, fetcher_admin=None, eforms="0",
             open_api_referrals="0", open_api_messages="0", eform_links="0"):
    """Polls the simulators until every referral shows its decision in Ocean, the fetcher has delivered
    every eForm session and fetched every Open API referral, and Ocean has every message and completed
    eForm link the hub sent (or `limit` seconds)."""
    import time
    count, limit = int(count), float(limit)
    eforms, open_api_referrals = int(eforms), int(open_api_referrals)
    open_api_messages, eform_links = int(open_api_messages), int(eform_links)
    start = time.time()
    line = ""
    while time.time() - start < limit:
        obs = _get(ocean_admin, "/observations") or {}
        referrals = _get(ocean_admin, "/referrals") or []
        pos = _get(pos_admin, "/deliveries") or {}
        dec = _get(pos_admin, "/decisions") or {"items": []}
        sent = _metric(updater_admin, "relay_updater_updates_total", {"outcome": "sent"})
        settled = _settled(referrals, dec["items"])
        line = (f"  {time.time() - start:5.1f}s  webhooks acked {obs.get('delivered', 0)}/{count}"
                f" | referrals {len(referrals)} | delivered to hub {pos.get('deliveries', 0)}"
                f" | decided {dec.get('decisions', 0)} | updates sent to Ocean {int(sent)}"
                f" | shown in Ocean {settled}/{len(referrals)}")
        open_api_done = True
        if fetcher_admin and (eforms or open_api_referrals):
            delivered = sum(_eforms_received(pos).values())
            fetched = int(_metric(fetcher_admin, "relay_fetcher_notifications_total", {"outcome": "fetched"}))
            line += f" | eForms at the hub {delivered}/{eforms} | Open API referrals fetched {fetched}/{open_api_referrals}"
            open_api_done = delivered >= eforms and fetched >= open_api_referrals
        if open_api_messages or eform_links:
            w = _writes(ocean_admin)
            messages = (w.get("messages") or {}).get("received", 0)
            completed = sum(1 for link in (w.get("form_links") or {}).get("items", []) if link.get("completed"))
            line += f" | hub messages in Ocean {messages}/{open_api_messages} | eForm links completed {completed}/{eform_links}"
            open_api_done = open_api_done and messages >= open_api_messages and completed >= eform_links
        print(line, flush=True)
        if obs.get("delivered", 0) >= count and referrals and settled == len(referrals) and open_api_done:
            return
        time.sleep(2)
    print("  (stopped waiting; the summary shows where things are)")


def updates(_=None):
    # kcat -f '%k\t%h\t%s\n' over relay.updates.v1
    for line in sys.stdin:
        key, headers, value = line.rstrip("\n").split("\t", 2)
        h = dict(x.partition("=")[::2] for x in headers.split(","))
        print(f"  ref={key}  from={h.get('hub-system', '-'):24} {value}")


def _percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _ts(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    except OSError:
        pass
    return out


def _legs(observations_path, deliveries_path, decisions, applied):
    """The relay's own legs, per referral: Ocean's webhook acknowledged → the hub system has it (per hub
    system), and the hub's decision acknowledged (202) → applied in Ocean."""
    acked = {}
    for o in _jsonl(observations_path):
        if o.get("variant") == "original" and o.get("outcome") == "delivered" and o.get("referral_ref"):
            acked.setdefault(o["referral_ref"], _ts(o["ts"]))
    to_hub = {}
    for d in _jsonl(deliveries_path):
        ref = d.get("referral_ref")
        if d.get("duplicate") or ref not in acked:
            continue
        key = (d.get("route"), ref)
        if key not in to_hub:
            to_hub[key] = _ts(d["ts"]) - acked[ref]
    per_route = {}
    for (route, _), seconds in to_hub.items():
        per_route.setdefault(route, []).append(seconds)
    back = []
    for d in decisions:
        if not d.get("answered_at") or d.get("status", 0) // 100 != 2:
            continue
        answered = _ts(d["answered_at"])
        later = [_ts(u["at"]) for u in applied
                 if u.get("referral_ref") == d.get("referral_ref") and u.get("outcome") == "accepted"
                 and u.get("status") != "received" and _ts(u["at"]) >= answered - 0.001]
        if later:
            back.append(min(later) - answered)
    return per_route, back


def _ms(values, p):
    return f"{1000 * _percentile(values, p):.1f} ms"


def _kcat(bootstrap, topic, fmt):
    import subprocess
    try:
        out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-f", fmt],
                             capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return out.stdout.decode("utf-8", "replace").splitlines()


def _headers(text):
    return dict(x.partition("=")[::2] for x in text.split(","))


def _open_api_referrals_delivered(bootstrap, deliveries_path):
    """Open API referrals the hub systems received, per hub system: the router's deliveries (their
    headers; the values are sealed) of inbound records the fetcher wrote (kind open-api-referral),
    matched by idempotency key with what pos-sim recorded."""
    fetched = set()
    for line in _kcat(bootstrap, "ocean.inbound.v1", "%p\t%o\t%h\n"):
        partition, offset, headers = line.split("\t", 2)
        if _headers(headers).get("kind") == "open-api-referral":
            fetched.add(f"ocean.inbound.v1/{partition}/{offset}")
    keys = {}
    for line in _kcat(bootstrap, "relay.deliveries.v1", "%h\n"):
        h = _headers(line)
        if h.get("source") in fetched:
            keys[h.get("idempotency-key")] = h.get("destination")
    received = {}
    for d in _jsonl(deliveries_path):
        route = keys.get(d.get("idempotency_key"))
        if route and not d.get("duplicate"):
            received[route] = received.get(route, 0) + 1
    return len(fetched), received


def summary(ocean_admin, pos_admin, ingress_port, ingress_admin, router_admin, delivery_admin, updater_admin,
            observations_path=None, deliveries_path=None, decision_delay_ms="500", fetcher_admin=None,
            bootstrap=None):
    # The last records may still be on their way to the hub systems: wait (a little) until the router and
    # the delivery service hold nothing in flight and have read everything.
    import time
    for _ in range(40):
        busy = sum(_metric(p, f"relay_{name}_{what}") for p, name in ((router_admin, "router"), (delivery_admin, "delivery"))
                   for what in ("in_flight", "consumer_lag"))
        if busy == 0:
            break
        time.sleep(0.25)
    obs = _get(ocean_admin, "/observations") or {}
    referrals = _get(ocean_admin, "/referrals") or []
    applied = (_get(ocean_admin, "/updates") or {}).get("updates", [])
    pos = _get(pos_admin, "/deliveries") or {}
    dec = _get(pos_admin, "/decisions") or {"items": [], "by_action": {}}
    rows = [
        ("Ocean → ingress", "webhooks acknowledged", obs.get("delivered", 0)),
        ("", "of them Ocean's plain duplicates", obs.get("delivered_by_variant", {}).get("duplicate", 0)),
        ("", "Ocean's echoes of our updates", obs.get("delivered_by_variant", {}).get("echo", 0)),
        ("ingress", "published to Kafka", int(_metric(ingress_admin, "relay_ingress_published_total"))),
        ("", "hub API updates accepted (202)",
         int(_metric(ingress_admin, "relay_ingress_hub_requests_total", {"class": "2xx"}))),
        ("router", "routed to the hub systems", int(_metric(router_admin, "relay_router_records_total", {"outcome": "routed"}))),
        ("", "duplicates dropped", int(_metric(router_admin, "relay_router_records_total", {"outcome": "duplicate"}))),
        ("", "echoes of our updates dropped", int(_metric(router_admin, "relay_router_records_total", {"outcome": "echo"}))),
        ("delivery", "delivered", int(_metric(delivery_admin, "relay_delivery_outcomes_total", {"outcome": "delivered"}))),
        ("", "retries (503s from central-intake)", int(_metric(delivery_admin, "relay_delivery_outcomes_total", {"outcome": "retry"}))),
        ("", "dead-lettered", int(_metric(delivery_admin, "relay_delivery_outcomes_total", {"outcome": "dead-letter"}))),
        ("pos-sim (hub)", "deliveries received", pos.get("deliveries", 0)),
        ("", "decisions made", dec.get("decisions", 0)),
    ]
    for action, n in sorted(dec.get("by_action", {}).items()):
        rows.append(("", f"  {action}", n))
    open_api = obs.get("open_api")
    if open_api and fetcher_admin:
        rows += [
            ("Ocean → ingress", "Open API webhook challenge", open_api.get("challenge", "-")),
            ("(Open API)", "notifications acknowledged", open_api.get("delivered", 0)),
        ]
        for kind, n in sorted(open_api.get("delivered_by_type", {}).items()):
            rows.append(("", f"  {kind}", n))
        retried = open_api.get("attempts", 0) - open_api.get("delivered", 0) - open_api.get("gave_up", 0)
        if retried > 0:
            codes = ", ".join(f"HTTP {c}: {n}" for c, n in sorted(open_api.get("statuses", {}).items()) if c != "200")
            rows.append(("", f"attempts retried ({codes})", retried))
        if open_api.get("gave_up"):
            rows.append(("", "notifications given up", open_api["gave_up"]))
        m = lambda outcome: int(_metric(fetcher_admin, "relay_fetcher_notifications_total", {"outcome": outcome}))
        sessions = sum(int(_metric(fetcher_admin, "relay_fetcher_notifications_total", {"outcome": "delivered", "type": t}))
                       for t in PE_TYPES)
        rows += [
            ("fetcher", "eForm sessions fetched and delivered", sessions),
            ("", "document requests fetched and delivered", m("delivered") - sessions),
            ("", "Open API referrals fetched (to the router)", m("fetched")),
            ("", "dead-lettered", m("dead-lettered")),
        ]
        hub = [(f"eForm sessions received by {route}", n) for route, n in sorted(_eforms_received(pos).items())]
        if bootstrap:
            _, received = _open_api_referrals_delivered(bootstrap, deliveries_path)
            hub += [(f"Open API referrals received by {route}", n) for route, n in sorted(received.items())]
            if not received:
                hub.append(("Open API referrals received", 0))
        by_event = pos.get("by_route_event") or {}
        for route, events in sorted(by_event.items()):
            if events.get("referral-document"):
                hub.append((f"referral documents received by {route}", events["referral-document"]))
            if events.get("eform-link-issued"):
                hub.append((f"eForm links received by {route}", events["eform-link-issued"]))
        rows += [("pos-sim (hub)" if i == 0 else "", what, n) for i, (what, n) in enumerate(hub)]
        w = _writes(ocean_admin)
        if w:
            r = lambda name: int(_metric(fetcher_admin, "relay_fetcher_requests_total", {"outcome": name}))
            links = (w.get("form_links") or {}).get("items", [])
            rows += [
                ("hub → Ocean", "Open API requests sent by the fetcher", r("sent")),
                ("(Open API)", "messages Ocean received (sealed under the SEK)", (w.get("messages") or {}).get("received", 0)),
                ("", "attachments Ocean received", (w.get("attachments") or {}).get("received", 0)),
                ("", "eForm links issued", len(links)),
                ("", "eForm links completed by the patient", sum(1 for link in links if link.get("completed"))),
            ]
    rows += [
        ("updater → Ocean", "updates sent (decisions + received)", int(_metric(updater_admin, "relay_updater_updates_total", {"outcome": "sent"}))),
        ("", "Ocean calls retried", int(_metric(updater_admin, "relay_updater_ocean_retries_total"))),
        ("", "dead-lettered", int(_metric(updater_admin, "relay_updater_dead_letters_total"))),
        ("", "OAuth2 tokens fetched", int(_metric(updater_admin, "relay_updater_tokens_refreshed_total"))),
        ("Ocean (ocean-sim)", "updates applied", sum(1 for u in applied if u.get("outcome") == "accepted")),
        ("", "updates refused", sum(1 for u in applied if u.get("outcome") != "accepted")),
    ]
    folders = {}
    for r in referrals:
        folders[r["folder"]] = folders.get(r["folder"], 0) + 1
    for folder, n in sorted(folders.items()):
        rows.append(("", f"referrals in folder {folder}", n))
    rows.append(("", "referrals showing their decision", f"{_settled(referrals, dec['items'])}/{len(referrals)}"))

    # Latency: the referral's arrival in Ocean's history → its decision applied in Ocean (the whole loop,
    # including pos-sim's deliberate wait before deciding and the retries of failed deliveries).
    ts = _ts
    loop = []
    for r in referrals:
        hist = r.get("history", [])
        if len(hist) >= 2:
            changes = [h for h in hist[1:] if h.get("change") not in ("received",)] or hist[1:]
            loop.append(ts(changes[-1]["at"]) - ts(hist[0]["at"]))
    ocean_ms = _metric(updater_admin, "relay_updater_ocean_request_duration_seconds_sum")
    ocean_n = _metric(updater_admin, "relay_updater_ocean_request_duration_seconds_count")
    print("== summary")
    print(f"  {'stage':18} {'what':48} {'count':>8}")
    print(f"  {'-' * 18} {'-' * 48} {'-' * 8}")
    for stage, what, n in rows:
        print(f"  {stage:18} {what:48} {n!s:>8}")
    print()
    per_route, back = _legs(observations_path, deliveries_path, dec["items"], applied) if observations_path else ({}, [])
    print("  the relay's own legs (p50 / p99 / max):")
    for route, values in sorted(per_route.items()):
        note = " (35% of its first attempts answered 503 on purpose: retries)" if route == "central-intake" else ""
        print(f"    webhook acknowledged → delivered to {route}: {_ms(values, 50)} / {_ms(values, 99)} /"
              f" {1000 * max(values):.1f} ms ({len(values)} referrals){note}")
    if back:
        print(f"    decision acknowledged (202) → applied in Ocean: {_ms(back, 50)} / {_ms(back, 99)} /"
              f" {1000 * max(back):.1f} ms ({len(back)} decisions)")
    print("  the simulated waits (not the relay):")
    print(f"    pos-sim waits {decision_delay_ms} ms before deciding on each referral (a person at the hub)")
    if loop:
        print(f"    referral created in Ocean → decision shown in Ocean, everything included: p50 {_percentile(loop, 50):.2f} s,"
              f" max {max(loop):.2f} s ({len(loop)} referrals; start-up, the decision wait and retries of injected"
              f" failures included)")
    if ocean_n:
        print(f"  updater → Ocean's $process-messages: mean {1000 * ocean_ms / ocean_n:.1f} ms over {int(ocean_n)} calls")


def launch(ocean_api, ref, pos_admin):
    """A clinician's browser through Ocean's Referral System Launch: ocean-sim's "referral sent" link →
    the relay's launch (303, a cookie) → pos-sim's page (which redeemed the context) → Accept → the
    relay's confirmation page. Cookies are kept by hand: the relay's are `Secure`, which Python's cookie
    jar sends over https only, and this walk is on loopback http."""
    import http.client
    import re
    import urllib.parse

    cookies = {}
    steps = []

    def request(method, url, body=None):
        for _ in range(10):
            u = urllib.parse.urlsplit(url)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            target = u.path + (f"?{u.query}" if u.query else "")
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
            if body is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, target, body=body, headers=headers)
            res = conn.getresponse()
            page = res.read().decode("utf-8", "replace")
            for value in res.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                cookies[name] = rest.split(";", 1)[0]
            steps.append(f"{method} {u.scheme}://{u.netloc}{u.path} → {res.status}")
            location = res.getheader("Location")
            if res.status in (301, 302, 303, 307, 308) and location:
                url, method, body = urllib.parse.urljoin(url, location), "GET", None
                continue
            return url, res.status, page
        raise SystemExit("launch: too many redirects")

    url, status, page = request("GET", f"http://127.0.0.1:{ocean_api}/ocean-ui/referrals/{ref}/sent")
    form = re.search(r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="launch" value="([^"]+)">', page)
    if status != 200 or not form:
        print("\n".join(f"    {s}" for s in steps))
        raise SystemExit(f"launch: the hub system's page did not come up ({status})")
    decide = urllib.parse.urljoin(url, form.group(1))
    body = urllib.parse.urlencode({"launch": form.group(2), "outcome": "accepted"})
    url, status, page = request("POST", decide, body)
    for s in steps:
        print(f"    {s}")
    message = re.search(r'<main id="message"><h1>([^<]*)</h1><p role="status">([^<]*)</p>', page)
    if status != 200 or not message:
        raise SystemExit(f"launch: no confirmation page ({status})")
    import html
    print(f"  the relay's confirmation page: \"{html.unescape(message.group(1))}: {html.unescape(message.group(2))}\"")
    seen = _get(pos_admin, "/launches") or {}
    print(f"  pos-sim (the hub system) redeemed {seen.get('redeemed', 0)} context(s), the patient's data came with the"
          f" redemption, and it recorded {seen.get('accepted', 0)} accepted launch(es); the URLs carried refs only")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"webhooks": webhooks, "records": records, "events": events, "deliveries": deliveries,
     "delivered": delivered, "bootstrap": bootstrap, "delivery_events": delivery_events,
     "pos_sim_received": pos_sim_received, "progress": progress, "updates": updates,
     "summary": summary, "launch": launch}[command](*args)
