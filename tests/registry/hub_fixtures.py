"""Fixtures for the Hub registry tests: a local Hub on loopback and small real packages.

Import the fixtures into a test module with
``hub_env, hub, registry = hub_fixtures.hub_env, hub_fixtures.hub, hub_fixtures.registry``.
Nothing here reaches the internet: every client call gets the server's endpoint, and
the Hub client's token file and cache point into the test's temporary directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from nnpm.package.manifest import Accuracy, Architecture, InputSpec, Manifest, Metrics, Source
from nnpm.package.naming import PackageName
from nnpm.registry.hub import HubRegistry
from nnpm.testing import HubServer

ALICE = "hf_alice_token_0123456789"
BOB = "hf_bob_token_0123456789"
ARCH = Architecture("mlp", InputSpec((1, 4, 4)), {"hidden": [6], "num_outputs": 3})


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The Hub client's home (token file, cache) inside the test's temp dir; no saved login leaks in."""
    from huggingface_hub import constants

    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    # constants are read when huggingface_hub is imported: point the saved-login paths here too
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    return home


@pytest.fixture
def no_xet(hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bare client on the LFS path, for tests that call HfApi directly.

    With hf_xet installed the client uploads LFS files through Xet without asking the server, and
    the loopback Hub stores LFS only; nnpm's own publish asks first (publish.py), HfApi does not.
    The switch is read at each upload, so patching the constant is enough."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)


@pytest.fixture
def hub(hub_env: Path) -> Iterator[HubServer]:
    """A Hub with users alice (member of my-org) and bob (not a member)."""
    with HubServer(tokens={ALICE: "alice", BOB: "bob"}, orgs={"my-org": {"alice"}}) as server:
        yield server


@pytest.fixture
def registry(hub: HubServer) -> HubRegistry:
    """hf://my-org as alice, with a backoff short enough for tests."""
    return HubRegistry("hub", "hf://my-org", endpoint=hub.endpoint, token=ALICE, backoff=0.01)


def make_manifest(
    name: str,
    version: str,
    *,
    description: str = "a test module",
    source_model: str | None = None,
    classes: tuple[str, ...] = ("sneaker",),
) -> Manifest:
    return Manifest(
        name=PackageName.parse(name),
        version=Version(version),
        kind="module",
        description=description,
        license="MIT",
        source=Source(
            model=source_model,
            version="1.0.0" if source_model else None,
            dataset="digits",
            method="extraction",
            classes=classes,
        ),
        architecture=ARCH,
        metrics=Metrics(unit="parameters", accuracy=Accuracy(0.75, "accuracy", "digits", "test")),
    )


def make_package(
    root: Path, name: str = "fmnist/sneaker-module", version: str = "1.0.0", *, seed: int = 0, **kwargs
) -> Path:
    """A packed package (seeded random MLP weights, nnpm's card, files table) under root."""
    import torch

    from nnpm.nn.mlp.model import build_mlp
    from nnpm.package.writer import write_package

    torch.manual_seed(seed)
    directory = root / f"{name.replace('/', '__')}-{version}-{seed}"
    write_package(directory, make_manifest(name, version, **kwargs), build_mlp(ARCH).state_dict())
    return directory
