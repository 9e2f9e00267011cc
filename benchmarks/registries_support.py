"""benchmarks/registries.py's helpers: what a local registry wrote (the docker-registry it runs is
nnpm.testing.oci_registry's, as in the tests)."""

from __future__ import annotations


class BlobsWritten:
    """Bytes written into a local registry's blobs/ so far: each blob file (a path and its inode)
    counts once, so a blob a publish rewrites in place counts again, as a new one does."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, int]] = set()
        self.total = 0

    def __call__(self, client) -> int:
        blobs = client.settings.registry_dir / "blobs"
        for path in blobs.rglob("*") if blobs.exists() else ():
            st = path.stat()
            if path.is_file() and (str(path), st.st_ino) not in self.seen:
                self.seen.add((str(path), st.st_ino))
                self.total += st.st_size
        return self.total
