"""Validate documents against the versioned JSON Schemas in registry_schema/.

The schemas are the normative description of nnpm's files; this module only finds
them and turns the first violation into one line that names the file and the field
(`source.classes: expected an array`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nnpm.errors import ManifestError

#: Schema name -> file name; the version is part of the file name and of the $id.
SCHEMAS = {
    "manifest": "manifest.v1.schema.json",
    "project": "project.v1.schema.json",
    "lock": "lock.v1.schema.json",
    "index": "index.v1.schema.json",
}

_TYPE_NAMES = {
    "array": "an array",
    "object": "a table",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
}


def schema_dir() -> Path:
    """registry_schema/ as shipped in the wheel, or beside the package in a source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_registry_schema", here.parent / "registry_schema"):
        if candidate.is_dir():
            return candidate
    raise ManifestError("registry_schema/ is missing from this installation", hint="reinstall nnpm")


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    return json.loads((schema_dir() / SCHEMAS[name]).read_text(encoding="utf-8"))


@functools.cache
def _validator(name: str):
    import jsonschema  # imported on first validation: it costs ~0.1 s of start-up

    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate(doc: Mapping[str, Any], name: str, *, where: str) -> None:
    """Raise ManifestError naming the first (most relevant) violation, if any."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(name).iter_errors(doc))
    if error is not None:
        raise ManifestError(describe(error), where=where)


def describe(error) -> str:
    """`field.path: what was expected`, in words a user understands."""
    path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    validator, expected = error.validator, error.validator_value
    if validator == "type":
        names = expected if isinstance(expected, list) else [expected]
        message = "expected " + " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    elif validator == "required":
        missing = [k for k in expected if k not in error.instance]
        message = f"missing required field {missing[0]!r}" if missing else error.message
    elif validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        message = f"unknown field {extra[0]!r}" if extra else error.message
    elif validator == "enum":
        message = "expected one of " + ", ".join(repr(v) for v in expected)
    elif validator == "pattern":
        message = (
            f"{error.instance!r} is not in the expected form ({error.schema.get('description', expected)})"
        )
    else:
        message = error.message
    return f"{path}: {message}"
