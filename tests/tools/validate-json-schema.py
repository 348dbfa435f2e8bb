#!/usr/bin/env python3
"""Validate JSON files against a JSON Schema (draft 2020-12) with python3-jsonschema.

    validate-json-schema.py <schema.json> <file-or-dir>...        dirs: every *.json below, sorted
    validate-json-schema.py --expect-invalid <schema.json> <file>...  each file must FAIL (tests the schema)

Checks the schema itself first (metaschema), then every instance. Prints one line per error
(file, JSON path, validator keyword; never the offending value: the instances can hold patient data)
and a summary. Exit 0 when all are valid, 1 when some instance is invalid, 2 on usage/setup errors.
"""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:  # pragma: no cover
    print("validate-json-schema: python3-jsonschema is not installed (scripts/install-deps.sh --test)",
          file=sys.stderr)
    sys.exit(2)


def instances(paths):
    for p in paths:
        path = pathlib.Path(p)
        if path.is_dir():
            files = sorted(path.rglob("*.json"))
            if not files:
                raise SystemExit(f"validate-json-schema: no *.json under {path}")
            yield from files
        elif path.is_file():
            yield path
        else:
            raise SystemExit(f"validate-json-schema: {path}: no such file or directory")


def main(argv):
    expect_invalid = False
    if argv and argv[0] == "--expect-invalid":
        expect_invalid = True
        argv = argv[1:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    schema = json.loads(pathlib.Path(argv[0]).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    if cls is not jsonschema.Draft202012Validator:
        print("validate-json-schema: the schema must declare draft 2020-12", file=sys.stderr)
        return 2
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    files = failed = errors = 0
    for path in instances(argv[1:]):
        files += 1
        try:
            instance = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            print(f"{path}: not UTF-8 JSON ({type(e).__name__})")
            failed += 1
            continue
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if expect_invalid:
            if found:
                print(f"{path}: invalid as expected ({found[0].validator} at {found[0].json_path})")
            else:
                print(f"{path}: FAIL (expected invalid, but it validates)")
                failed += 1
            continue
        for e in found:
            print(f"{path}: ERROR at {e.json_path}: violates '{e.validator}' (schema {'/'.join(map(str, e.absolute_schema_path))})")
        errors += len(found)
        if found:
            failed += 1
    print(f"validate-json-schema: {files} file(s), {failed} failed, {errors} error(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
