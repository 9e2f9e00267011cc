"""Hostile and malformed input (issue 16): each case is refused with one of nnpm's own errors.

docs/bad-input.md lists every case with its message and exit code.
"""

from __future__ import annotations

import pytest

from nnpm.errors import InvalidNameError, ManifestError
from nnpm.package.manifest import Manifest
from nnpm.package.naming import PackageName, validate_part
from tests.factories import make_manifest

# --- 1. names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["digits/mlp\n", "digits\n/mlp", "digits/mlp\r\n"])
def test_a_name_with_a_trailing_newline_is_refused(text):
    with pytest.raises(InvalidNameError):
        PackageName.parse(text)


def test_a_registry_name_with_a_trailing_newline_is_refused():
    with pytest.raises(InvalidNameError):
        validate_part("local\n", what="registry name")


def _with_file(path: str, text: str | None = None) -> str:
    text = text or make_manifest().to_toml()
    return text + f'\n[files."{path}"]\nsha256 = "{"0" * 64}"\nsize = 1\n'


def test_a_file_name_with_a_trailing_newline_is_refused():
    with pytest.raises(ManifestError, match="unsafe file path"):
        Manifest.from_toml(_with_file("data.bin\\n"))


@pytest.mark.parametrize("name", ["con/mlp", "digits/nul", "aux/x", "digits/prn", "com1/x", "digits/lpt9"])
def test_windows_reserved_package_names_are_refused(name):
    with pytest.raises(InvalidNameError, match="reserved on Windows"):
        PackageName.parse(name)


@pytest.mark.parametrize("path", ["con", "NUL.bin", "aux.safetensors", "sub/com1.txt", "lpt3", "Prn.tar.gz"])
def test_windows_reserved_file_names_are_refused(path):
    with pytest.raises(ManifestError, match="reserved on Windows"):
        Manifest.from_toml(_with_file(path))


@pytest.mark.parametrize("path", ["console.bin", "com10.txt", "nullable", "auxiliary/x.bin"])
def test_names_that_only_start_like_reserved_ones_are_fine(path):
    assert path in Manifest.from_toml(_with_file(path)).files


def test_two_files_that_differ_only_by_case_are_refused():
    with pytest.raises(ManifestError, match="differ only by case"):
        Manifest.from_toml(_with_file("Data.bin", _with_file("data.bin")))


def test_pack_refuses_files_that_differ_only_by_case(tmp_path):
    from nnpm.package.pack import pack

    (tmp_path / "nnpm.toml").write_text(make_manifest().to_toml().replace('family = "mlp"', 'family = "mlp"'))
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "A.txt").write_text("b")
    with pytest.raises(ManifestError, match="differ only by case"):
        pack(tmp_path)
