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
        print(f"  p{partition}@{offset:<3} key={key} event={h['event']} dialect={h['fhir-dialect']} site={h['site']}"
              f" listing={h.get('listing-ref', '')} service={h.get('external-service-id', '')}"
              f" message-id={h['message-id']} bytes={size}")


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


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"webhooks": webhooks, "records": records, "events": events, "deliveries": deliveries,
     "delivered": delivered, "bootstrap": bootstrap, "delivery_events": delivery_events,
     "pos_sim_received": pos_sim_received}[command](*args)
