"""Validate documents against the versioned JSON Schemas in registry_schema/.

The schemas are the normative description of nnpm's files; this module only finds
them and turns the first violation into one line that names the file and the field
(`source.classes: expected an array`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nnpm.errors import ManifestError
from nnpm.package import validated

#: Schema name -> file name; the version is part of the file name and of the $id.
SCHEMAS = {
    "manifest": "manifest.v1.schema.json",
    "project": "project.v1.schema.json",
    "lock": "lock.v1.schema.json",
    "index": "index.v1.schema.json",  # the one index.json of registries before the per-package files
    "package-index": "package-index.v1.schema.json",
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


#: How deep tables and arrays may nest in any of nnpm's documents: far beyond what a real one needs,
#: far below what would exhaust Python's recursion limit in a parser, a validator or a writer.
MAX_DEPTH = 32
#: The integers a document may hold: TOML's (64-bit signed), so that no reader meets 10**400.
_INT64 = (-(2**63), 2**63 - 1)


def check_document(doc: Any, *, where: str) -> None:
    """Refuse what no schema can say: nesting deeper than MAX_DEPTH, and inf or NaN anywhere.

    Iterative, so that a hostile document cannot make this check itself recurse too deep.
    """
    stack: list[tuple[Any, tuple[str, ...]]] = [(doc, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, Mapping | list | tuple):
            if len(path) >= MAX_DEPTH:
                raise ManifestError(
                    f"{_path(path)}: tables and arrays nested more than {MAX_DEPTH} levels deep",
                    where=where,
                    hint=f"nnpm's files nest at most {MAX_DEPTH} levels; flatten the value",
                )
            if isinstance(value, Mapping):
                key = next((k for k in value if not isinstance(k, str)), None)
                if key is not None or None in value:
                    raise ManifestError(
                        f"{_path(path)}: key {_short(key)} is not a string",
                        where=where,
                        hint="the keys of nnpm's tables are strings",
                    )
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            stack.extend((v, (*path, str(k))) for k, v in items)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ManifestError(
                f"{_path(path)}: expected a finite number, found {value}",
                where=where,
                hint="inf and nan are not allowed in nnpm's files: write a finite number",
            )
        elif isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
            raise ManifestError(
                f"{_path(path)}: integer {_short(value)} is out of range",
                where=where,
                hint="integers in nnpm's files fit in 64 bits (as TOML's do), -2**63 to 2**63-1",
            )


def _path(parts: tuple[str, ...]) -> str:
    text = ".".join(parts) or "(top level)"
    return text if len(text) <= 120 else text[:60] + "..." + text[-40:]


def _is_pep440(value: Any) -> bool:
    from packaging.version import Version

    if isinstance(value, str):
        Version(value)
    return True


@functools.cache
def _validator(name: str):
    import jsonschema  # imported on first validation: it costs ~0.1 s of start-up
    from packaging.version import InvalidVersion

    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)  # the schemas themselves are checked by the tests
    checker = jsonschema.FormatChecker()
    checker.checks("pep440-version", raises=InvalidVersion)(_is_pep440)
    return cls(schema, format_checker=checker)


def validate(doc: Mapping[str, Any], name: str, *, where: str, source: bytes | str | None = None) -> None:
    """Raise ManifestError naming the first (most relevant) violation, if any.

    `source`: the exact text `doc` was parsed from. Where given, and where the caller set a folder
    (nnpm.package.validated), bytes that passed this schema before are not validated again."""
    check_document(doc, where=where)
    seen = None
    if source is not None:
        seen = validated.marker(
            schema_sha256(name), source.encode("utf-8") if isinstance(source, str) else source
        )
        if validated.known(seen):
            return
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(name).iter_errors(doc))
    if error is not None:
        raise ManifestError(describe(error), where=where)
    validated.remember(seen)


@functools.cache
def schema_sha256(name: str) -> str:
    """sha256 of the schema file: remembered validations hold only for the very same schema."""
    return hashlib.sha256((schema_dir() / SCHEMAS[name]).read_bytes()).hexdigest()


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
        extra = sorted(map(str, set(error.instance) - set(error.schema.get("properties", {}))))
        message = f"unknown field {extra[0]!r}" if extra else error.message
    elif validator == "enum":
        message = "expected one of " + ", ".join(repr(v) for v in expected)
    elif validator == "pattern":
        message = f"{_short(error.instance)} is not in the expected form ({error.schema.get('description', expected)})"
    elif validator == "format" and expected == "pep440-version":
        message = f"{_short(error.instance)} is not a PEP 440 version (such as 1.0.0)"
    elif validator == "maxLength":
        message = f"{len(error.instance)} characters, at most {expected} are allowed"
    else:
        message = _short(error.message, 200)
    return f"{path}: {message}"


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return (
            f"{'-' if value < 0 else ''}2**{value.bit_length() - 1} or more"  # repr() refuses 4,300+ digits
        )
    text = value if isinstance(value, str) and limit == 200 else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
