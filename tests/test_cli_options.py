"""CLI consistency: global options anywhere, documented exit codes, nothing silently ignored,
--out a folder and --name a package name, --json for results and errors (docs/cli.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest

from nnpm.cli import COMMANDS, cli
from tests.factories import make_package, run_cli


def run(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, *args)


def every_command() -> list[tuple[str, click.Command]]:
    """(path, command) for every command and subcommand, loaded the way `nnpm NAME` loads it."""
    ctx = click.Context(cli)
    found = []

    def walk(path: str, command: click.Command) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(f"{path} {name}", sub)

    for name in COMMANDS:
        walk(name, cli.get_command(ctx, name))
    return found


def _flags(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in getattr(p, "opts", ())}


# --- global options before or after the subcommand ------------------------------------------------


@pytest.mark.parametrize(("path", "command"), every_command(), ids=[p for p, _ in every_command()])
def test_every_command_accepts_the_global_options(path, command):
    assert {"-q", "--quiet", "--offline"} <= _flags(command), path


@pytest.mark.parametrize(
    "args",
    [["-q", "publish", "{pkg}"], ["publish", "-q", "{pkg}"], ["publish", "{pkg}", "--quiet"]],
)
def test_quiet_works_before_or_after_the_subcommand(tmp_path, capsys, args):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    code, out, err = run(capsys, *(str(package) if a == "{pkg}" else a for a in args))
    assert (code, out, err) == (0, "", "")


def test_quiet_after_a_subcommand_of_a_group(capsys):
    assert run(capsys, "registry", "add", "team", "/tmp/nnpm-team-registry", "-q") == (0, "", "")
    assert run(capsys, "registry", "-q", "remove", "team") == (0, "", "")


@pytest.mark.parametrize(
    "args", [["list", "--offline"], ["--offline", "list"], ["registry", "list", "--offline"]]
)
def test_offline_works_before_or_after_the_subcommand(capsys, monkeypatch, args):
    monkeypatch.setenv("NNPM_OFFLINE", "0")  # restored after the test, whatever the CLI sets
    code, _, _ = run(capsys, *args)
    assert code == 0 and os.environ["NNPM_OFFLINE"] == "1"


def test_install_q_no_longer_exits_2(tmp_path, capsys):
    run(capsys, "publish", str(make_package(tmp_path, "digits/mlp", "1.0.0")))
    assert run(capsys, "install", "-q", "digits/mlp", "--no-save") == (0, "", "")


# --- exit codes: bad usage is 2, in one line -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        # bad names, versions and values
        (["show", "Digits/MLP"], "invalid package name"),
        (["show", "digits/mlp==x.y"], "invalid"),
        (["compose", "a/b", "--name", "Mine"], "invalid package name"),
        (["compose", "a/b", "--name", "mine/x", "--version", "one"], "invalid version"),
        (["compose", "a/b", "--name", "mine/x", "--replace", "bag"], "is not CLASS=MODULE"),
        (["compose", "a/b", "--name", "mine/x", "--replace", "bag=Other/Bag"], "invalid package name"),
        (["compose", "a/b", "--name", "mine/x", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
        (["eval", "a/b", "--tolerance", "-1"], "--tolerance"),
        (["modularize", "cnn", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
        (["modularize", "cnn", "--namespace", "Bad_NS"], "namespace"),
        (["modularize", "cnn", "--val-fraction", "1.5"], "--val-fraction"),
        (["modularize", "cnn", "--device", "toaster"], "unknown device 'toaster'"),
        (["modularize", "cnn", "--tau", "1.5"], "tau must be in (0, 1]"),
        (
            ["train", "rnn", "--task", "tag", "--dataset", "penn", "--namespace", "x", "--out", "o"],
            "unknown dataset",
        ),
        (
            [
                "train",
                "rnn",
                "--task",
                "tag",
                "--dataset",
                "brown",
                "--namespace",
                "x",
                "--out",
                "o",
                "--embedding",
                "x/embedding>=1",
            ],
            "is not NAME==VERSION",
        ),  # fmt: skip
        (["registry", "add", "hub", "ftp://x"], "unsupported registry URL"),
        # folders that do not exist
        (["show", "./not-here"], "no such directory: ./not-here"),
        (["eval", "./not-here"], "no such directory: ./not-here"),
        (["compose", "./not-here", "--name", "mine/x"], "no such directory: ./not-here"),
        (["pack", "not-here"], "does not exist"),
        (["publish", "not-here"], "does not exist"),
        (["decompose", "not-here", "--out", "o"], "does not exist"),
        (["eval", "a/b", "--data-dir", "/not/here"], "does not exist"),
        # options that cannot apply
        (["install", "--frozen", "a/b"], "--frozen installs only what nnpm.lock says"),
        (["install", "--frozen", "--pre"], "--pre does not apply with --frozen"),
        (["install", "--frozen", "--registry", "local"], "--registry does not apply with --frozen"),
        (["install", "--no-save"], "--no-save applies only to packages named"),
        (["registry", "add", "team", "/tmp/r", "--endpoint", "http://h"], "--endpoint applies only to hf://"),
        (["compose", "a/b", "--name", "mine/x", "--epochs", "3"], "--epochs applies only with --finetune"),
        (["compose", "a/b", "--name", "mine/x", "--seed", "3"], "--seed applies only with --finetune"),
        (["compose", "a/b", "--name", "mine/x", "--finetune"], "--finetune needs --dataset"),
        (["compose", "a/b", "--name", "mine/x", "--data-dir", "."], "--data-dir applies only with --dataset"),
        (["modularize", "cnn", "--data-dir", "."], "--data-dir does not apply to digits"),
        (
            [
                "train",
                "rnn",
                "--task",
                "tag",
                "--dataset",
                "chatterbot-lang",
                "--namespace",
                "x",
                "--out",
                "o",
            ],
            "is for --task classify",
        ),  # fmt: skip
        (
            [
                "train",
                "rnn",
                "--task",
                "classify",
                "--dataset",
                "chatterbot-lang",
                "--namespace",
                "x",
                "--out",
                "o",
                "--languages",
                "fr",
            ],
            "--languages applies only with --task translate",
        ),  # fmt: skip
        (
            [
                "train",
                "rnn",
                "--task",
                "classify",
                "--dataset",
                "chatterbot-lang",
                "--namespace",
                "x",
                "--out",
                "o",
                "--data-dir",
                ".",
            ],
            "--data-dir does not apply to chatterbot-lang",
        ),  # fmt: skip
        (
            ["train", "rnn", "--task", "tag", "--dataset", "brown", "--namespace", "x", "--out", "o"],
            "brown needs --data-dir",
        ),  # fmt: skip
        (
            [
                "train",
                "rnn",
                "--task",
                "classify",
                "--dataset",
                "chatterbot-lang",
                "--namespace",
                "x",
                "--out",
                "o",
                "--embedding-dir",
                ".",
            ],
            "--embedding-dir applies only with --embedding",
        ),  # fmt: skip
        (
            ["decompose", ".", "--out", "o", "--mode", "paper", "--refit-sequences", "9"],
            "--refit-sequences applies only with --mode refit",
        ),  # fmt: skip
        # unknown options and missing arguments
        (["install", "--bogus"], "no such option '--bogus'"),
        (["compose", "a/b"], "missing option '--name'"),
        (["compose", "a/b", "-o", "mine/x"], "no such option"),  # -o was a package name; --out is a folder
    ],
)
def test_bad_usage_exits_2_with_one_line(workdir, capsys, args, fragment):
    code, out, err = run(capsys, *args)
    assert code == 2, err
    assert err.startswith("nnpm: error: ") and err.count("\n") == 1 and "hint:" in err
    assert fragment in err
    assert not (workdir / "o").exists() and not (workdir / "x").exists()


def test_a_directory_without_a_manifest_is_not_found(workdir, capsys):
    (workdir / "empty").mkdir()
    code, _, err = run(capsys, "show", "./empty")
    assert code == 4 and "is not a package directory" in err


def test_pack_with_a_hub_namespace_for_a_package_without_source_model_is_refused(tmp_path, capsys):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    code, _, err = run(capsys, "pack", str(package), "--hub-namespace", "my-org")
    assert code == 2 and "names no source model" in err


def test_publishing_only_plain_files_is_refused(tmp_path, capsys):
    (tmp_path / "results.json").write_text("{}")
    code, _, err = run(capsys, "publish", str(tmp_path / "results.json"))
    assert code == 2 and "no package directory" in err


# --- --json: results and errors ---------------------------------------------------------------------

LISTINGS = ["list", "search", "show", "families", "registry list", "verify", "install", "publish", "compose",
            "eval", "modularize cnn", "decompose", "train rnn", "lock", "uninstall", "pack"]  # fmt: skip


@pytest.mark.parametrize("path", LISTINGS)
def test_every_listing_takes_json(path):
    assert "--json" in _flags(dict(every_command())[path])


@pytest.mark.parametrize(
    ("args", "type_", "code"),
    [
        (["show", "nobody/nothing", "--json"], "PackageNotFoundError", 4),
        (["show", "Bad/Name", "--json"], "InvalidNameError", 2),
        (["--json", "show", "digits/mlp"], "UsageError", 2),  # --json belongs to the command
        (["list", "--bogus", "--json"], "UsageError", 2),
        (["compose", "a/b", "--name", "mine/x", "--epochs", "3", "--json"], "UsageError", 2),
        (["install", "--json"], "UsageError", 2),  # nothing to install
    ],
)
def test_with_json_an_error_is_one_object_on_stdout_with_the_same_exit_code(
    workdir, capsys, args, type_, code
):
    got, out, err = run(capsys, *args)
    error = json.loads(out)["error"]
    assert got == code == error["exit_code"] and error["type"] == type_
    assert set(error) == {"type", "message", "where", "hint", "exit_code"}
    assert error["message"] and error["hint"] and error["message"] in err.replace("\n", " ")


def test_json_after_a_double_dash_is_an_argument(capsys):
    code, out, err = run(capsys, "show", "--", "--json")
    assert code == 2 and out == "" and "invalid package name '--json'" in err


def test_show_lists_json_and_search_finds_nothing_quietly(tmp_path, capsys):
    code, out, _ = run(capsys, "search", "nothing-like-it", "--json")
    assert code == 0 and json.loads(out) == []
    assert run(capsys, "search", "nothing-like-it", "-q") == (0, "", "")


def test_pack_uninstall_and_lock_print_json(tmp_path, workdir, capsys):
    package = make_package(tmp_path, "digits/mlp", "1.0.0")
    code, out, _ = run(capsys, "pack", str(package), "--json")
    packed = json.loads(out)
    assert code == 0 and packed["package"] == "digits/mlp" and "weights.safetensors" in packed["files"]
    run(capsys, "publish", str(package))
    run(capsys, "init")
    run(capsys, "install", "digits/mlp")
    code, out, _ = run(capsys, "lock", "--json")
    assert code == 0 and [p["package"] for p in json.loads(out)] == ["digits/mlp"]
    code, out, _ = run(capsys, "uninstall", "digits/mlp", "--json")
    assert code == 0 and [(p["package"], p["version"]) for p in json.loads(out)] == [("digits/mlp", "1.0.0")]


# --- show ./dir ----------------------------------------------------------------------------------------


def test_show_a_package_directory_reads_its_manifest_without_a_registry(workdir, capsys):
    make_package(workdir, "digits/mlp", "1.0.0")
    (directory,) = [p.name for p in workdir.iterdir() if (p / "nnpm.toml").is_file()]
    code, out, _ = run(capsys, "show", f"./{directory}")
    assert code == 0 and out.startswith(f"digits/mlp 1.0.0 (model) in directory {directory}")
    code, out, _ = run(capsys, "show", f"./{directory}", "--json")
    shown = json.loads(out)
    assert (
        shown["registry"] is None and shown["versions"] == [] and Path(shown["directory"]).name == directory
    )
    assert shown["manifest"]["package"]["name"] == "digits/mlp" and shown["forward"] is None
    code, _, err = run(capsys, "show", f"./{directory}", "--registry", "local")
    assert code == 2 and "a registry does not apply" in err


# --- help says what the command does ------------------------------------------------------------------


def test_lock_help_says_that_it_installs(capsys):
    code, out, _ = run(capsys, "--help")
    line = next(line for line in out.splitlines() if line.strip().startswith("lock"))
    assert "without installing" not in line and "install" in line
    code, out, _ = run(capsys, "lock", "--help")
    assert "without installing" not in out and "install" in out


# --- --out is a folder, --name a package name -----------------------------------------------------


@pytest.mark.parametrize("path", ["compose", "modularize cnn", "train rnn", "decompose", "quickstart"])
def test_every_command_that_writes_packages_takes_its_folder_as_out(path):
    flags = _flags(dict(every_command())[path])
    assert "--out" in flags and not flags & {"-o", "--output", "--dir"}


def test_the_composite_folder_defaults_to_the_name_and_refuses_a_foreign_non_empty_folder(workdir):
    from nnpm.api.paths import composite_folder
    from nnpm.errors import UsageError

    assert composite_folder("mine/footwear") == Path("footwear")
    assert composite_folder("mine/footwear", "build/shoes") == Path("build/shoes")
    (workdir / "footwear").mkdir()
    assert composite_folder("mine/footwear") == Path("footwear")  # empty: fine
    (workdir / "footwear" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty and does not hold package mine/footwear") as exc:
        composite_folder("mine/footwear")
    assert exc.value.exit_code == 2
    make_package(workdir / "build", "mine/footwear", "1.0.0")
    (earlier,) = (workdir / "build").iterdir()
    assert composite_folder("mine/footwear", earlier) == earlier  # an earlier build of the same package
    with pytest.raises(UsageError, match="does not hold package mine/sandals"):
        composite_folder("mine/sandals", earlier)


# --- printing from the library's fields ---------------------------------------------------------------


def test_decompose_prints_from_the_summary_fields_and_json_is_those_fields(workdir, capsys, monkeypatch):
    from nnpm.science.rnn import cli_support

    summary = {"model": "brown/lstm-tagger==1.0.0", "seconds": 1.5, "composed_accuracy": 0.9,
               "modules": [{"name": "brown/noun-module==1.0.0", "retained": 10, "total": 12, "dir": "o/noun-module"}]}  # fmt: skip
    monkeypatch.setattr(cli_support, "decompose_command", lambda **_: dict(summary))
    code, out, _ = run(capsys, "decompose", ".", "--out", "o")
    assert code == 0 and out.splitlines() == [
        "decomposed brown/lstm-tagger==1.0.0 into 1 modules in 1.5s (refit); composed accuracy 0.9000",
        "  brown/noun-module==1.0.0: 10/12 units -> o/noun-module",
    ]
    code, out, _ = run(capsys, "decompose", ".", "--out", "o", "--json")
    assert code == 0 and json.loads(out) == summary
