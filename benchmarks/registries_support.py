"""benchmarks/registries.py's helpers: a docker-registry on loopback, and what a local registry wrote."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def docker_registry(root: Path) -> Iterator[int]:
    """`docker-registry serve` with filesystem storage under root, on a free loopback port."""
    import requests

    port = free_port()
    config = root / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    with (root / "registry.log").open("wb") as log:
        proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"docker-registry did not start: {(root / 'registry.log').read_text()[-2000:]}"
                )
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
