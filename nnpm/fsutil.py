"""Filesystem primitives: atomic writes, an atomic exchange of two paths, and streaming hashes.

Every file nnpm writes goes through a temporary file in the same directory and an
os.replace, so a reader (or a killed process) never sees half a file.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from nnpm.errors import ManifestError, WriteError


def file_mode() -> int:
    """The mode a plain open() would give a new file under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


#: What a write that cannot succeed here fails with: a full disk or quota, a read-only
#: filesystem, a folder the user may not write to.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def write_error(exc: OSError, where: Path | str) -> WriteError | None:
    """The WriteError for an OSError that no retry will cure (ENOSPC, EDQUOT, EROFS, EACCES,
    EPERM), naming `where` and what to do; None for any other OSError."""
    if exc.errno not in _WRITE_ERRNOS:
        return None
    elsewhere = "or work on another disk (the store and the local registry follow NNPM_HOME)"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what, hint = "no space left on the disk", f"free space on that disk and retry, {elsewhere}"
    elif exc.errno == errno.EROFS:
        what, hint = "the filesystem is read-only", f"remount it read-write, {elsewhere}"
    else:
        what, hint = "permission denied", f"fix the folder's owner or permissions, {elsewhere}"
    return WriteError(f"cannot write: {what}", where=str(where), hint=hint)


@contextlib.contextmanager
def writing(where: Path | str) -> Iterator[None]:
    """Turn a write that cannot succeed here (disk full, read-only, not permitted) into one
    WriteError naming `where`; the caller's cleanup runs as for any other exception."""
    try:
        yield
    except OSError as exc:
        error = write_error(exc, where)
        if error is None:
            raise
        raise error from None


def write_chunk(fh: BinaryIO, data: bytes) -> None:
    """Every byte nnpm writes to a file goes through here (tests inject a full disk at this point)."""
    fh.write(data)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `path` through a temporary file and a rename: readers see the old file or the new one.

    A write that cannot succeed (disk full, read-only, not permitted) is one WriteError naming
    `path`, and leaves the old file and no temporary file behind.
    """
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            with open(tmp, "wb") as fh:  # by name, so that fh.name says which file is written
                write_chunk(fh, data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, file_mode())  # mkstemp creates 0600; give the file ordinary permissions
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def copy_stream(source: BinaryIO, dest: BinaryIO, progress=None) -> int:
    """Copy `source` to `dest` in 1 MiB chunks (through `write_chunk`); returns the bytes copied."""
    total = 0
    while chunk := source.read(1 << 20):
        write_chunk(dest, chunk)
        total += len(chunk)
        if progress:
            progress.advance(len(chunk))
    return total


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size in bytes), streamed by hashlib.file_digest so large weights never sit in memory.

    The size is the number of bytes hashed: the unbuffered file's offset once file_digest has read
    it to the end (whether it reads through the file object or straight from its descriptor).
    """
    with open(path, "rb", buffering=0) as fh:
        digest = hashlib.file_digest(fh, "sha256")
        return digest.hexdigest(), fh.tell()


#: Linux's renameat2 flag that swaps two paths in one step (linux/fs.h), and "relative to the cwd"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.cache
def _renameat2():
    """libc's renameat2 where it has one (Linux: glibc 2.28 and later), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # only here: `nnpm list` and friends must start fast

    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two existing paths (files or directories) atomically; False where the system cannot.

    Uses renameat2(RENAME_EXCHANGE) (Linux 3.15+, most local filesystems): a reader sees one or the
    other, never neither. Returns False when the call or the flag is not supported here, so that
    the caller can fall back to two renames; raises OSError for any other failure.
    """
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    import ctypes

    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words: "a symbolic link", "a FIFO", ..."""
    kinds = [
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISREG, "a regular file"),
    ]
    return next((word for test, word in kinds if test(mode)), "not a regular file")


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading without following a symbolic link; a link, a FIFO, a device,
    a socket or a directory is a ManifestError naming the path, raised before a byte is read (the
    open is non-blocking, so a FIFO cannot hang it). FileNotFoundError is left to the caller."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno != errno.ELOOP:  # ELOOP: the last component is a symbolic link (O_NOFOLLOW)
            raise
        kind = "a symbolic link"
    else:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            return os.fdopen(fd, "rb", buffering=0)
        os.close(fd)
        kind = kind_of(mode)
    raise ManifestError(
        f"{kind}, not a regular file",
        where=str(path),
        hint="a package holds only regular files: replace it with a copy of the file, or remove it",
    )


def hash_regular_file(path: Path) -> tuple[str, int]:
    """hash_file for a file that must be a regular file, not a link to one (`open_regular`)."""
    with open_regular(path) as fh:
        digest = hashlib.file_digest(fh, "sha256")
        return digest.hexdigest(), fh.tell()


def scan_tree(root: Path, *, hidden: bool = False) -> tuple[list[str], list[tuple[str, str]]]:
    """(files, odd) under root, never following a link: files are the relative POSIX paths of the
    regular files, odd the (path, kind) of everything that is neither a regular file nor a folder
    (symbolic links, FIFOs, devices, sockets). Names starting with "." are skipped unless `hidden`."""
    files: list[str] = []
    odd: list[tuple[str, str]] = []

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                rel = prefix + entry.name
                if entry.name.startswith(".") and not hidden:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, rel + "/")
                elif entry.is_file(follow_symlinks=False):
                    files.append(rel)
                else:
                    odd.append((rel, kind_of(entry.stat(follow_symlinks=False).st_mode)))

    walk(os.fspath(root), "")
    return sorted(files), sorted(odd)
