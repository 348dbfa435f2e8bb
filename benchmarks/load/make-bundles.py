#!/usr/bin/env python3
"""Load-test bodies for run-load.sh: real Ocean add-service-request bundles padded to an exact size.

    make-bundles.py FIXTURE SIZE OUT_PREFIX [VARIANTS]

Writes OUT_PREFIX-00.json ... OUT_PREFIX-<VARIANTS-1>.json, each exactly SIZE bytes of valid JSON:
the fixture, minified, with its referral ref (ServiceRequest id-ereferral-reference, everywhere it
occurs) replaced by a distinct uuid per variant, so the load spreads over Kafka partitions the way
many referrals do (the ingress keys records by referral ref). Padding, to reach SIZE:
  * under 4 KiB missing: one more QuestionnaireResponse item (a free-text answer), like a longer eForm;
  * otherwise: DocumentReference.content[0].attachment.data, base64 of pseudo-random bytes (the
    referral letter PDF Ocean can attach), plus 0-3 spaces of JSON whitespace for the exact size.
"""
import base64
import json
import random
import sys
import uuid


def find_referral_ref(bundle):
    header = bundle["entry"][0]["resource"]
    for ext in header.get("extension", []):
        if ext.get("url", "").endswith("ext-referral-identifier"):
            return ext["valueIdentifier"]["value"]
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "ServiceRequest":
            for ident in res.get("identifier", []):
                if ident.get("system", "").endswith("id-ereferral-reference"):
                    return ident["value"]
    raise SystemExit("fixture has no referral ref")


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def pad_questionnaire(bundle, size):
    qr = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    item = {"linkId": "loadTestNotes", "text": "Additional notes:", "answer": [{"valueString": ""}]}
    qr.setdefault("item", []).append(item)
    missing = size - len(dumps(bundle).encode())
    if missing < 0:
        raise SystemExit(f"fixture is already larger than {size} bytes with the padding item")
    words = "Patient reports intermittent lower back pain worsening with prolonged sitting. "
    item["answer"][0]["valueString"] = (words * (missing // len(words) + 1))[:missing]
    return dumps(bundle)


def pad_attachment(bundle, size):
    doc = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference")
    attachment = doc["content"][0]["attachment"]
    attachment["data"] = ""
    missing = size - len(dumps(bundle).encode())
    if missing < 0:
        raise SystemExit(f"fixture is already larger than {size} bytes")
    chars = missing - missing % 4
    rng = random.Random(size)
    attachment["data"] = base64.b64encode(rng.randbytes(chars // 4 * 3)).decode()
    text = dumps(bundle)
    return text[:-1] + " " * (size - len(text.encode())) + "}"


def main():
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    fixture, size, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    variants = int(sys.argv[4]) if len(sys.argv) == 5 else 16
    with open(fixture, encoding="utf-8") as f:
        original = json.load(f)
    if original.get("resourceType") != "Bundle" or original.get("type") != "message":
        raise SystemExit("fixture is not a message Bundle")
    ref = find_referral_ref(original)
    base_text = dumps(original)
    for i in range(variants):
        new_ref = str(uuid.UUID(int=random.Random(i).getrandbits(128), version=4))
        bundle = json.loads(base_text.replace(ref, new_ref))
        missing = size - len(dumps(bundle).encode())
        text = pad_questionnaire(bundle, size) if missing < 4096 else pad_attachment(bundle, size)
        data = text.encode()
        assert len(data) == size, (len(data), size)
        json.loads(data)  # valid JSON
        with open(f"{prefix}-{i:02d}.json", "wb") as out:
            out.write(data)


if __name__ == "__main__":
    main()
