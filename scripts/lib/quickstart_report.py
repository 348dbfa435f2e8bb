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
    {"webhooks": webhooks, "records": records, "delivered": delivered, "bootstrap": bootstrap}[command](*args)
