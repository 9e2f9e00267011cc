"""Hostile input in projects, locks, the registry index and the store (issue 16), continued from
tests/test_hostile_input.py. docs/bad-input.md lists every case with its message and exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnpm.errors import ManifestError

# --- 1. nnpm's files are read only from regular files of bounded size -------------------------------


def _run(code: str, *args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with a deadline: a reader that blocks on a FIFO fails the
    test with TimeoutExpired instead of hanging the suite."""
    env = {**os.environ, **({"NNPM_HOME": str(home)} if home else {})}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=20, env=env
    )


_READERS = {
    "lock": "from nnpm.resolve.lock import read_lock; read_lock(p / 'nnpm.lock')",
    "project": "from nnpm.resolve.project import read_project; read_project(p)",
    "index": "from nnpm.registry.local import LocalRegistry; LocalRegistry('l', str(p)).package_names()",
    "config": "from nnpm.registry.config import registries; registries()",
}
_FILES = {"lock": "nnpm.lock", "project": "nnpm.toml", "index": "index.json", "config": "config.toml"}


@pytest.mark.parametrize("kind", sorted(_READERS))
def test_a_fifo_in_place_of_an_nnpm_file_is_refused_without_hanging(tmp_path, kind):
    os.mkfifo(tmp_path / _FILES[kind])
    code = (
        "import sys, pathlib\nfrom nnpm.errors import NnpmError\np = pathlib.Path(sys.argv[1])\n"
        f"try:\n    {_READERS[kind]}\nexcept NnpmError as exc:\n    print(exc.one_line()); sys.exit(1)\n"
    )
    result = _run(code, str(tmp_path), home=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "not a regular file" in result.stdout and result.stdout.count("\n") == 1


def test_a_fifo_as_a_projects_lock_fails_install_with_one_line(tmp_path):
    (tmp_path / "nnpm.toml").write_text('[project]\nname = "p"\ndependencies = []\n')
    os.mkfifo(tmp_path / "nnpm.lock")
    code = "import os, sys\nos.chdir(sys.argv[1])\nfrom nnpm.cli import main\nmain(['install'])\n"
    result = _run(code, str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("nnpm: error: ") and "not a regular file" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("kind", ["lock", "project"])
def test_a_huge_lock_or_project_file_is_refused(tmp_path, kind):
    from nnpm.package.files import MAX_MANIFEST_BYTES
    from nnpm.resolve.lock import read_lock
    from nnpm.resolve.project import read_project

    head = "lock-version = 1\n" if kind == "lock" else '[project]\nname = "p"\n'
    (tmp_path / _FILES[kind]).write_text(head + "#" * MAX_MANIFEST_BYTES)
    with pytest.raises(ManifestError, match="larger than"):
        read_lock(tmp_path / "nnpm.lock") if kind == "lock" else read_project(tmp_path)


def test_set_requirements_reads_the_project_file_safely(tmp_path):
    from nnpm.package.files import MAX_MANIFEST_BYTES
    from nnpm.resolve.project import Project, set_requirements

    (tmp_path / "nnpm.toml").write_text('[project]\nname = "p"\n' + "#" * MAX_MANIFEST_BYTES)
    with pytest.raises(ManifestError, match="larger than"):
        set_requirements(Project(tmp_path, ()), remove=[])


# --- 2. deeply nested JSON is one clear error, never RecursionError ----------------------------------


@pytest.mark.parametrize("doc", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000])
def test_a_deeply_nested_index_is_a_manifest_error(tmp_path, doc):
    from nnpm.registry.local import LocalRegistry

    (tmp_path / "index.json").write_text(doc)
    with pytest.raises(ManifestError, match="nested more than 32 levels deep") as err:
        LocalRegistry("local", str(tmp_path)).package_names()
    assert "index.json" in err.value.one_line() and "hint:" in err.value.one_line()


def test_search_over_a_deeply_nested_index_fails_in_one_line(nnpm_home, capsys):
    from tests.factories import run_cli

    (nnpm_home / "registry").mkdir(parents=True)
    (nnpm_home / "registry" / "index.json").write_text("[" * 100_000)
    code, _, err = run_cli(capsys, "search", "x")
    assert code == 1 and err.startswith("nnpm: error: ") and "nested" in err and err.count("\n") == 1


def test_a_deeply_nested_install_record_is_a_problem_not_a_crash(tmp_path):
    from nnpm.store.store import RECORD_NAME, Store

    folder = tmp_path / "packages" / "test" / "mlp" / "1.0.0"
    folder.mkdir(parents=True)
    (folder / RECORD_NAME).write_text("[" * 100_000)
    store = Store(tmp_path)
    assert store.installed() == []
    (problem,) = store.corrupt_records()
    assert problem.package == "test/mlp==1.0.0" and "nested too deeply" in problem.what


def test_a_deeply_nested_swap_journal_is_ignored_by_the_next_writer(tmp_path):
    from nnpm.store.store import Store

    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "swap-x.json").write_text('{"a": ' * 100_000)
    with Store(tmp_path, lock_timeout=5).locked():
        pass
    assert not (tmp_path / "tmp").exists()  # swept as garbage, like any unreadable journal


# --- 3. install never rewrites the constraints the user wrote in nnpm.toml ----------------------------

_PROJECT = '[project]\nname = "p"\n# my pins\ndependencies = [\n    "test/mlp>=1, <2",  # keep below 2\n    "test/b",\n]\n'


@pytest.mark.parametrize("force", [False, True])
def test_install_of_a_required_name_keeps_the_users_constraint(tmp_path, workdir, force):
    from nnpm import api
    from nnpm.resolve.project import read_project
    from tests.factories import publish

    for version in ("1.0.0", "2.0.0"):
        publish(tmp_path, "test/mlp", version)
    publish(tmp_path, "test/b", "1.0.0", seed=1)
    (workdir / "nnpm.toml").write_text(_PROJECT)
    api.install()
    (pkg,) = [p for p in api.install(["test/mlp"], force=force).packages if str(p.name) == "test/mlp"]
    assert str(pkg.version) == "1.0.0"  # the project's <2 still holds
    assert (workdir / "nnpm.toml").read_text() == _PROJECT  # every byte, comments included
    api.install(["test/b==1.0.0"])  # a new constraint for one name leaves the other as written
    text = (workdir / "nnpm.toml").read_text()
    assert '"test/mlp>=1, <2",  # keep below 2' in text and "test/b==1.0.0" in text
    assert sorted(str(r) for r in read_project(workdir).requirements) == ["test/b==1.0.0", "test/mlp<2,>=1"]


# --- 4. uninstalling a package others need says so ---------------------------------------------------


def test_uninstall_warns_naming_the_installed_packages_that_depend_on_it(tmp_path, workdir, capsys):
    from nnpm import api
    from tests.factories import publish, run_cli

    publish(tmp_path, "test/base", "1.0.0")
    publish(tmp_path, "test/app", "1.0.0", seed=1, deps={"test/base": ">=1"})
    publish(tmp_path, "test/other", "1.0.0", seed=2, deps={"test/base": ">=1"})
    api.install(["test/app", "test/other"], project=False)
    code, _, err = run_cli(capsys, "uninstall", "test/base")
    (warning,) = [line for line in err.splitlines() if "warning" in line]
    assert code == 0 and "removed test/base==1.0.0" in err
    assert warning.startswith("nnpm: warning: test/base: ") and "hint:" in warning
    assert "test/app==1.0.0" in warning and "test/other==1.0.0" in warning
    # removing the dependents too, or a package nothing needs, warns about nothing
    api.install(["test/base"], project=False)
    code, _, err = run_cli(capsys, "uninstall", "test/base", "test/app", "test/other")
    assert code == 0 and "warning" not in err


# --- 5. writing a manifest TOML cannot hold is one ManifestError -------------------------------------


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            {"architecture_params": {"hidden": [8], "num_outputs": 3, "dropout": None}},
            "architecture.params.dropout",
        ),
        ({"architecture_params": {"hidden": [8, None], "num_outputs": 3}}, "architecture.params.hidden.1"),
        ({"provenance": {"seed": None}}, "provenance.seed"),
        ({"metrics_extra": {"loss": None}}, "metrics.extra.loss"),
        ({"provenance": {"tags": {"a", "b"}}}, "provenance.tags"),
    ],
)
def test_to_toml_refuses_values_toml_cannot_hold_naming_the_field(change, where):
    from dataclasses import replace

    from tests.factories import make_manifest

    manifest = make_manifest()
    if "architecture_params" in change:
        manifest = replace(
            manifest, architecture=replace(manifest.architecture, params=change["architecture_params"])
        )
    if "provenance" in change:
        manifest = replace(manifest, provenance=change["provenance"])
    if "metrics_extra" in change:
        manifest = replace(manifest, metrics=replace(manifest.metrics, extra=change["metrics_extra"]))
    with pytest.raises(ManifestError, match="cannot be written in TOML") as err:
        manifest.to_toml()
    assert f"{where}:" in err.value.one_line() and "hint:" in err.value.one_line()


def test_reading_a_directory_as_an_nnpm_file_leaks_no_descriptor(tmp_path) -> None:
    from nnpm.package.files import read_text_file

    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        with pytest.raises(ManifestError, match="not a regular file \\(a directory\\)"):
            read_text_file(tmp_path)
    assert len(os.listdir("/proc/self/fd")) == before
