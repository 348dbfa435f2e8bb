#!/usr/bin/env python3
"""Validate the hub API's OpenAPI 3.1 document with openapi-spec-validator, then every request
example against its operation's request schema (jsonschema, draft 2020-12) and every example's
x-record against the canonical update JSON Schema (libs/hub/schemas/update.schema.json).

    validate_hub_openapi.py <hub-api.yaml> <update.schema.json>

Exit 0 when valid, 1 when not, 2 when a tool is missing. Never prints example values.
"""
import json
import sys

try:
    import yaml
    import jsonschema
    import referencing
    from openapi_spec_validator import validate
except ImportError as e:  # pragma: no cover
    print(f"validate_hub_openapi: {e.name} is not installed "
          "(scripts/install-deps.sh --test installs python3-openapi-spec-validator)", file=sys.stderr)
    sys.exit(2)


def main(spec_path, update_schema_path):
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    validate(spec)
    with open(update_schema_path, encoding="utf-8") as f:
        update_schema = json.load(f)
    doc = referencing.Resource.from_contents(spec, default_specification=referencing.jsonschema.DRAFT202012)
    registry = referencing.Registry().with_resource("urn:hub-api", doc)
    failures = 0
    examples = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "requestBody" not in op:
                continue
            media = op["requestBody"]["content"].get("application/json")
            if media is None:
                continue
            pointer = media["schema"]["$ref"].lstrip("#")
            validator = jsonschema.Draft202012Validator({"$ref": "urn:hub-api#" + pointer}, registry=registry)
            if not media.get("examples"):
                print(f"{method.upper()} {path}: no request example")
                failures += 1
            for name, example in media.get("examples", {}).items():
                examples += 1
                for error in validator.iter_errors(example["value"]):
                    print(f"{method.upper()} {path} example {name}: {list(error.absolute_path)} {error.validator}")
                    failures += 1
                if "x-path" not in example or "x-record" not in example:
                    print(f"{method.upper()} {path} example {name}: needs x-path and x-record")
                    failures += 1
                    continue
                for error in jsonschema.Draft202012Validator(update_schema).iter_errors(example["x-record"]):
                    print(f"{method.upper()} {path} example {name} x-record: {list(error.absolute_path)} "
                          f"{error.validator}")
                    failures += 1
    print(f"validate_hub_openapi: document valid; {examples} examples, {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
