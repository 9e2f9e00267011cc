"""A real OCI registry for the tests: Debian's `docker-registry` (the CNCF distribution registry)
on a free loopback port, once without auth and once with htpasswd basic auth. Tests that use it
skip, with the reason, only where the binary is not installed (`pytestmark` below).

Test modules take the fixtures by assignment (`registry, team = oci_fixtures.registry, ...`),
as they take hub_fixtures'.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nnpm.testing.oci_registry import REGISTRY_BIN, RunningRegistry, docker_registry
from tests.factories import run_cli

pytestmark = pytest.mark.skipif(
    not REGISTRY_BIN.exists(),
    reason="docker-registry is not installed (Debian: apt-get install docker-registry; .ci/run installs it)",
)
USER, PASSWORD = "alice", "s3cret-Pa55"


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
    """nnpm.testing's docker-registry, with htpasswd basic auth for USER when `auth`."""
    if auth:
        _htpasswd(tmp_path / "htpasswd")
    with docker_registry(tmp_path, htpasswd=tmp_path / "htpasswd" if auth else None) as running:
        yield running


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
