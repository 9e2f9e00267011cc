"""A real OCI registry on loopback for tests: Debian's `docker-registry` (the CNCF distribution
registry), as nnpm's own suite and benchmarks run it, and as a pipeline's tests can::

    from nnpm.testing.oci_registry import REGISTRY_BIN, docker_registry

    with docker_registry(tmp_path) as running:      # tmp_path: a folder for its config, log and data
        run(["nnpm", "registry", "add", "team", f"oci://{running.host}/ml-team"])

The binary is not a Python dependency: `apt-get install docker-registry` (Debian, Ubuntu).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REGISTRY_BIN = Path(shutil.which("docker-registry") or "/usr/bin/docker-registry")
#: seconds a registry may take to answer /v2/ after it is started
START_TIMEOUT = 20


@dataclass
class RunningRegistry:
    """A docker-registry process on 127.0.0.1:port with filesystem storage under `root`."""

    port: int
    root: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://{self.host}"

    def blob_file(self, digest: str) -> Path:
        """Where the filesystem driver keeps a blob's bytes (to tamper with it)."""
        hex_ = digest.removeprefix("sha256:")
        return self.root / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex_[:2] / hex_ / "data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def docker_registry(folder: Path, *, htpasswd: Path | None = None) -> Iterator[RunningRegistry]:
    """`docker-registry serve` on a free loopback port, storage under folder/registry-data, until
    /v2/ answers (with `htpasswd`, a bcrypt htpasswd file: basic auth); stopped at the end."""
    root, port = folder / "registry-data", free_port()
    lines = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
             f"    rootdirectory: {root}", "  delete:", "    enabled: true", "http:", f"  addr: 127.0.0.1:{port}"]  # fmt: skip
    if htpasswd is not None:
        lines += ["auth:", "  htpasswd:", "    realm: nnpm-test", f"    path: {htpasswd}"]
    config, log_path = folder / "registry.yml", folder / "registry.log"
    config.write_text("\n".join(lines) + "\n")
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(REGISTRY_BIN), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            running = RunningRegistry(port, root)
            _wait_until_up(proc, running, log_path)
            yield running
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_up(proc: subprocess.Popen, running: RunningRegistry, log: Path) -> None:
    import requests  # the oci extra's client: only a registry's users pay for it

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(f"{running.http}/v2/", timeout=1).status_code in (200, 401):
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"docker-registry did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
