"""Reading nnpm's own files safely, and the rules for the file names a package may hold.

Every nnpm file (manifest, lock, project file, config) is read through `read_text_file`
and `parse_toml`: regular files only, a size cap, a nesting cap, finite numbers; so a FIFO,
/dev/zero or a hostile document is one clear error instead of a hang or a crash.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nnpm.errors import ManifestError
from nnpm.package import schema
from nnpm.package.naming import is_windows_reserved

MANIFEST_NAME = "nnpm.toml"
#: The largest nnpm file read (a manifest, a lock): far above any real one, far below harm.
MAX_MANIFEST_BYTES = 1024 * 1024
_SAFE_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")


def read_text_file(path: Path, *, limit: int = MAX_MANIFEST_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; anything else is a ManifestError.

    The file is opened non-blocking and checked with fstat before a byte is read, so a FIFO, a
    device such as /dev/zero or a directory is refused at once instead of hanging or filling memory.
    Raises FileNotFoundError when there is no file, for the caller to word.
    """
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise ManifestError("not a regular file (a directory)", where=where) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # checked before fdopen, which refuses a directory without closing it
        os.close(fd)
        kind = " (a directory)" if stat.S_ISDIR(info.st_mode) else ""
        raise ManifestError(
            f"not a regular file{kind}", where=where, hint="nnpm reads its files only from regular files"
        )
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ManifestError(
            f"file is larger than {limit} bytes", where=where, hint=f"nnpm's files are at most {limit} bytes"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError("not UTF-8 text", where=where) from None


def parse_toml(text: str, *, where: str) -> dict[str, Any]:
    """Parse TOML; malformed, too deeply nested or non-finite documents are a ManifestError."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(
            f"malformed TOML: {exc}", where=where, hint="fix the TOML syntax at that line"
        ) from None
    except RecursionError:
        raise ManifestError(
            f"tables and arrays nested more than {schema.MAX_DEPTH} levels deep",
            where=where,
            hint=f"nnpm's files nest at most {schema.MAX_DEPTH} levels; flatten the value",
        ) from None
    schema.check_document(doc, where=where)
    return doc


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_relative_path(path: str, *, where: str) -> str:
    """Refuse file paths that could escape the package directory or clash with nnpm's own files."""
    parts = path.split("/") if isinstance(path, str) else []
    if (
        not parts
        or not _SAFE_PATH.fullmatch(path)
        or any(p in {".", ".."} for p in parts)
        or path == MANIFEST_NAME
    ):
        raise ManifestError(
            f"unsafe file path {path!r}",
            where=where,
            hint="file paths are relative, use letters, digits, '_', '-', '.' and '/', and never '..'",
        )
    reserved = next((p for p in parts if is_windows_reserved(p)), None)
    if reserved:
        raise ManifestError(
            f"unsafe file path {path!r}: {reserved!r} is a device name reserved on Windows",
            where=where,
            hint="rename the file: con, prn, aux, nul, com1-9 and lpt1-9 (with any extension) cannot be files on Windows",
        )
    return path


def check_file_names(paths: Iterable[str], *, where: str) -> None:
    """Every path is safe, and no two differ only by case (they would collide on macOS and Windows)."""
    seen: dict[str, str] = {}
    for path in sorted(paths):
        check_relative_path(path, where=where)
        other = seen.setdefault(path.casefold(), path)
        if other != path:
            raise ManifestError(
                f"file names {other!r} and {path!r} differ only by case",
                where=where,
                hint="rename one: they would be the same file on a case-insensitive filesystem",
            )
