#!/usr/bin/env python3
"""Writes the committed seed corpora under tests/fuzz/corpus/<target>/ from the repository's fixtures,
examples and test samples. Run from anywhere; it replaces the seed files it owns (seed-*), nothing else.
The seeds stay small: the fuzzers find the rest, and tests/fuzz/run.sh adds larger inputs by path."""
import base64
import json
import os
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests/fuzz/corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / f"seed-{name}").write_bytes(data)


def clear(target):
    d = CORPUS / target
    if d.exists():
        for f in d.glob("seed-*"):
            f.unlink()


SYS = "http://ehealthontario.ca/fhir/NamingSystem/"
EXT = "http://ehealthontario.ca/fhir/StructureDefinition/"


def ident(system, value):
    return {"system": SYS + system, "value": value}


def v0_10_bundle():
    return {
        "resourceType": "Bundle", "id": "bundle-1", "type": "message",
        "timestamp": "2026-11-24T15:17:05.123-05:00",
        "entry": [
            {"resource": {"resourceType": "MessageHeader", "id": "mh-1",
                          "extension": [{"url": EXT + "ext-id-message-header", "valueString": "ref-1"}],
                          "eventCoding": {"system": "http://ehealthontario.ca/fhir/CodeSystem/message-events",
                                          "code": "add-service-request"},
                          "destination": [{"endpoint": "https://relay.example/ocean/2998/fhir",
                                           "receiver": {"reference": "PractitionerRole/target-role"}}],
                          "sender": {"reference": "Organization/cognisant-md"},
                          "focus": [{"reference": "ServiceRequest/ref-1"}]}},
            {"resource": {"resourceType": "Patient", "id": "pt-1",
                          "identifier": [{"system": SYS + "ca-on-patient-hcn", "value": "9876543217",
                                          "extension": [{"url": EXT + "ext-id-health-card-version-code",
                                                         "valueString": "AB"}]}],
                          "name": [{"family": "Doe", "given": ["Jane"]}], "gender": "female",
                          "birthDate": "1970-01-01",
                          "telecom": [{"system": "phone", "value": "555-0100", "use": "home"}]}},
            {"resource": {"resourceType": "ServiceRequest", "id": "ref-1", "status": "active",
                          "intent": "proposal", "subject": {"reference": "Patient/pt-1"},
                          "identifier": [ident("id-ereferral-reference", "ref-1")],
                          "note": [{"text": "<p>Back pain &amp; stiffness<br/>since &#39;May&#39;</p>"}],
                          "performer": [{"reference": "PractitionerRole/target-role"}]}},
            {"resource": {"resourceType": "PractitionerRole", "id": "target-role",
                          "identifier": [ident("id-referral-target-reference", "listing-1"),
                                         ident("id-site-number", "2998"),
                                         ident("id-referral-target-external-service", "Test")]}},
        ],
    }


def v0_11_minimal():
    return {
        "resourceType": "Bundle", "id": "b-2", "type": "message",
        "entry": [
            {"fullUrl": "urn:uuid:mh", "resource": {
                "resourceType": "MessageHeader",
                "extension": [{"url": EXT + "ext-referral-identifier",
                               "valueIdentifier": ident("id-ereferral-reference", "ref-2")}],
                "eventCoding": {"code": "add-service-request"},
                "destination": [{"receiver": {"reference": "urn:uuid:role"}}],
                "focus": [{"reference": "urn:uuid:sr"}]}},
            {"fullUrl": "urn:uuid:sr", "resource": {"resourceType": "ServiceRequest", "id": "sr",
                                                     "performer": [{"reference": "urn:uuid:role"}]}},
            {"fullUrl": "urn:uuid:role", "resource": {
                "resourceType": "PractitionerRole",
                "identifier": [ident("id-referral-target-reference", "listing-2")]}},
        ],
    }


def bundles(target):
    clear(target)
    fixtures = ROOT / "tests/fixtures/ocean-fhir-v0.11.1"
    for f in sorted(fixtures.glob("*.bundle.json")):
        write(target, f.name.replace(".bundle.json", ".json"), f.read_bytes())
    write(target, "v0.10.json", json.dumps(v0_10_bundle()))
    write(target, "v0.11-minimal.json", json.dumps(v0_11_minimal(), indent=1))
    write(target, "not-a-message.json", '{"resourceType":"Bundle","type":"collection","entry":[]}')
    write(target, "array.json", "[1, 2.5e3, true, null, \"\\u00e9\"]")


def hub_update():
    clear("hub_update")
    common = {"update_id": "u-1", "referral_ref": "09eb136e-fcdb-454f-8cd7-a415c19cda40"}
    samples = {
        "accept": {"action": "accept", "import_to_emr": True, "site": "1234",
                   "requested_at": "2026-11-24T10:00:00-05:00"},
        "decline": {"action": "decline", "reason": "Outside our catchment area"},
        "forward": {"action": "forward", "listing_ref": "ocean_autorouter_loc80783874", "reason": "Better fit"},
        "switch-type": {"action": "switch_type", "econsult": True},
        "book": {"action": "book", "appointment": {
            "start": "2026-12-01T09:30:00-05:00", "end": "2026-12-01T10:00:00-05:00", "confirmed": False,
            "type_text": "Consult", "instructions": "Bring your health card", "wait_time_milestone": "wait-1a"}},
        "change-booking": {"action": "change_booking", "appointment": {
            "id": "appt-1", "start": "2026-12-02T09:30:00Z", "end": "2026-12-02T10:00:00.5Z", "confirmed": True}},
        "cancel-booking": {"action": "cancel_booking", "appointment": {"id": "appt-1"}, "reason": "Clinic closed"},
        "booking-instructions": {"action": "booking_instructions", "instructions": "Call us to book"},
        "message": {"action": "message", "text": "Please send the MRI report", "attachment": {
            "content_type": "application/pdf", "data": "JVBERi0xLjQK", "title": "request.pdf"}},
        "received": {"action": "received"},
        "complete": {"action": "complete"},
    }
    for name, members in samples.items():
        write("hub_update", name + ".json", json.dumps({**common, **members}))
    write("hub_update", "unknown-members.json",
          '{"update_id":"u","referral_ref":"r","action":"accept","colour":"blue","reason":7}')


def ocean_decrypt():
    clear("ocean_decrypt")
    from_hex = bytes.fromhex("dd62837aaf1d3c1bf0d5e8a1c9b4e2770011223344556677889900aabbccddee")
    b64 = base64.b64encode(from_hex).decode()
    write("ocean_decrypt", "base64.txt", b64)
    write("ocean_decrypt", "json-string.txt", '"' + b64.replace("/", "\\/") + '"')
    write("ocean_decrypt", "signed-bytes.json",
          "[" + ",".join(str(struct.unpack("b", bytes([c]))[0]) for c in from_hex) + "]")
    write("ocean_decrypt", "block.json",
          json.dumps({"data": b64, "iv": base64.b64encode(bytes(range(16))).decode()}))
    write("ocean_decrypt", "block-array.json",
          '{"iv":"AAECAwQFBgcICQoLDA0ODw==","data":[-35, 98, -125, 122, 175, 29, 60, 27, 240, 213, 232, 161, 201, 180, 226, 119]}')
    write("ocean_decrypt", "sek.txt", "SharedEncryptKey")
    write("ocean_decrypt", "raw-block", from_hex)


def auth_token():
    # FuzzedDataProvider reads the target's selector from the input's last byte (0 tokens, 1 headers,
    # 2 webhooks) and integers from the end; strings from the front, a backslash ending each one.
    clear("auth_token")
    jwt = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
           + base64.urlsafe_b64encode(json.dumps(
               {"iss": "ocean-relay", "aud": "central-intake", "sub": "ocean", "iat": 1767225600,
                "exp": 1767229200, "jti": "x"}).encode()).decode().rstrip("=")
           + ".c2lnbmF0dXJl")
    payload = '{"iss":"ocean-relay","aud":"central-intake","sub":"ocean","scope":"fhir","iat":1767225600,"exp":1767229200}'
    write("auth_token", "token", jwt + "\\\n" + payload + "\\\nocean\\\nfhir\\\n" + "\x10\x00")
    write("auth_token", "headers",
          "Basic b2NlYW46czNjcmV0\\\nuser\\\npass\\\napplication/x-www-form-urlencoded\\\n"
          "grant_type=client_credentials&client_id=ocean&client_secret=s3cret&scope=fhir\\\n"
          "grant_type=client_credentials\\\n" + "\x01")
    write("auth_token", "webhook",
          "msg_2KWPBgLlAfxdpx2AI54pPJ85f1W\\\n1767225600\\\nv1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1,bm9wZQ==\\\n"
          + '{"test": 2432232314}' + "\x2c\x01\x02")


def config_load():
    clear("config_load")
    for f in sorted((ROOT / "services").glob("*/config/*.yaml")):
        write("config_load", f.name, f.read_bytes())
    write("config_load", "typed.yaml",
          "a:\n  fuzzenv: 1\n  n: 42\n  d: 250ms\n  b: 20MiB\n  f: 0.25\n  t: true\n"
          "  l: [x, y]\n  m: {k: v}\n  secret: {value: s3cret}\nitems:\n  - {name: one, n: 1}\n"
          "  - name: two\n    anchors: &x {d: 5s}\n    again: *x\n")


if __name__ == "__main__":
    bundles("fhir_extract")
    bundles("referral_parse")
    hub_update()
    ocean_decrypt()
    auth_token()
    config_load()
    for d in sorted(CORPUS.iterdir()):
        size = sum(f.stat().st_size for f in d.iterdir())
        print(f"{d.name}: {len(list(d.iterdir()))} files, {size} bytes")
