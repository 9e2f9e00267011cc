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


# --- 2. manifests, locks, project files and indexes -----------------------------------------------


def test_a_fifo_as_the_manifest_is_refused_without_hanging(tmp_path):
    import os

    os.mkfifo(tmp_path / "nnpm.toml")
    with pytest.raises(ManifestError, match="not a regular file"):
        Manifest.read(tmp_path / "nnpm.toml")


def test_dev_zero_as_the_manifest_is_refused(tmp_path):
    (tmp_path / "nnpm.toml").symlink_to("/dev/zero")
    with pytest.raises(ManifestError, match="not a regular file"):
        Manifest.read(tmp_path / "nnpm.toml")


def test_a_manifest_over_the_size_cap_is_refused(tmp_path):
    from nnpm.package.files import MAX_MANIFEST_BYTES

    (tmp_path / "nnpm.toml").write_text(make_manifest().to_toml() + "#" * MAX_MANIFEST_BYTES)
    with pytest.raises(ManifestError, match="larger than"):
        Manifest.read(tmp_path / "nnpm.toml")


_DEEP = {
    "inline tables": "\n[provenance]\nx = " + "{a = " * 1200 + "1" + "}" * 1200 + "\n",
    "arrays": "\n[provenance]\nx = " + "[" * 1200 + "]" * 1200 + "\n",
    "dotted tables": "\n[provenance." + ".".join(["a"] * 1200) + "]\nx = 1\n",
}


@pytest.mark.parametrize("kind", sorted(_DEEP))
def test_deeply_nested_toml_in_a_manifest_is_a_manifest_error(kind):
    with pytest.raises(ManifestError, match="nested"):
        Manifest.from_toml(make_manifest().to_toml() + _DEEP[kind])


def test_pack_refuses_deeply_nested_tables(tmp_path):
    from nnpm.package.pack import pack

    (tmp_path / "nnpm.toml").write_text(make_manifest().to_toml() + _DEEP["dotted tables"])
    with pytest.raises(ManifestError, match="nested"):
        pack(tmp_path)


def test_deeply_nested_lock_and_project_files_are_manifest_errors(tmp_path):
    from nnpm.resolve.lock import read_lock
    from nnpm.resolve.project import read_project

    (tmp_path / "nnpm.lock").write_text("lock-version = 1\nx = " + "[" * 1200 + "]" * 1200 + "\n")
    with pytest.raises(ManifestError, match="nested"):
        read_lock(tmp_path / "nnpm.lock")
    (tmp_path / "nnpm.toml").write_text("[project]\nx = " + "{a = " * 1200 + "1" + "}" * 1200 + "\n")
    with pytest.raises(ManifestError, match="nested"):
        read_project(tmp_path)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("hidden = [8]", "hidden = [8]\ndropout = nan"),
        ("hidden = [8]", "hidden = [8]\nscale = inf"),
        ("hidden = [8]", "hidden = [8]\nscale = -inf"),
        ("mean = [0.3]", "mean = [nan]"),
        ("std = [0.4]", "std = [inf]"),
    ],
)
def test_inf_and_nan_in_architecture_params_and_input_statistics_are_refused(old, new):
    text = make_manifest().to_toml()
    assert old in text
    with pytest.raises(ManifestError, match="finite"):
        Manifest.from_toml(text.replace(old, new))


def test_a_description_over_the_cap_is_refused():
    from nnpm.package.manifest import MAX_DESCRIPTION_CHARS

    manifest = make_manifest(description="x" * (MAX_DESCRIPTION_CHARS + 1))
    with pytest.raises(ManifestError, match="description") as err:
        Manifest.from_toml(manifest.to_toml())
    assert len(err.value.one_line()) < 500
    Manifest.from_toml(make_manifest(description="x" * MAX_DESCRIPTION_CHARS).to_toml())


def _lock_text(version: str) -> str:
    return (
        'lock-version = 1\nrequires = ["test/mlp"]\n\n[[package]]\nname = "test/mlp"\n'
        f'version = "{version}"\nregistry = "local"\nsha256 = "{"a" * 64}"\nfiles = {{}}\n'
    )


def test_a_non_pep440_version_in_a_lock_is_a_clear_error(tmp_path):
    from nnpm.resolve.lock import read_lock

    (tmp_path / "nnpm.lock").write_text(_lock_text("1.0.0"))
    assert read_lock(tmp_path / "nnpm.lock") is not None
    (tmp_path / "nnpm.lock").write_text(_lock_text("banana"))
    with pytest.raises(ManifestError, match="PEP 440"):
        read_lock(tmp_path / "nnpm.lock")


def test_a_non_pep440_version_in_an_index_is_a_clear_error(tmp_path):
    import json

    from nnpm.registry.local import LocalRegistry

    row = {"sha256": "a" * 64, "kind": "model"}
    (tmp_path / "index.json").write_text(
        json.dumps({"index-version": 1, "packages": {"test/mlp": {"banana": row}}})
    )
    with pytest.raises(ManifestError, match="PEP 440"):
        LocalRegistry("local", str(tmp_path)).versions(PackageName.parse("test/mlp"))


def test_an_index_description_over_the_cap_is_refused(tmp_path):
    import json

    from nnpm.registry.local import LocalRegistry

    row = {"sha256": "a" * 64, "kind": "model", "description": "x" * 20_000}
    (tmp_path / "index.json").write_text(
        json.dumps({"index-version": 1, "packages": {"test/mlp": {"1.0": row}}})
    )
    with pytest.raises(ManifestError, match="description"):
        LocalRegistry("local", str(tmp_path)).versions(PackageName.parse("test/mlp"))


# --- 3. safetensors headers -------------------------------------------------------------------------


def _safetensors(header, data: bytes = b"", *, length: int | None = None) -> bytes:
    import json
    import struct

    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def _t(begin: int, end: int, shape=None, dtype: str = "F32") -> dict:
    return {
        "dtype": dtype,
        "shape": [(end - begin) // 4] if shape is None else shape,
        "data_offsets": [begin, end],
    }


_GOOD = {"a": _t(0, 8), "b": _t(8, 16), "__metadata__": {"format": "pt"}}


def _header_of(tmp_path, content: bytes):
    from nnpm.package.weights import read_header

    path = tmp_path / "w.safetensors"
    path.write_bytes(content)
    return read_header(path)


def test_a_well_formed_header_is_accepted(tmp_path):
    found = _header_of(tmp_path, _safetensors(_GOOD, bytes(16)))
    assert {k: v.shape for k, v in found.items()} == {"a": (2,), "b": (2,)}
    assert _header_of(tmp_path, _safetensors({}, b"")) == {}
    assert (
        _header_of(tmp_path, _safetensors(b'{"a":' + b'{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}  '))
        != {}
    )


_BAD_HEADERS = {
    "overlapping offsets": ({"a": _t(0, 8), "b": _t(4, 12)}, 12, "overlap"),
    "a gap between tensors": ({"a": _t(0, 8), "b": _t(12, 20)}, 20, "gap"),
    "a gap at the start": ({"a": _t(4, 12)}, 12, "gap"),
    "trailing bytes": ({"a": _t(0, 8)}, 12, "trailing"),
    "a float shape": ({"a": _t(0, 8, [2.0])}, 8, "shape"),
    "a string shape": ({"a": _t(0, 8, "2")}, 8, "shape"),
    "a negative dimension": ({"a": _t(0, 8, [-2, -1])}, 8, "shape"),
    "a boolean dimension": ({"a": _t(0, 4, [True])}, 4, "shape"),
    "a huge dimension": ({"a": _t(0, 8, [10**400])}, 8, "offsets"),
    "float offsets": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8.0]}}, 8, "data_offsets"),
    "string offsets": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": "0-8"}}, 8, "data_offsets"),
    "three offsets": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 8]}}, 8, "data_offsets"),
    "huge offsets": (
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [10**30, 10**30 + 8]}},
        8,
        "truncated",
    ),
    "an unknown dtype": ({"a": _t(0, 8, dtype="F128")}, 8, "dtype"),
    "a list as dtype": ({"a": _t(0, 8, dtype=["F32"])}, 8, "dtype"),
    "an entry that is a list": ({"a": [1, 2]}, 0, "entry"),
    "an entry without offsets": ({"a": {"dtype": "F32", "shape": [2]}}, 8, "entry"),
    "non-string metadata": ({"__metadata__": {"epochs": 3}}, 0, "__metadata__"),
    "a metadata list": ({"__metadata__": ["a"]}, 0, "__metadata__"),
    "a list header": ([1, 2], 0, "header"),
}


@pytest.mark.parametrize("case", sorted(_BAD_HEADERS))
def test_headers_outside_the_format_are_a_weights_error(tmp_path, case):
    from nnpm.errors import WeightsError

    header, data, fragment = _BAD_HEADERS[case]
    with pytest.raises(WeightsError, match=fragment) as err:
        _header_of(tmp_path, _safetensors(header, bytes(data)))
    assert len(err.value.one_line()) < 600


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "header"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested"),
        (b'{"a": NaN}', "header"),
        (b"\xff\xfe{}", "header"),
        (b"  {}", "header"),
    ],
)
def test_hostile_header_json_is_a_weights_error(tmp_path, raw, fragment):
    from nnpm.errors import WeightsError

    with pytest.raises(WeightsError, match=fragment):
        _header_of(tmp_path, _safetensors(raw))


def test_a_header_length_over_the_library_limit_is_refused(tmp_path):
    from nnpm.errors import WeightsError

    with pytest.raises(WeightsError, match="100000000"):
        _header_of(tmp_path, _safetensors(b"{}", length=100_000_001))


# --- 4. terminal escape sequences are escaped when printed ------------------------------------------

_EVIL = "\x1b]0;pwned\x07 fine \x1b[31mred\x1b[0m\rover\u202egnp.exe"


def _assert_escaped(out: str) -> None:
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07 fine" in out and "\\u202e" in out


def test_search_escapes_control_characters_in_descriptions(nnpm_home, capsys):
    import json

    from tests.factories import run_cli

    row = {"sha256": "a" * 64, "kind": "model", "description": _EVIL, "classes": ["\x1b[2Jcat"]}
    (nnpm_home / "registry").mkdir(parents=True)
    (nnpm_home / "registry" / "index.json").write_text(
        json.dumps({"index-version": 1, "packages": {"test/mlp": {"1.0.0": row}}})
    )
    code, out, _ = run_cli(capsys, "search", "fine")
    assert code == 0 and "test/mlp" in out
    assert "\x1b" not in out and "\\x1b]0;pwned\\x07 fine" in out
    code, out, _ = run_cli(capsys, "search", "fine", "--json")
    assert code == 0 and json.loads(out)[0]["description"] == _EVIL  # JSON stays exact


def test_show_escapes_control_characters_in_descriptions_and_classes(tmp_path, nnpm_home, capsys):
    import json
    from dataclasses import replace

    from nnpm.package.manifest import Source
    from tests.factories import run_cli

    manifest = replace(make_manifest(description=_EVIL), source=Source(classes=("\x1b[2Jcat", "dog")))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "nnpm.toml").write_text(manifest.to_toml())
    code, out, _ = run_cli(capsys, "show", str(tmp_path / "pkg"))
    assert code == 0, out
    _assert_escaped(out)
    assert "\\x1b[2Jcat, dog" in out
    code, out, _ = run_cli(capsys, "show", str(tmp_path / "pkg"), "--json")
    assert json.loads(out)["manifest"]["package"]["description"] == _EVIL


# --- 5. registry add: no silent overwrite, no lost entries ------------------------------------------


def test_registry_add_over_an_existing_name_is_refused_with_a_hint(tmp_path, nnpm_home, capsys):
    from nnpm.registry.config import registries
    from tests.factories import run_cli

    assert run_cli(capsys, "registry", "add", "team", str(tmp_path / "a"))[0] == 0
    code, _, err = run_cli(capsys, "registry", "add", "team", str(tmp_path / "b"))
    assert code == 1 and "already configured" in err and "--replace" in err and err.count("\n") == 1
    assert registries()["team"].url == str(tmp_path / "a")
    assert run_cli(capsys, "registry", "add", "team", str(tmp_path / "b"), "--replace")[0] == 0
    assert registries()["team"].url == str(tmp_path / "b")
    # the same registry again changes nothing
    assert run_cli(capsys, "registry", "add", "team", str(tmp_path / "b"))[0] == 0
    assert registries()["team"].url == str(tmp_path / "b")


def test_concurrent_registry_adds_lose_nothing(tmp_path, nnpm_home):
    import os
    import subprocess
    import sys

    from nnpm.registry.config import registries

    script = (
        "import sys\nfrom nnpm.registry.config import add_registry\n"
        "for i in range(5):\n    add_registry(f'r{sys.argv[1]}-{i}', f'/tmp/reg-{sys.argv[1]}-{i}')\n"
    )
    env = {**os.environ, "NNPM_HOME": str(nnpm_home)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)], env=env) for n in range(6)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 6
    found = registries()
    assert {f"r{n}-{i}" for n in range(6) for i in range(5)} <= set(found)
