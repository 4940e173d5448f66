#!/usr/bin/python3
"""Validates the Raise adapter's golden outputs against the contract's JSON
Schema (raise-export.schema.json, draft 2020-12): import files against
#/$defs/importFile (contract 14, checklist item 14), and the fixtures
against #/$defs/exportFile. Needs Debian's python3-jsonschema.

Usage: check_schema.py <schema.json> <fixtures dir>
"""
import json
import pathlib
import sys

import jsonschema


def main():
    schema = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
    fixtures = pathlib.Path(sys.argv[2])
    cls = jsonschema.validators.validator_for(schema)
    failures = 0

    def check(path, ref):
        nonlocal failures
        sub = {"$ref": "#/$defs/" + ref, "$defs": schema["$defs"]}
        if "$schema" in schema:
            sub["$schema"] = schema["$schema"]
        doc = json.loads(path.read_text(encoding="utf-8"))
        errors = list(cls(sub, format_checker=cls.FORMAT_CHECKER).iter_errors(doc))
        for e in errors:
            print(f"{path.name}: {ref}: {'/'.join(map(str, e.absolute_path))}: "
                  f"{e.message[:200]}")
        failures += len(errors)
        print(f"{path.name}: {ref}: {'ok' if not errors else 'FAILED'}")

    imports = sorted(fixtures.glob("import-*.golden.json"))
    if not imports:
        print("no import goldens found")
        return 1
    for p in imports:
        check(p, "importFile")
    check(fixtures / "raise-export-20260330T010005Z.json", "exportFile")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
