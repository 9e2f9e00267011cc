"""One file's bytes into the store's staging folder, hashed in the same pass that brings them.

An install reads every byte once. The store asks the registry for the best of three ways:

- a file on this machine (`registry.local_file(info, path, entry)`, a directory registry's
  blob): reflinked where the filesystem shares blocks, else copied by the kernel, and hashed
  from the copy while the next chunk is copied (`fsutil.copy_hashing`). Never a hard link: the
  store's blobs must be its own inodes, or an edit through the registry (or a repair that rewrote
  a registry blob) would reach installed packages, and the store's garbage collection counts links;
- a stream (`registry.fetch_into(info, path, entry, out, progress)`, optional): the registry writes
  into a `HashingWriter` the store opened, so a download is hashed as it arrives;
- otherwise `fetch_file` writes the file and the store hashes it afterwards: the Registry
  interface's original contract, kept for registries that offer neither.

Whichever way, the digest is the store's own, computed from the bytes it keeps: a registry never
vouches for what it sent.
"""

from __future__ import annotations

from pathlib import Path

from nnpm.errors import IntegrityError, ManifestError
from nnpm.fsutil import HashingWriter, copy_hashing, hash_file, open_regular
from nnpm.package.manifest import FileEntry
from nnpm.progress import Progress
from nnpm.registry.base import Registry, VersionInfo


def fetch_blob(
    registry: Registry, info: VersionInfo, rel: str, entry: FileEntry, part: Path, progress: Progress
) -> tuple[str, int]:
    """Write `rel`'s bytes to the new file `part`; returns the (sha256 hex, size) of what `part` holds
    (the caller compares them with `entry`). A local file of the wrong size is refused unread."""
    local = getattr(registry, "local_file", None)
    source = local(info, rel, entry) if callable(local) else None
    if source is not None:
        copied = _copy_local(Path(source), part, entry, progress, f"{info.name}=={info.version}", rel)
        if copied is not None:
            return copied
    into = getattr(registry, "fetch_into", None)
    if callable(into):
        with part.open("xb") as fh:
            out = HashingWriter(fh)
            into(info, rel, entry, out, progress)
            out.flush()
            return out.result()
    registry.fetch_file(info, rel, entry, part, progress=progress)
    return hash_file(part)


def _copy_local(
    source: Path, part: Path, entry: FileEntry, progress: Progress, spec: str, rel: str
) -> tuple[str, int] | None:
    """copy_hashing from a registry's file; None when it is gone or no longer a regular file by the
    time it is opened (then fetch_file reports what is wrong with it, as for any registry)."""
    try:
        src = open_regular(source)
    except (FileNotFoundError, NotADirectoryError, ManifestError):
        return None
    with src:
        size = src.seek(0, 2)
        if size != entry.size:
            raise IntegrityError(
                f"sha256 mismatch for {rel!r}: expected {entry.sha256} ({entry.size} bytes), "
                f"the registry's file holds {size} bytes (not read)",
                where=f"{spec}: {source}",
                hint="the registry is damaged: publish the package again to rewrite its blob",
            )
        src.seek(0)
        with part.open("x+b") as out:
            return copy_hashing(src, out, limit=entry.size, progress=progress)
