"""Install reads each byte once (issue 15): a local registry's file is copied by the kernel (or
reflinked) and hashed from the copy, a stream is hashed as it is written (HashingWriter), and only
a registry that offers neither is hashed after fetch_file. Installed files are read-only: a normal
write through the package folder is refused, and `nnpm verify` finds an edit forced through anyway."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import pytest

import nnpm.fsutil
import nnpm.store.fetch as fetch_module
from nnpm import api
from nnpm.errors import IntegrityError, WriteError
from nnpm.fsutil import HashingWriter, copy_hashing
from nnpm.package.manifest import MANIFEST_NAME
from nnpm.package.naming import PackageName
from nnpm.registry.local import LocalRegistry, blob_path
from nnpm.store.store import Store
from tests.factories import publish, run_cli


class BlobRegistry(LocalRegistry):
    """Hands the store its blob file, as a directory registry's `local_file` does; fetch_file must
    not be needed then."""

    def local_file(self, info, path, entry):
        source = blob_path(self.root, entry.sha256)
        return source if source.is_file() and not source.is_symlink() else None

    def fetch_file(self, *args, **kwargs):
        raise AssertionError("fetch_file was called although local_file answered")


class StreamRegistry(LocalRegistry):
    """Streams into the store's writer (`fetch_into`), starting over once as a retried download does."""

    def local_file(self, info, path, entry):
        return None

    def fetch_into(self, info, path, entry, out, progress=None):
        with open(blob_path(self.root, entry.sha256), "rb") as src:
            nnpm.fsutil.write_chunk(out, b"the first attempt, cut off")
            out.seek(0)
            out.truncate()
            nnpm.fsutil.copy_stream(src, out, progress)

    def fetch_file(self, *args, **kwargs):
        raise AssertionError("fetch_file was called although fetch_into exists")


class PlainRegistry(LocalRegistry):
    """Only the original interface: fetch_file writes the file, the store hashes it afterwards."""

    def local_file(self, info, path, entry):
        return None


def _install(nnpm_home: Path, kind: type, *, force: bool = False):
    registry = kind("local", str(nnpm_home / "registry"))
    info = registry.versions(PackageName.parse("test/mlp"))[-1]
    store = Store()
    with store.locked():
        return store.install(info, registry, force=force)


def _no_second_pass(monkeypatch) -> None:
    def refuse(path):
        raise AssertionError(f"{path} was read again after it was fetched")

    monkeypatch.setattr(fetch_module, "hash_file", refuse)


def _count_kernel_copies(monkeypatch) -> list[int]:
    copied: list[int] = []
    real = nnpm.fsutil.kernel_copy

    def counting(src_fd, dest, count, way):
        copied.append(real(src_fd, dest, count, way))
        return copied[-1]

    monkeypatch.setattr(nnpm.fsutil, "kernel_copy", counting)
    return copied


def _store_files(nnpm_home: Path, folder: str) -> list[Path]:
    root = nnpm_home / "store" / folder
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_local_install_is_a_kernel_copy_hashed_once_into_its_own_read_only_blobs(
    tmp_path, nnpm_home, monkeypatch
):
    publish(tmp_path)
    _no_second_pass(monkeypatch)
    copied = _count_kernel_copies(monkeypatch)
    pkg = _install(nnpm_home, BlobRegistry)
    assert sum(copied) == sum(e.size for e in pkg.manifest.files.values())
    assert api.verify() == []
    for rel, entry in pkg.manifest.files.items():
        installed = os.stat(pkg.path / rel)
        registry_blob = os.stat(blob_path(nnpm_home / "registry", entry.sha256))
        assert installed.st_ino != registry_blob.st_ino  # the store's own inode, never the registry's
        assert stat.S_IMODE(installed.st_mode) == 0o444


def test_a_forced_reinstall_rehashes_the_stored_blobs_and_copies_nothing(tmp_path, nnpm_home, monkeypatch):
    publish(tmp_path)
    before = _install(nnpm_home, BlobRegistry)
    copied = _count_kernel_copies(monkeypatch)
    after = _install(nnpm_home, BlobRegistry, force=True)
    assert copied == [] and after.sha256 == before.sha256 and api.verify() == []


def test_a_corrupted_local_blob_is_refused_and_nothing_is_left(tmp_path, nnpm_home):
    result = publish(tmp_path)
    entry = result.manifest.files["weights.safetensors"]
    blob = blob_path(nnpm_home / "registry", entry.sha256)
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256 mismatch for 'weights.safetensors'"):
        _install(nnpm_home, BlobRegistry)
    assert Store().installed() == [] and _store_files(nnpm_home, "tmp") == []
    assert _store_files(nnpm_home, "blobs") == []


def test_a_local_blob_of_the_wrong_size_is_refused_unread(tmp_path, nnpm_home, monkeypatch):
    result = publish(tmp_path)
    entry = result.manifest.files["weights.safetensors"]
    blob = blob_path(nnpm_home / "registry", entry.sha256)
    os.chmod(blob, 0o644)
    with blob.open("ab") as fh:
        fh.write(b"\0" * (1 << 20))
    copied = _count_kernel_copies(monkeypatch)
    with pytest.raises(IntegrityError, match=r"holds \d+ bytes \(not read\)"):
        _install(nnpm_home, BlobRegistry)
    others = sum(e.size for rel, e in result.manifest.files.items() if rel != "weights.safetensors")
    assert sum(copied) <= others and Store().installed() == []  # not one byte of the weights


def test_a_full_disk_during_the_kernel_copy_is_one_write_error_and_nothing_half_installed(
    tmp_path, nnpm_home, monkeypatch
):
    publish(tmp_path)

    def full(src_fd, dest, count, way):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(nnpm.fsutil, "kernel_copy", full)
    with pytest.raises(WriteError, match="no space left"):
        _install(nnpm_home, BlobRegistry)
    assert Store().installed() == [] and _store_files(nnpm_home, "tmp") == []
    assert _store_files(nnpm_home, "blobs") == []


def test_a_streamed_install_is_hashed_as_it_is_written_even_when_it_starts_over(
    tmp_path, nnpm_home, monkeypatch
):
    publish(tmp_path)
    _no_second_pass(monkeypatch)
    _install(nnpm_home, StreamRegistry)
    assert api.verify() == []


def test_a_registry_with_only_fetch_file_still_installs(tmp_path, nnpm_home):
    publish(tmp_path)
    _install(nnpm_home, PlainRegistry)
    assert api.verify() == []


# --- read-only installed files ------------------------------------------------------------------

NOBODY = 65534


def _may_write(path: Path) -> bool:
    """Whether the file's owner may open it for writing, as an editor would. Root ignores permission
    bits (these tests run as root), so then the file is given to an unprivileged user for the check,
    and a child process running as that user opens it through a descriptor of its folder (the
    folders above may be closed to that user)."""
    if os.geteuid() != 0:
        try:
            open(path, "r+b").close()
        except PermissionError:
            return False
        return True
    owner = os.stat(path)
    os.chown(path, NOBODY, NOBODY)
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        pid = os.fork()
        if pid == 0:  # the child: only system calls, then _exit
            code = 2
            try:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                os.close(os.open(path.name, os.O_WRONLY, dir_fd=folder))
                code = 1
            except PermissionError:
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(folder)
        os.chown(path, owner.st_uid, owner.st_gid)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 1), "the write check itself failed"
    return code == 1


def test_an_installed_file_refuses_a_normal_write_and_verify_finds_a_forced_one(tmp_path, capsys):
    publish(tmp_path)
    (pkg,) = api.install(["test/mlp"], project=False).packages
    control = tmp_path / "control"
    control.mkdir(mode=0o755)
    (control / "file").write_bytes(b"an ordinary file")
    assert _may_write(control / "file")  # the check tells a writable file from a read-only one
    for name in [MANIFEST_NAME, *pkg.manifest.files]:
        assert not _may_write(pkg.path / name), f"{name} can be edited in place"

    weights = pkg.path / "weights.safetensors"
    os.chmod(weights, 0o644)  # forced: the edit reaches the blob too, which is the same file
    with open(weights, "r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0x01]))
    code, _, err = run_cli(capsys, "verify")
    assert code == 3 and "weights.safetensors" in err and "sha256 mismatch" in err

    code, _, err = run_cli(capsys, "install", "--force", "--no-save", "test/mlp")
    assert code == 0, err
    (again,) = Store().installed()
    assert api.verify() == []
    for name in [MANIFEST_NAME, *again.manifest.files]:
        assert stat.S_IMODE(os.stat(again.path / name).st_mode) == 0o444


# --- the helpers in nnpm.fsutil -----------------------------------------------------------------


def _copy(tmp_path: Path, data: bytes, limit: int) -> tuple[tuple[str, int], bytes]:
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.write_bytes(data)
    dest.unlink(missing_ok=True)
    with open(src, "rb", buffering=0) as fh, open(dest, "x+b") as out:
        result = copy_hashing(fh, out, limit=limit)
    return result, dest.read_bytes()


@pytest.mark.parametrize("way", ["copy_file_range", "sendfile", "read"])
@pytest.mark.parametrize("size", [0, 1, nnpm.fsutil.COPY_CHUNK + 3])
def test_copy_hashing_copies_and_hashes_what_it_keeps_whichever_way_the_kernel_allows(
    tmp_path, monkeypatch, way, size
):
    def unsupported(*args):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    if way in ("sendfile", "read"):
        monkeypatch.setattr(os, "copy_file_range", unsupported)
    if way == "read":
        monkeypatch.setattr(os, "sendfile", unsupported)
    data = os.urandom(size)
    for limit in {size, max(size - 1, 0)}:  # a source longer than the manifest says: `limit` bytes kept
        result, kept = _copy(tmp_path, data, limit)
        assert kept == data[:limit] and result == (hashlib.sha256(kept).hexdigest(), limit)


def test_copy_hashing_after_a_reflink_keeps_limit_bytes_and_hashes_them(tmp_path, monkeypatch):
    def clone(src_fd, dest_fd):  # what FICLONE does: the whole source, however long it has grown
        os.sendfile(dest_fd, src_fd, 0, os.fstat(src_fd).st_size)
        return True

    monkeypatch.setattr(nnpm.fsutil, "reflink", clone)
    data = os.urandom(5000)
    result, kept = _copy(tmp_path, data, 4096)
    assert kept == data[:4096] and result == (hashlib.sha256(kept).hexdigest(), 4096)


def test_hashing_writer_hashes_what_it_writes_and_only_starts_over(tmp_path):
    with open(tmp_path / "f", "xb") as fh:
        out = HashingWriter(fh)
        out.write(b"dropped")
        out.seek(0)
        out.truncate()
        out.write(b"kept")
        with pytest.raises(OSError, match="only seeks back"):
            out.seek(2)
        out.flush()
        assert out.result() == (hashlib.sha256(b"kept").hexdigest(), 4) and out.tell() == 4
    assert (tmp_path / "f").read_bytes() == b"kept"
