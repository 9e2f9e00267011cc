"""Start-up (issue 15): nnpm's own schemas are checked by tests/package/test_schemas_valid.py, never
at run time, and jsonschema is imported only where a document from a user is validated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jsonschema

from nnpm import api
from nnpm.package.manifest import Manifest

EXAMPLE = Path(__file__).parents[2] / "examples" / "packages" / "digits-mlp"


def test_validating_a_manifest_never_checks_nnpm_s_own_schemas(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a schema of nnpm's own was checked at run time")

    for cls in (jsonschema.Draft202012Validator, jsonschema.Draft7Validator):
        monkeypatch.setattr(cls, "check_schema", classmethod(refuse))
    assert str(Manifest.read(EXAMPLE / "nnpm.toml").name) == "digits/mlp"


def test_nnpm_list_does_not_import_jsonschema(nnpm_home, workdir):
    api.publish(EXAMPLE)
    api.install(["digits/mlp"], project=False)
    code = (
        "import sys\nfrom nnpm.cli import main\ntry:\n    main(['list'])\nexcept SystemExit:\n    pass\n"
        "print('jsonschema' in sys.modules, 'torch' in sys.modules)"
    )
    env = {**os.environ, "NNPM_HOME": str(nnpm_home)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "digits/mlp" in done.stdout, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False False"
