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
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def file_mode() -> int:
    """The mode a plain open() would give a new file under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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


def iter_files(root: Path) -> Iterator[str]:
    """Relative POSIX paths of the regular files under root, skipping hidden files and folders."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file() or path.is_symlink():
            continue
        yield rel.as_posix()
