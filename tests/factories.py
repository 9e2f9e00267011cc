"""Build small real packages for tests: a seeded MLP saved with safetensors, packed by nnpm."""

from __future__ import annotations

from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from nnpm.package.manifest import Accuracy, Architecture, Dependency, InputSpec, Manifest, Metrics, Source
from nnpm.package.naming import PackageName

ARCH = Architecture("mlp", InputSpec((1, 8, 8), (0.3,), (0.4,)), {"hidden": [8], "num_outputs": 3})


def make_manifest(name: str = "test/mlp", version: str = "1.0.0", deps: dict[str, str] | None = None,
                  pins: dict[str, str] | None = None, description: str = "a test package") -> Manifest:  # fmt: skip
    pins = pins or {}
    return Manifest(
        name=PackageName.parse(name),
        version=Version(version),
        kind="model",
        description=description,
        license="MIT",
        source=Source(
            dataset="digits", method="supervised", classes=("a", "b", "c"), all_classes=("a", "b", "c")
        ),
        architecture=ARCH,
        metrics=Metrics(unit="parameters", accuracy=Accuracy(0.5, "accuracy", "digits", "test")),
        dependencies=tuple(
            Dependency(PackageName.parse(n), SpecifierSet(s), pins.get(n)) for n, s in (deps or {}).items()
        ),
    )


def make_package(
    root: Path, name: str = "test/mlp", version: str = "1.0.0", *, seed: int = 0, **kwargs
) -> Path:
    """A packed package directory with real (random, seeded) weights under root/<name>-<version>."""
    import torch

    from nnpm.nn.build import build
    from nnpm.package.writer import write_package

    torch.manual_seed(seed)
    directory = root / f"{name.replace('/', '--')}-{version}"
    write_package(directory, make_manifest(name, version, **kwargs), build(ARCH).state_dict())
    return directory


def publish(root: Path, name: str = "test/mlp", version: str = "1.0.0", **kwargs):
    from nnpm import api

    return api.publish(make_package(root, name, version, **kwargs))


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """`nnpm ARGS` in this process, as a user runs it: (exit code, stdout, stderr)."""
    from nnpm.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err
