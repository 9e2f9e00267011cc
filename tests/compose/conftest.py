"""Real CNN modules for composition tests: a small SimCNN modularized on digits, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def digits_build(tmp_path_factory) -> Path:
    from nnpm.science.cnn.mwt import quickstart_digits

    out = tmp_path_factory.mktemp("digits-modules")
    quickstart_digits(out, namespace="digits", epochs=3, seed=0)
    return out


@pytest.fixture
def digits_modules(digits_build: Path, nnpm_home: Path) -> Path:
    """The digits model and its ten modules, published to this test's registry and installed."""
    from nnpm import api

    packages = sorted(p for p in digits_build.iterdir() if (p / "nnpm.toml").exists())
    model = [p for p in packages if p.name == "simcnn"]
    for directory in model + [p for p in packages if p not in model]:
        api.publish(directory)
    api.install([f"digits/digit-{d}-module" for d in range(10)], project=False)
    return digits_build
