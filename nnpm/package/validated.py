"""Which exact documents already passed which schema, so that reading them again needs no validator.

Importing jsonschema and building a validator costs about 0.1 s, a third of `nnpm show`, and the
documents nnpm reads most (registry index files, manifests) are read again and again unchanged.
A marker, an empty file, is named by the sha256 of the schema file and of the document's exact
bytes: it says that these bytes passed this schema. Other bytes have another name, so an edited
or replaced document is validated again, and a changed schema invalidates every marker of its
own. Markers live only under the client's own home (`$NNPM_HOME/cache/validated`), never in a
registry another user can write to; deleting the folder is always safe (everything is validated
again, once). Without a folder set (`remembered_in`), every document is validated.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

_FOLDER: ContextVar[Path | None] = ContextVar("nnpm_validated_folder", default=None)


@contextlib.contextmanager
def remembered_in(folder: Path) -> Iterator[None]:
    """Within this block (this thread or task only), validations are remembered under `folder`."""
    token = _FOLDER.set(Path(folder))
    try:
        yield
    finally:
        _FOLDER.reset(token)


def marker(schema_sha256: str, source: bytes) -> Path | None:
    """Where the marker of `source` passing the schema would be; None when nothing is remembered."""
    folder = _FOLDER.get()
    if folder is None:
        return None
    key = hashlib.sha256(schema_sha256.encode("ascii") + b"\0" + source).hexdigest()
    return folder / key[:2] / key


def known(path: Path | None) -> bool:
    """Whether the marker is there, as a regular file (a link or anything else counts for nothing)."""
    if path is None:
        return False
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def remember(path: Path | None) -> None:
    """Leave the marker; a home that cannot be written only means validating again next time."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644))
