"""Shared fixtures: every test gets its own NNPM_HOME and working directory."""

from __future__ import annotations

from pathlib import Path

import pytest


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
