import os
import signal
import subprocess
import sys
import time

import pytest

from nnpm import api
from nnpm.errors import IntegrityError, NotInstalledError
from nnpm.store.store import Store
from tests.factories import publish


def test_install_load_and_verify(tmp_path):
    publish(tmp_path, "digits/mlp", "1.0.0")
    api.install(["digits/mlp"], project=False)
    model = api.load("digits/mlp", project=False)
    assert model.manifest.id == "digits/mlp==1.0.0"
    assert not model.training
    assert api.verify() == []


def test_a_tampered_installed_file_is_caught_by_verify_and_by_load(tmp_path):
    publish(tmp_path, "digits/mlp", "1.0.0")
    (pkg,) = api.install(["digits/mlp"], project=False).packages
    weights = pkg.path / "weights.safetensors"
    os.chmod(weights, 0o644)
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0x01
    weights.write_bytes(bytes(data))
    problems = api.verify()
    assert (
        len(problems) == 1
        and "weights.safetensors" in problems[0].what
        and "sha256 mismatch" in problems[0].what
    )
    with pytest.raises(IntegrityError, match="weights.safetensors"):
        api.load("digits/mlp", project=False)
    api.install(["digits/mlp"], project=False, force=True)  # --force repairs it
    assert api.verify() == []


def test_loading_something_not_installed_says_how_to_install_it():
    with pytest.raises(NotInstalledError, match="nnpm install"):
        api.load("digits/mlp", project=False)


def test_uninstall_removes_the_package_and_its_unshared_blobs(tmp_path, nnpm_home):
    publish(tmp_path, "digits/mlp", "1.0.0")
    api.install(["digits/mlp"], project=False)
    api.uninstall(["digits/mlp"], project=False)
    assert Store().installed() == []
    assert not [p for p in (nnpm_home / "store" / "blobs").rglob("*") if p.is_file()]


_INSTALL = "import sys; from nnpm import api; api.install(sys.argv[1:], project=False)"


def _spawn(*specs: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _INSTALL, *specs], stderr=subprocess.PIPE, env=os.environ.copy()
    )


def test_two_installs_at_once_both_succeed_and_the_store_stays_consistent(tmp_path):
    for i in range(4):
        publish(tmp_path, f"digits/m{i}", "1.0.0", seed=i)
    procs = [_spawn("digits/m0", "digits/m1", "digits/m2"), _spawn("digits/m1", "digits/m2", "digits/m3")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert [str(p.name) for p in Store().installed()] == [f"digits/m{i}" for i in range(4)]
    assert api.verify() == []


def test_an_install_killed_midway_leaves_the_store_as_it_was(tmp_path, nnpm_home):
    names = [f"digits/k{i}" for i in range(6)]
    for i, name in enumerate(names):
        publish(tmp_path, name, "1.0.0", seed=i)
    outcomes = set()
    for delay in (0.05, 0.3, 0.6, 0.9, 1.2):
        proc = _spawn(*names)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        installed = Store().installed()
        # whatever the moment of death: every installed package is complete and verifies
        assert api.verify() == []
        assert all(p.path.joinpath("weights.safetensors").exists() for p in installed)
        outcomes.add(len(installed))
        api.uninstall([str(p.name) for p in installed], project=False) if installed else None
    api.install(names, project=False)  # and the next install succeeds, sweeping the leftovers
    assert len(Store().installed()) == 6 and api.verify() == []
    assert not (nnpm_home / "store" / "tmp").exists() or not any((nnpm_home / "store" / "tmp").iterdir())
