"""A shared lock beside the store's writers' lock, for readers that must not see a change half done."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from nnpm.errors import LockTimeoutError


@contextmanager
def shared_lock(
    path: Path, timeout: float, *, fallback: Callable[[], AbstractContextManager[None]]
) -> Iterator[None]:
    """A shared flock on the writers' lock file `path` (filelock's FileLock holds it exclusively
    with flock): readers wait for a writer, not for each other. Where the lock file cannot be
    opened (no store yet, or a read-only one no writer ever locked) readers go ahead without it;
    where flock is missing (Windows) they take `fallback()`, the writers' lock."""
    try:
        import fcntl
    except ImportError:
        with fallback():
            yield
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        yield  # nothing is being changed: no writer ever locked this store
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeoutError(
                        "the store is locked by another nnpm process", where=str(path.parent)
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
