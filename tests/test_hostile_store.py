"""The store and the local registry against corruption, failures, full disks and races (issue 16).

docs/bad-input.md lists every case with its message and exit code. Write failures are injected
at `nnpm.fsutil.write_chunk`, the one function every byte nnpm writes to a file goes through
(tests run as root, so chmod would not stop a write).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import nnpm.fsutil
import nnpm.store.store as store_module
from nnpm import api
from nnpm.errors import WeightsError, WriteError
from nnpm.registry.sparse_index import snapshot
from nnpm.store.store import RECORD_NAME, Store
from tests.factories import make_package, publish, run_cli

# --- 1. a corrupt install record is a broken package, never a vanished one ---------------------------


@pytest.fixture
def installed(tmp_path):
    publish(tmp_path)
    (pkg,) = api.install(["test/mlp"], project=False).packages
    return pkg


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_an_empty_record_is_listed_as_broken_and_verify_exits_3_with_a_hint(installed, capsys):
    (installed.path / RECORD_NAME).write_text("{}")
    code, out, err = run_cli(capsys, "list")
    assert code == 0 and "no packages installed" in err and "test/mlp==1.0.0" in err
    code, _, err = run_cli(capsys, "verify")
    (line,) = err.splitlines()
    assert code == 3 and line.startswith("nnpm: mismatch: test/mlp==1.0.0: corrupt install record: no name")
    assert "(hint: reinstall it with `nnpm install --force 'test/mlp==1.0.0'`" in line
    code, out, _ = run_cli(capsys, "verify", "--json")
    assert code == 3 and json.loads(out)["problems"][0]["package"] == "test/mlp==1.0.0"


def test_a_fifo_as_an_install_record_does_not_hang_list_or_verify(installed, nnpm_home):
    (installed.path / RECORD_NAME).unlink()
    os.mkfifo(installed.path / RECORD_NAME)
    code = "from nnpm.cli import main\nmain(['verify'])\n"
    env = {**os.environ, "NNPM_HOME": str(nnpm_home)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 3 and "unreadable install record: not a regular file" in done.stderr


def test_plain_install_over_a_corrupted_copy_repairs_it(installed):
    weights = installed.path / "weights.safetensors"
    os.chmod(weights, 0o644)
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")
    assert api.verify() != []
    (again,) = api.install(["test/mlp"], project=False).packages  # no --force: the hashes are checked
    assert again.sha256 == installed.sha256 and api.verify() == []


def test_install_from_the_lock_repairs_a_corrupted_copy(tmp_path, workdir):
    publish(tmp_path)
    (workdir / "nnpm.toml").write_text('[project]\nname = "p"\ndependencies = ["test/mlp"]\n')
    (pkg,) = api.install().packages
    os.chmod(pkg.path / "README.md", 0o644)
    (pkg.path / "README.md").write_text("tampered")
    api.install()  # exactly the lock, and the installed copy is re-hashed against it
    assert api.verify() == []


# --- 2. failed installs and killed publishes leave nothing behind ------------------------------------


def test_the_blobs_of_a_failed_install_are_removed(installed, tmp_path, nnpm_home, monkeypatch):
    publish(tmp_path, "test/other", "1.0.0", seed=3)

    def broken(*_args, **_kwargs):
        raise WeightsError("injected failure after the blobs were stored")

    monkeypatch.setattr(store_module, "check_weights", broken)
    with pytest.raises(WeightsError, match="injected"):
        api.install(["test/other"], project=False)
    kept = {p.name for p in _files(nnpm_home / "store" / "blobs")}
    assert kept == {e.sha256 for e in installed.manifest.files.values()}  # only the installed package's
    assert _files(nnpm_home / "store" / "tmp") == []


def test_the_next_writer_sweeps_what_a_killed_install_left(installed, nnpm_home):
    tmp = nnpm_home / "store" / "tmp"
    tmp.mkdir(exist_ok=True)
    os.rename(installed.path, tmp / "staged-by-a-killed-install")  # its blobs now linked only from tmp/
    with Store().locked():
        pass
    assert _files(tmp) == [] and _files(nnpm_home / "store" / "blobs") == []


def test_stray_tmp_files_in_the_registry_are_swept_by_the_next_publish(tmp_path, nnpm_home):
    publish(tmp_path)
    registry = nnpm_home / "registry"
    strays = [registry / ".index.json.abc.tmp", registry / "blobs" / "sha256" / "ab" / ".ab12.tmp"]
    for stray in strays:
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"half a blob")
    publish(tmp_path, "test/other", "1.0.0", seed=1)
    assert not any(p.exists() for p in strays)
    assert not list(registry.rglob("*.tmp"))


# --- 3. the local registry re-hashes a blob before it reuses it --------------------------------------


def test_a_corrupted_registry_blob_is_rewritten_by_a_publish_that_shares_it(tmp_path, nnpm_home):
    first = publish(tmp_path, "test/mlp", "1.0.0")
    sha = first.manifest.files["weights.safetensors"].sha256
    blob = nnpm_home / "registry" / "blobs" / "sha256" / sha[:2] / sha
    os.chmod(blob, 0o644)
    blob.write_bytes(b"\x00" * blob.stat().st_size)
    second = publish(tmp_path, "test/mlp", "2.0.0")  # same seed: the same weights file
    assert second.manifest.files["weights.safetensors"].sha256 == sha
    (pkg,) = api.install(["test/mlp==2.0.0"], project=False).packages
    assert api.verify() == [] and pkg.version.public == "2.0.0"


def test_publishing_the_same_content_again_repairs_its_blobs(tmp_path, nnpm_home):
    first = publish(tmp_path)
    sha = first.manifest.files["README.md"].sha256
    blob = nnpm_home / "registry" / "blobs" / "sha256" / sha[:2] / sha
    blob.unlink()
    blob.write_text("tampered")
    assert not api.publish(make_package(tmp_path)).created
    api.install(["test/mlp"], project=False)
    assert api.verify() == []


# --- 4. full disks, read-only and foreign folders: one line, nothing half-written --------------------


def _fail_writes(monkeypatch, code: int, only: str = "") -> None:
    """Every file write whose path contains `only` fails with OSError(code)."""
    real = nnpm.fsutil.write_chunk

    def write_chunk(fh, data):
        if only in str(getattr(fh, "name", "")):
            raise OSError(code, os.strerror(code))
        real(fh, data)

    monkeypatch.setattr(nnpm.fsutil, "write_chunk", write_chunk)


_SAID = {
    errno.ENOSPC: "no space left",
    errno.EROFS: "the filesystem is read-only",
    errno.EACCES: "permission denied",
}


@pytest.mark.parametrize("code", sorted(_SAID))
def test_a_store_that_cannot_be_written_is_one_line_and_nothing_half_installed(
    tmp_path, nnpm_home, monkeypatch, capsys, code
):
    publish(tmp_path)
    _fail_writes(monkeypatch, code)
    status, _, err = run_cli(capsys, "install", "--no-save", "test/mlp")
    assert status == 1 and err.count("\n") == 1, err
    assert (
        err.startswith(f"nnpm: error: {nnpm_home / 'store'}: cannot write: {_SAID[code]}") and "hint:" in err
    )
    store = nnpm_home / "store"
    assert Store().installed() == [] and Store().corrupt_records() == []
    assert _files(store / "blobs") == [] and _files(store / "tmp") == []


@pytest.mark.parametrize("code", sorted(_SAID))
def test_a_registry_that_cannot_be_written_leaves_no_tmp_and_an_unchanged_index(
    tmp_path, nnpm_home, monkeypatch, capsys, code
):
    publish(tmp_path)
    index = snapshot(nnpm_home / "registry")
    package = make_package(tmp_path, "test/other", "1.0.0", seed=1)
    _fail_writes(monkeypatch, code)
    status, _, err = run_cli(capsys, "publish", str(package))
    assert status == 1 and err.count("\n") == 1 and f"cannot write: {_SAID[code]}" in err
    assert str(nnpm_home / "registry") in err
    assert snapshot(nnpm_home / "registry") == index
    assert not list((nnpm_home / "registry").rglob("*.tmp"))


@pytest.mark.parametrize("failing", ["nnpm.toml", "nnpm.lock"])
def test_a_read_only_project_keeps_nnpm_toml_and_nnpm_lock_as_they_were(
    tmp_path, workdir, monkeypatch, capsys, failing
):
    publish(tmp_path)
    project = '[project]\nname = "p"\ndependencies = []\n'
    (workdir / "nnpm.toml").write_text(project)
    _fail_writes(monkeypatch, errno.EROFS, only=f"{workdir}/.{failing}.")
    status, _, err = run_cli(capsys, "install", "test/mlp")
    (line,) = [line for line in err.splitlines() if "error" in line]  # after "installed test/mlp==1.0.0"
    assert status == 1 and line.startswith(f"nnpm: error: {workdir / failing}: cannot write: the filesystem")
    assert (workdir / "nnpm.toml").read_text() == project and not (workdir / "nnpm.lock").exists()


def test_uninstall_in_a_project_whose_lock_cannot_be_written_keeps_nnpm_toml(tmp_path, workdir, monkeypatch):
    publish(tmp_path)
    (workdir / "nnpm.toml").write_text('[project]\nname = "p"\ndependencies = []\n')
    api.install(["test/mlp"])
    project, lock = (workdir / "nnpm.toml").read_text(), (workdir / "nnpm.lock").read_text()
    _fail_writes(monkeypatch, errno.ENOSPC, only=f"{workdir}/.nnpm.lock.")
    with pytest.raises(WriteError, match="no space left"):
        api.uninstall(["test/mlp"])
    assert (workdir / "nnpm.toml").read_text() == project and (workdir / "nnpm.lock").read_text() == lock


def test_a_store_whose_lock_cannot_be_taken_for_writing_is_a_write_error(tmp_path, monkeypatch):
    import filelock

    class ReadOnly(filelock.FileLock):
        def acquire(self, *args, **kwargs):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self.lock_file))

    monkeypatch.setattr(filelock, "FileLock", ReadOnly)
    with pytest.raises(WriteError, match="read-only") as err, Store(tmp_path / "store").locked():
        pass
    assert err.value.where == str(tmp_path / "store")


def test_config_toml_on_a_full_disk_is_one_line_and_keeps_the_old_file(nnpm_home, monkeypatch, capsys):
    assert run_cli(capsys, "registry", "add", "team", "/srv/a")[0] == 0
    before = (nnpm_home / "config.toml").read_bytes()
    _fail_writes(monkeypatch, errno.ENOSPC)
    code, _, err = run_cli(capsys, "registry", "add", "other", "/srv/b")
    assert code == 1 and err.startswith(f"nnpm: error: {nnpm_home / 'config.toml'}: cannot write: no space")
    assert (nnpm_home / "config.toml").read_bytes() == before and not list(nnpm_home.glob(".*.tmp"))


# --- 5. verify waits for a writer instead of reporting its half-done change ---------------------------


def test_verify_waits_for_a_concurrent_uninstall_instead_of_failing(installed):
    writer = Store()
    found: list = []
    with writer.locked():
        weights = installed.path / "weights.safetensors"
        aside = installed.path.parent / "weights-aside"
        os.rename(weights, aside)  # a writer's change, half done
        reader = threading.Thread(target=lambda: found.append(api.verify()))
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive() and found == []  # verify holds off while the writer works
        os.rename(aside, weights)
    reader.join(timeout=30)
    assert found == [[]]


def test_verify_gives_up_on_a_writer_that_holds_the_lock_too_long(installed):
    from nnpm.errors import LockTimeoutError

    with Store().locked(), pytest.raises(LockTimeoutError, match="locked by another nnpm process"):
        Store(lock_timeout=0.2).verify()


def test_verify_of_a_store_no_writer_ever_locked_needs_no_lock_file(installed, nnpm_home):
    (nnpm_home / "store" / ".lock").unlink()
    assert api.verify() == []


def test_a_store_write_error_is_a_write_error(tmp_path, monkeypatch):
    """The library raises nnpm's own error, for callers that are not the CLI."""
    publish(tmp_path)
    _fail_writes(monkeypatch, errno.ENOSPC)
    with pytest.raises(WriteError, match="no space left") as err:
        api.install(["test/mlp"], project=False)
    assert "NNPM_HOME" in err.value.hint
