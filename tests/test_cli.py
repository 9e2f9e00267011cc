"""The CLI is a thin layer: these tests check its contract (output, --json, one-line errors, exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import make_package, run_cli

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, *args)


def test_publish_search_install_list_show_verify_uninstall(tmp_path, workdir, capsys):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    assert run(capsys, "init")[0] == 0
    code, out, _ = run(capsys, "publish", str(package), "--json")
    assert code == 0 and json.loads(out)[0]["created"] is True
    code, out, _ = run(capsys, "search", "digits", "--json")
    assert [r["package"] for r in json.loads(out)] == ["digits/mlp"]
    assert run(capsys, "install", "digits/mlp")[0] == 0
    code, out, _ = run(capsys, "list", "--json")
    assert [(r["package"], r["version"]) for r in json.loads(out)["packages"]] == [("digits/mlp", "1.0.0")]
    code, out, _ = run(capsys, "show", "digits/mlp", "--json")
    assert json.loads(out)["manifest"]["package"]["name"] == "digits/mlp"
    assert run(capsys, "verify")[0] == 0
    assert run(capsys, "-q", "uninstall", "digits/mlp") == (0, "", "")
    assert "digits/mlp" not in (workdir / "nnpm.toml").read_text()


def test_verify_exits_3_on_a_mismatch(tmp_path, capsys):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    run(capsys, "publish", str(package))
    run(capsys, "install", "digits/mlp", "--no-save")
    code, out, _ = run(capsys, "list", "--json")
    weights = json.loads(out)["packages"][0]["path"] + "/weights.safetensors"
    import os

    os.chmod(weights, 0o644)
    with open(weights, "r+b") as fh:
        fh.seek(-1, 2)
        fh.write(b"\x00" if fh.read(1) != b"\x00" else b"\x01")
    code, _, err = run(capsys, "verify")
    assert code == 3 and "digits/mlp==1.0.0" in err and "sha256 mismatch" in err
    code, out, _ = run(capsys, "verify", "--json")
    report = json.loads(out)
    assert code == 3 and report["verified"] == 1 and report["problems"][0]["package"] == "digits/mlp==1.0.0"


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["install", "../x"], 2, "invalid package name '../x'"),
        (["install", "a/b/c"], 2, "invalid package name 'a/b/c'"),
        (["install", "Digits/MLP"], 2, "invalid package name"),
        (["install", "digits/mlp>>1"], 2, "invalid"),
        (["install", "nobody/nothing"], 4, "not in any registry"),
        (["install"], 2, "nothing to install"),
        (["install", "--frozen"], 2, "nothing to install"),
        (["search", "x", "--registry", "nope"], 1, "unknown registry 'nope'"),
        (["show", "nobody/nothing"], 4, "not in registry"),
        (["uninstall", "nobody/nothing"], 4, "not installed"),
        (["registry", "add", "hub", "ftp://x"], 2, "unsupported registry URL"),
        (["pack", "does-not-exist"], 2, "does not exist"),
        (["pack", "."], 1, "no manifest here"),
        (["list", "--bogus"], 2, "no such option '--bogus'"),
        (["show"], 2, "missing argument 'SPEC'"),
        (["install", "--frozen", "digits/mlp"], 2, "--frozen installs only what nnpm.lock says"),
    ],
)
def test_bad_input_gets_one_line_and_a_documented_exit_code(workdir, capsys, args, code, fragment):
    got, out, err = run(capsys, *args)
    assert got == code
    assert err.startswith("nnpm: error: ") and err.count("\n") == 1 and fragment in err and "hint:" in err


def test_republishing_different_content_exits_non_zero_with_a_hint(tmp_path, capsys):
    run(capsys, "publish", str(make_package(tmp_path, "digits/mlp", "1.0.0", seed=0)))
    code, _, err = run(capsys, "publish", str(make_package(tmp_path / "b", "digits/mlp", "1.0.0", seed=1)))
    assert code == 1 and "already published with different content" in err and "bump the version" in err


def test_an_unresolvable_install_exits_5(tmp_path, workdir, capsys):
    run(capsys, "publish", str(make_package(tmp_path, "digits/mlp", "1.0.0")))
    run(capsys, "init")
    code, _, err = run(capsys, "install", "digits/mlp>=2")
    assert code == 5 and "cannot resolve digits/mlp" in err and "published: 1.0.0" in err


@pytest.mark.parametrize(
    "args",
    [["--help"], ["list"], ["list", "--json"], ["search", "x"], ["registry", "list"], ["show", "--help"],
     ["show", "./examples/packages/digits-mlp"], ["install", "--bogus", "--json"], ["list", "-q", "--offline"]],
)  # fmt: skip
def test_commands_that_run_no_network_never_import_torch(args):
    code = (
        "import sys; from nnpm.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def _corrupt(kind: str, directory) -> None:
    import struct

    weights = directory / "weights.safetensors"
    manifest = directory / "nnpm.toml"
    if kind == "malformed-toml":
        manifest.write_text("[package\n")
    elif kind == "schema":
        manifest.write_text(manifest.read_text().replace('classes = ["a", "b", "c"]', 'classes = "a"'))
    elif kind == "bad-version":
        manifest.write_text(manifest.read_text().replace('version = "1.0.0"', 'version = "1.0.0.final!"'))
    elif kind == "missing-weights":
        weights.unlink()
    elif kind == "changed-weights":
        weights.write_bytes(weights.read_bytes()[:-1] + b"\x7f")
    elif kind == "truncated":
        weights.write_bytes(weights.read_bytes()[:100])
    elif kind == "absurd-header":
        weights.write_bytes(struct.pack("<Q", 2**62) + weights.read_bytes()[8:])
    elif kind == "wrong-shapes":
        manifest.write_text(manifest.read_text().replace("hidden = [8]", "hidden = [7]"))


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("malformed-toml", "malformed TOML"),
        ("schema", "source.classes: expected an array"),
        ("bad-version", "invalid version"),
        ("missing-weights", "weights.safetensors' listed in the manifest is missing"),
        ("changed-weights", "sha256 mismatch"),
        ("truncated", "weights.safetensors"),
        ("absurd-header", "weights.safetensors"),
        ("wrong-shapes", "weights.safetensors"),
    ],
)
def test_a_broken_package_is_refused_by_publish_in_one_line_and_the_registry_is_untouched(
    tmp_path, nnpm_home, capsys, kind, fragment
):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    _corrupt(kind, package)
    code, _, err = run(capsys, "publish", str(package))
    assert code != 0 and err.startswith("nnpm: error: ") and err.count("\n") == 1
    assert fragment in err and "hint:" in err
    assert not (nnpm_home / "registry" / "index").exists()  # nothing was published


def test_list_reports_a_corrupt_install_record_in_a_warning_line_and_in_json(tmp_path, capsys):
    from nnpm.store.store import RECORD_NAME

    for name in ("digits/mlp", "digits/bad"):
        run(capsys, "publish", str(make_package(tmp_path / name, name, "1.0.0")))
        run(capsys, "install", name, "--no-save")
    code, out, _ = run(capsys, "list", "--json")
    bad = next(p for p in json.loads(out)["packages"] if p["package"] == "digits/bad")
    record = Path(bad["path"]) / RECORD_NAME
    record.chmod(0o644)
    record.write_text("{not json")
    code, out, err = run(capsys, "list")
    assert code == 0 and "digits/mlp" in out and "digits/bad" not in out
    assert err.startswith("nnpm: warning: digits/bad==1.0.0: corrupt install record") and err.count("\n") == 1
    assert "hint: reinstall it with `nnpm install --force 'digits/bad==1.0.0'`" in err
    code, out, _ = run(capsys, "list", "--json")
    listed = json.loads(out)
    assert [p["package"] for p in listed["packages"]] == ["digits/mlp"]
    assert [(c["package"], c["path"]) for c in listed["corrupt"]] == [("digits/bad==1.0.0", str(record))]
    code, out, _ = run(capsys, "verify", "--json")
    assert code == 3 and "digits/bad==1.0.0" in [p["package"] for p in json.loads(out)["problems"]]
