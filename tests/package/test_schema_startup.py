"""Start-up (issue 15): nnpm's own schemas are checked by tests/package/test_schemas_valid.py, never
at run time, jsonschema is imported only where a document is validated, and bytes that passed their
schema once are not validated again (nnpm.package.validated)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from nnpm import api
from nnpm.errors import IntegrityError, ManifestError
from nnpm.package import validated
from nnpm.package.manifest import Manifest
from nnpm.registry.sparse_index import package_path

EXAMPLE = Path(__file__).parents[2] / "examples" / "packages" / "digits-mlp"


def test_validating_a_manifest_never_checks_nnpm_s_own_schemas(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a schema of nnpm's own was checked at run time")

    for cls in (jsonschema.Draft202012Validator, jsonschema.Draft7Validator):
        monkeypatch.setattr(cls, "check_schema", classmethod(refuse))
    assert str(Manifest.read(EXAMPLE / "nnpm.toml").name) == "digits/mlp"


def _imports(nnpm_home: Path, *args: str) -> tuple[str, bool, bool]:
    """`nnpm ARGS` in a fresh interpreter: (its output, whether it imported jsonschema, torch)."""
    code = (
        f"import sys\nfrom nnpm.cli import main\ntry:\n    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "print('jsonschema' in sys.modules, 'torch' in sys.modules)"
    )
    env = {**os.environ, "NNPM_HOME": str(nnpm_home)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    *output, last = done.stdout.strip().splitlines() or [done.stderr]
    return "\n".join(output), last.split()[0] == "True", last.split()[-1] == "True"


def test_nnpm_list_does_not_import_jsonschema(nnpm_home, workdir):
    api.publish(EXAMPLE)
    api.install(["digits/mlp"], project=False)
    output, jsonschema_imported, torch_imported = _imports(nnpm_home, "list")
    assert "digits/mlp" in output
    assert not jsonschema_imported and not torch_imported


def _show_imports_jsonschema(nnpm_home: Path) -> bool:
    output, jsonschema_imported, _ = _imports(nnpm_home, "show", "digits/mlp")
    assert "digits/mlp 1.0.0 (model)" in output
    return jsonschema_imported


def test_a_second_show_of_unchanged_files_does_not_import_jsonschema(nnpm_home, workdir):
    api.publish(EXAMPLE)
    assert _show_imports_jsonschema(nnpm_home)  # the index file and the manifest: validated, remembered
    assert not _show_imports_jsonschema(nnpm_home)
    assert len(list((nnpm_home / "cache" / "validated").rglob("*/*"))) == 2


def test_remembered_bytes_do_not_excuse_other_bytes(nnpm_home, workdir):
    api.publish(EXAMPLE)
    api.show("digits/mlp")  # the valid index file is remembered
    index = package_path(nnpm_home / "registry", "digits/mlp")
    doc = json.loads(index.read_text(encoding="utf-8"))
    doc["versions"]["1.0.0"]["kind"] = "weights"  # not a kind the schema knows
    index.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"versions\.1\.0\.0\.kind: expected one of"):
        api.show("digits/mlp")


def test_show_refuses_a_manifest_whose_bytes_the_index_does_not_name(nnpm_home, workdir):
    api.publish(EXAMPLE)
    manifest = nnpm_home / "registry" / "packages" / "digits" / "mlp" / "1.0.0" / "nnpm.toml"
    manifest.chmod(0o644)
    manifest.write_text(manifest.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    with pytest.raises(IntegrityError, match="manifest sha256 mismatch") as caught:
        api.show("digits/mlp")
    assert "registry local" in caught.value.one_line() and "tell its publisher" in caught.value.one_line()


def test_a_marker_counts_only_as_a_regular_file_under_the_folder_given(tmp_path):
    folder = tmp_path / "validated"
    Manifest.read(EXAMPLE / "nnpm.toml")  # no folder given: nothing remembered anywhere
    assert not folder.exists()
    with validated.remembered_in(folder):
        Manifest.read(EXAMPLE / "nnpm.toml")
    (marker,) = folder.rglob("*/*")
    assert validated.known(marker)
    marker.unlink()
    marker.symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").write_text("")
    assert not validated.known(marker)  # a link planted in its place is no proof


def test_a_home_that_cannot_hold_markers_still_reads(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with validated.remembered_in(blocked / "validated"):
        assert str(Manifest.read(EXAMPLE / "nnpm.toml").name) == "digits/mlp"
        assert str(Manifest.read(EXAMPLE / "nnpm.toml").name) == "digits/mlp"
    assert blocked.read_text() == "not a folder"
