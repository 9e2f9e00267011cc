"""A real OCI registry for the tests: Debian's `docker-registry` (the CNCF distribution registry)
on a free loopback port, once without auth and once with htpasswd basic auth. Tests that use it
skip, with the reason, only where the binary is not installed (`pytestmark` below).

Test modules take the fixtures by assignment (`registry, team = oci_fixtures.registry, ...`),
as they take hub_fixtures'.
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

import pytest
import requests

from tests.factories import run_cli

REGISTRY_BIN = Path(shutil.which("docker-registry") or "/usr/bin/docker-registry")
pytestmark = pytest.mark.skipif(
    not REGISTRY_BIN.exists(),
    reason="docker-registry is not installed (Debian: apt-get install docker-registry; .ci/run installs it)",
)
USER, PASSWORD = "alice", "s3cret-Pa55"


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _htpasswd(path: Path) -> None:
    """A bcrypt htpasswd file (the only hash distribution accepts): apache2-utils, else python bcrypt."""
    if shutil.which("htpasswd"):
        line = subprocess.run(
            ["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True
        ).stdout
    else:
        bcrypt = pytest.importorskip(
            "bcrypt", reason="neither htpasswd (apache2-utils) nor bcrypt is installed"
        )
        line = f"{USER}:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt()).decode()}\n"
    path.write_text(line.strip() + "\n")


@contextlib.contextmanager
def _serve(tmp_path: Path, *, auth: bool) -> Iterator[RunningRegistry]:
    """`docker-registry serve CONFIG` on a free loopback port, until /v2/ answers; killed at the end."""
    root, port = tmp_path / "registry-data", _free_port()
    lines = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
             f"    rootdirectory: {root}", "  delete:", "    enabled: true", "http:", f"  addr: 127.0.0.1:{port}"]  # fmt: skip
    if auth:
        _htpasswd(tmp_path / "htpasswd")
        lines += ["auth:", "  htpasswd:", "    realm: nnpm-test", f"    path: {tmp_path / 'htpasswd'}"]
    cfg = tmp_path / "registry.yml"
    cfg.write_text("\n".join(lines) + "\n")
    with (tmp_path / "registry.log").open("wb") as log:
        proc = subprocess.Popen([str(REGISTRY_BIN), "serve", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
        try:
            running = RunningRegistry(port, root)
            _wait_until_up(proc, running, tmp_path / "registry.log")
            yield running
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_up(proc: subprocess.Popen, running: RunningRegistry, log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if requests.get(f"{running.http}/v2/", timeout=1).status_code in (200, 401):
                return
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"docker-registry did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)


@pytest.fixture
def registry(tmp_path):
    with _serve(tmp_path, auth=False) as running:
        yield running


@pytest.fixture
def auth_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    with _serve(tmp_path, auth=True) as running:
        yield running


def _add(capsys, registry: RunningRegistry, name: str = "team") -> None:
    """`nnpm registry add team oci://127.0.0.1:PORT/ml-team`, as a user types it."""
    code, _out, err = run_cli(capsys, "registry", "add", name, f"oci://{registry.host}/ml-team")
    assert code == 0, err


@pytest.fixture
def team(registry, capsys, monkeypatch):
    for var in ("NNPM_OCI_USERNAME", "NNPM_OCI_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(registry.root.parent / "no-docker-config"))
    _add(capsys, registry)
    return registry
