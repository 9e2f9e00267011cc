"""Shared fixtures: every test gets its own NNPM_HOME and working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# pytest-xdist (pyproject's addopts) runs one worker per core: each worker's torch, and torch in the
# commands its tests start, must use one thread, or the workers' thread pools fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def nnpm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty nnpm home (store, embedded registry, config) private to the test."""
    home = tmp_path / "nnpm-home"
    monkeypatch.setenv("NNPM_HOME", str(home))
    for var in ("NNPM_REGISTRY", "NNPM_OFFLINE", "HF_HUB_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project directory as the current directory."""
    path = tmp_path / "project"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


# --- the fast lane: `python -m pytest -m "not slow"` ------------------------------------------------
# A test is slow when it trains a network for more than a few seconds (2 CPU cores). Tests mark
# themselves with @pytest.mark.slow; the tables below mark the users of shared training fixtures and
# tests in modules that leave marking to this file, each with what it trains and how long it takes.

#: (test module, or "*" for any, fixture) -> what it trains: every test that uses it is slow.
TRAINING_FIXTURES = {
    ("*", "digits_build"): "MwT on digits, 3 epochs, 10 modules (tests/compose/conftest.py): 6-9 s",
    ("tests/science/test_cnn_pipeline.py", "run"): "standard and modular SimCNN on digits: 5 s",
}
#: test node id (without parameters) -> what it trains.
SLOW_TESTS = {
    "tests/science/test_rnn_cli.py::test_language_id_modules_from_chatterbot": (
        "a GRU language identifier on chatterbot-corpus, then 25 modules: 8 s"
    ),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::")[0]
        fixtures = set(getattr(item, "fixturenames", ()))
        trains = any(where in ("*", module) and name in fixtures for where, name in TRAINING_FIXTURES)
        if trains or item.nodeid.split("[")[0] in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


def key_pair(directory: Path, name: str):
    """(private PEM, public PEM, key): a P-256 key pair written under `directory`, as `openssl ec` would."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    directory.mkdir(parents=True, exist_ok=True)
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public, key


@pytest.fixture
def keys(tmp_path) -> dict[str, tuple[Path, Path]]:
    """Two key pairs, "team" and "stranger": (private PEM, public PEM) each (tests of signing)."""
    return {name: key_pair(tmp_path / "keys", name)[:2] for name in ("team", "stranger")}
