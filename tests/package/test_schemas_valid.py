"""nnpm's own schemas are valid JSON Schemas: checked here, once, instead of on every run."""

from __future__ import annotations

import jsonschema
import pytest

from nnpm.package.schema import SCHEMAS, load_schema


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_each_shipped_schema_is_a_valid_json_schema(name: str) -> None:
    schema = load_schema(name)
    jsonschema.validators.validator_for(schema).check_schema(schema)


def test_a_broken_schema_would_be_caught() -> None:
    with pytest.raises(jsonschema.exceptions.SchemaError):
        jsonschema.Draft202012Validator.check_schema({"type": "no-such-type"})
