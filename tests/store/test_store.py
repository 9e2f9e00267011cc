import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import nnpm.store.store as store_module
from nnpm import api
from nnpm.errors import IntegrityError, NotInstalledError
from nnpm.fsutil import exchange_paths, hash_file
from nnpm.package.naming import PackageName
from nnpm.store.store import RECORD_NAME, Store
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


CHILD = Path(__file__).with_name("install_child.py")
REPO = Path(__file__).resolve().parents[2]


def _kill_at(point: str, package: str, specs: list[str], tmp_path: Path, *, force: bool = False) -> list[str]:
    """Run an install that stops at `point` while installing `package`, wait until it says it is
    there, SIGKILL it, and return the packages it had finished (in order)."""
    marker, log = tmp_path / f"marker-{uuid.uuid4().hex}", tmp_path / f"log-{uuid.uuid4().hex}"
    log.touch()
    args = [
        sys.executable,
        str(CHILD),
        point,
        package,
        str(marker),
        str(log),
        *(["--force"] if force else []),
        *specs,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert marker.exists(), f"the install never reached {point} {package}: {err.decode()[-2000:]}"
    said = marker.read_text()
    assert said.startswith(("fetching", "staged", "moved", "exchanged")), said  # it stopped there, not later
    assert proc.returncode == -signal.SIGKILL  # killed while waiting at that point, not finished
    return log.read_text().split()


@pytest.mark.parametrize(
    ("point", "index"),
    [("fetch", 0), ("fetch", 3), ("staged", 0), ("staged", 5)],
)
def test_an_install_killed_midway_leaves_the_store_as_it_was(tmp_path, nnpm_home, point, index):
    names = [f"digits/k{i}" for i in range(6)]
    for i, name in enumerate(names):
        publish(tmp_path, name, "1.0.0", seed=i)
    killed_in = names[index]
    finished = _kill_at(point, killed_in, names, tmp_path)
    # it really died mid-install: the packages before this one done, this one half staged in tmp/
    assert len(finished) == index and killed_in not in finished
    tmp = nnpm_home / "store" / "tmp"
    if point == "fetch":
        assert [p for p in tmp.glob("*/.*.part")], "no partial download was left behind"
    else:
        assert [p for p in tmp.glob(f"*/{RECORD_NAME}")], "no complete staged copy was left behind"
    # the store holds exactly what had finished, each package complete and verified
    store = Store()
    assert [str(p.name) for p in store.installed()] == sorted(finished)
    assert store.get(PackageName.parse(killed_in), "1.0.0") is None
    assert store.corrupt_records() == [] and api.verify() == []
    # and the next install succeeds, sweeping the leftovers
    api.install(names, project=False)
    assert [str(p.name) for p in Store().installed()] == names and api.verify() == []
    assert not tmp.exists() or not any(tmp.iterdir())


# --- killed at the store's named crash points (NNPM_TEST_CRASH_AT), in the real CLI ---------------


def _crash_cli_at(point: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `nnpm ARGS` with NNPM_TEST_CRASH_AT=point: the store SIGKILLs the process right there."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NNPM_TEST_CRASH_AT": point}
    code = "import sys; from nnpm.cli import main; main(sys.argv[1:])"
    command = [sys.executable, "-c", code, "-q", *args]
    proc = subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, f"never reached {point}: {proc.stderr.decode()[-2000:]}"
    return proc


def _store_files(nnpm_home: Path) -> tuple[list[str], list[str]]:
    """(what is in the store's tmp/, the blobs), as names."""
    store = nnpm_home / "store"
    tmp = sorted(p.name for p in (store / "tmp").iterdir()) if (store / "tmp").is_dir() else []
    return tmp, sorted(p.name for p in (store / "blobs").glob("sha256/*/*"))


@pytest.mark.parametrize("point", ["fetched:digits/k1", "staged:digits/k1"])
def test_an_install_killed_at_a_named_point_leaves_what_had_finished(tmp_path, nnpm_home, point):
    names = [f"digits/k{i}" for i in range(3)]
    for i, name in enumerate(names):
        publish(tmp_path, name, "1.0.0", seed=i)
    _crash_cli_at(point, "install", "--no-save", *names, cwd=tmp_path)
    store = Store()
    # installs go in name order: k0 finished, k1 died at the point, k2 never began
    assert [str(p.name) for p in store.installed()] == ["digits/k0"]
    assert store.corrupt_records() == [] and api.verify() == []
    tmp, blobs = _store_files(nnpm_home)
    (staging,) = tmp  # exactly one half-done install is left, with what the point says
    staged = {p.name for p in (nnpm_home / "store" / "tmp" / staging).iterdir()}
    if point.startswith("fetched"):
        assert len(staged) == 1 and next(iter(staged)).endswith(".part")
    else:
        assert {RECORD_NAME, "nnpm.toml", "weights.safetensors"} <= staged
    k0 = store.get(PackageName.parse("digits/k0"), "1.0.0")
    assert {e.sha256 for e in k0.manifest.files.values()} <= set(blobs)  # and k1's, if it stored any
    api.install(names, project=False)  # the next writer sweeps tmp/ and finishes the job
    assert [str(p.name) for p in Store().installed()] == names and api.verify() == []
    tmp, blobs = _store_files(nnpm_home)
    assert tmp == []
    linked = {e.sha256 for p in Store().installed() for e in p.manifest.files.values()}
    assert set(blobs) == linked


def test_an_uninstall_killed_before_collecting_blobs_is_done_and_the_next_writer_collects(
    tmp_path, nnpm_home
):
    publish(tmp_path, "digits/keep", "1.0.0")
    publish(tmp_path, "digits/gone", "1.0.0", seed=1)
    api.install(["digits/keep", "digits/gone"], project=False)
    keep = Store().get(PackageName.parse("digits/keep"), "1.0.0")
    _crash_cli_at("removed:digits/gone", "uninstall", "digits/gone", cwd=tmp_path)
    store = Store()
    assert [str(p.name) for p in store.installed()] == ["digits/keep"]  # the rename was the commit
    assert store.corrupt_records() == [] and api.verify() == []
    tmp, blobs = _store_files(nnpm_home)
    assert len(tmp) == 1 and tmp[0].startswith("rm-")  # the removed folder, still linking its blobs
    kept = {e.sha256 for e in keep.manifest.files.values()}
    assert kept < set(blobs)
    with store.locked():  # the next writer, whatever it does, sweeps tmp/ and collects the blobs
        pass
    assert _store_files(nnpm_home) == ([], sorted(kept))


def test_a_forced_reinstall_killed_after_the_exchange_keeps_the_new_copy(tmp_path, nnpm_home):
    if not _exchange_works(tmp_path):
        pytest.skip("this system has no atomic exchange of two folders (renameat2)")
    publish(tmp_path, "digits/mlp", "1.0.0")
    (before,) = api.install(["digits/mlp"], project=False).packages
    weights = before.path / "weights.safetensors"
    os.chmod(weights, 0o644)
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")  # the old copy is damaged
    _crash_cli_at("exchanged:digits/mlp", "install", "--no-save", "--force", "digits/mlp", cwd=tmp_path)
    after = Store().get(PackageName.parse("digits/mlp"), "1.0.0")
    assert after is not None and after.sha256 == before.sha256
    assert api.verify() == []  # the repaired copy is in place; the damaged one waits in tmp/
    (old,) = _store_files(nnpm_home)[0]
    entry = after.manifest.files["weights.safetensors"]
    assert hash_file(nnpm_home / "store" / "tmp" / old / "weights.safetensors")[0] != entry.sha256
    with Store().locked():  # the next writer removes it
        pass
    assert _store_files(nnpm_home)[0] == [] and api.verify() == []


# --- replacing an installed package (--force) --------------------------------------------------


def _exchange_works(tmp_path: Path) -> bool:
    a, b = tmp_path / "probe-a", tmp_path / "probe-b"
    a.mkdir(), b.mkdir()
    return exchange_paths(a, b)


def test_a_forced_reinstall_exchanges_the_folders_so_the_package_is_never_missing(tmp_path, monkeypatch):
    if not _exchange_works(tmp_path):
        pytest.skip("this system has no atomic exchange of two folders (renameat2)")
    publish(tmp_path, "digits/mlp", "1.0.0")
    (pkg,) = api.install(["digits/mlp"], project=False).packages
    weights = pkg.path / "weights.safetensors"
    os.chmod(weights, 0o644)
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    assert api.verify() != []

    def no_renames(source, dest):
        raise AssertionError(f"the installed folder was renamed away: {source} -> {dest}")

    monkeypatch.setattr(store_module, "_move", no_renames)
    api.install(["digits/mlp"], project=False, force=True)
    assert api.verify() == []


def test_killed_right_after_the_exchange_the_new_install_is_in_place(tmp_path, nnpm_home):
    if not _exchange_works(tmp_path):
        pytest.skip("this system has no atomic exchange of two folders (renameat2)")
    publish(tmp_path, "digits/mlp", "1.0.0")
    (before,) = api.install(["digits/mlp"], project=False).packages
    assert _kill_at("exchanged", "digits/mlp", ["digits/mlp"], tmp_path, force=True) == []
    after = Store().get(PackageName.parse("digits/mlp"), "1.0.0")
    assert after is not None and after.sha256 == before.sha256 and api.verify() == []


def test_killed_between_the_two_renames_of_a_replacement_the_next_writer_puts_the_old_one_back(
    tmp_path, nnpm_home
):
    """Without an atomic exchange there is a moment with no package: the journal makes it recoverable."""
    publish(tmp_path, "digits/mlp", "1.0.0")
    (before,) = api.install(["digits/mlp"], project=False).packages
    assert _kill_at("aside", "digits/mlp", ["digits/mlp"], tmp_path, force=True) == []
    store = Store()
    assert store.get(before.name, before.version) is None  # the kill really landed in the window
    with store.locked():  # the next writer, whatever it does, first puts the old install back
        pass
    back = store.get(before.name, before.version)
    assert back is not None and back.sha256 == before.sha256 and api.verify() == []
    assert not (nnpm_home / "store" / "tmp").exists() or not any((nnpm_home / "store" / "tmp").iterdir())


def test_a_replacement_without_an_atomic_exchange_still_installs(tmp_path, monkeypatch):
    publish(tmp_path, "digits/mlp", "1.0.0")
    api.install(["digits/mlp"], project=False)
    monkeypatch.setattr(store_module, "exchange_paths", lambda a, b: False)
    (pkg,) = api.install(["digits/mlp"], project=False, force=True).packages
    assert pkg.path.is_dir() and api.verify() == []
    assert not any((pkg.path.parents[3] / "tmp").glob("swap-*.json"))


# --- corrupt install records --------------------------------------------------------------------


@pytest.fixture
def two_installed(tmp_path):
    """(digits/good, digits/bad), both installed."""
    publish(tmp_path, "digits/good", "1.0.0")
    publish(tmp_path, "digits/bad", "1.0.0", seed=1)
    by_name = {str(p.name): p for p in api.install(["digits/good", "digits/bad"], project=False).packages}
    return by_name["digits/good"], by_name["digits/bad"]


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda record: record.write_text("{not json"), "corrupt install record: not JSON"),
        (
            lambda record: record.write_text('{"name": "digits/bad"}'),
            "corrupt install record: no version, sha256, registry",
        ),
        (lambda record: record.write_text("[]"), "corrupt install record: not a JSON object"),
        (
            lambda record: record.write_text(record.read_text().replace('"digits/bad"', '"digits/other"')),
            "corrupt install record: it names digits/other==1.0.0",
        ),
        (lambda record: record.write_bytes(b"\xff\xfe"), "unreadable install record: not UTF-8 text"),
        (
            lambda record: (record.unlink(), record.mkdir()),
            "unreadable install record: not a regular file (a directory)",
        ),
        (lambda record: record.unlink(), "no install record"),
    ],
)
def test_a_corrupt_install_record_is_reported_by_verify_not_hidden(two_installed, damage, said):
    good, bad = two_installed
    record = bad.path / RECORD_NAME
    damage(record)
    store = Store()
    assert [str(p.name) for p in store.installed()] == ["digits/good"]  # not an installed package
    (corrupt,) = store.corrupt_records()
    assert corrupt.package == "digits/bad==1.0.0" and corrupt.path == record and said in corrupt.what
    assert api.verify() == [corrupt]


def test_nnpm_verify_exits_3_on_a_corrupt_install_record(two_installed, capsys):
    from nnpm.cli import main

    _, bad = two_installed
    (bad.path / RECORD_NAME).write_text("{not json")
    with pytest.raises(SystemExit) as exit_:
        main(["verify"])
    assert exit_.value.code == 3
    assert "digits/bad==1.0.0" in capsys.readouterr().err


def test_installing_again_replaces_a_package_whose_record_is_corrupt(two_installed):
    _, bad = two_installed
    (bad.path / RECORD_NAME).write_text("{not json")
    api.install(["digits/bad"], project=False)
    assert Store().corrupt_records() == [] and api.verify() == []
    assert [str(p.name) for p in Store().installed()] == ["digits/bad", "digits/good"]


def test_uninstall_clears_a_package_whose_record_is_corrupt(two_installed, nnpm_home):
    good, bad = two_installed
    (bad.path / RECORD_NAME).write_text("{not json")
    api.uninstall(["digits/bad"], project=False)
    assert not bad.path.exists() and Store().corrupt_records() == []
    blobs = {p.name for p in (nnpm_home / "store" / "blobs").rglob("*") if p.is_file()}
    assert blobs == {e.sha256 for e in good.manifest.files.values()}


# --- hashing and exchanging ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, (1 << 18) + 3, (3 << 20) + 1])
def test_hash_file_gives_the_sha256_and_the_size(tmp_path, size):
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert hash_file(path) == (hashlib.sha256(data).hexdigest(), size)


def test_exchange_paths_swaps_two_folders_or_says_it_cannot(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a")
    (b / "y").write_text("b")
    if not exchange_paths(a, b):
        pytest.skip("no atomic exchange here")
    assert [p.name for p in a.iterdir()] == ["y"] and [p.name for p in b.iterdir()] == ["x"]
    with pytest.raises(FileNotFoundError):
        exchange_paths(a, tmp_path / "missing")
