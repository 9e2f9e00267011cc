"""`nnpm quickstart`: nnpm's main job end to end, on data bundled with nnpm.

Train a small network on the bundled digits, package it, publish it to the embedded
local registry, install it from there, load it back through nnpm.load (hash checks
included) and evaluate it on the held-out test split. Each step is the same library
call a user would make.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from nnpm.errors import ImmutableVersionError
from nnpm.package.manifest import Accuracy, Architecture, InputSpec, Manifest, Metrics, Source
from nnpm.package.naming import PackageName

Say = Callable[[str], None]


@dataclass(frozen=True)
class QuickstartResult:
    package: str
    registry: str
    directory: Path
    test_accuracy: float
    claimed_accuracy: float
    seconds: float


def train_digits_mlp(*, seed: int = 0, epochs: int = 60, hidden: tuple[int, ...] = (64, 32)):
    """Train an MLP on digits (full-batch Adam, fixed epochs, no selection on any split).

    Returns (module, data, architecture). Deterministic for a given seed on CPU.
    """
    import torch

    from nnpm.datasets import digits
    from nnpm.nn import families

    torch.manual_seed(seed)
    data = digits.load()
    mean, std = data.channel_stats()
    arch = Architecture(
        family="mlp",
        input=InputSpec(shape=data.input_shape, mean=mean, std=std),
        params={"hidden": list(hidden), "num_outputs": len(data.classes)},
    )
    model = families.build(arch)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(data.train.x), data.train.y)
        loss.backward()
        optimiser.step()
    return model.eval(), data, arch


def accuracy(model, split) -> float:
    import torch

    with torch.no_grad():
        return float((model(split.x).argmax(1) == split.y).float().mean())


def build_digits_mlp_package(
    directory: Path, *, name: str = "digits/mlp", version: str = "1.0.0", seed: int = 0, epochs: int = 60
) -> Manifest:
    """Train the digits MLP and write it as a packed package directory."""
    from nnpm.package.writer import write_package

    model, data, arch = train_digits_mlp(seed=seed, epochs=epochs)
    acc = accuracy(model, data.test)
    manifest = Manifest(
        name=PackageName.parse(name),
        version=Version(version),
        kind="model",
        description="A small MLP digit classifier trained on the digits data bundled with nnpm.",
        license="BSD-3-Clause",
        source=Source(dataset="digits", method="supervised", classes=data.classes, all_classes=data.classes),
        architecture=arch,
        metrics=Metrics(
            unit="parameters",
            accuracy=Accuracy(round(acc, 6), "accuracy", "digits", "test"),
            extra={"val_accuracy": round(accuracy(model, data.val), 6)},
        ),
        provenance={
            "seed": seed,
            "epochs": epochs,
            "optimizer": "adam lr=0.01 full batch",
            "split": data.split_note,
        },
    )
    return write_package(directory, manifest, model.state_dict())


def run_quickstart(
    workdir: Path, *, registry: str | None = None, say: Say = lambda _: None
) -> QuickstartResult:
    """Train -> package -> publish -> install -> load -> evaluate, reporting each step through `say`."""
    from nnpm import api
    from nnpm.datasets import digits

    start = time.perf_counter()
    package_dir = Path(workdir) / "digits-mlp"
    say("training a small MLP on the bundled digits (seed 0, 60 full-batch epochs)")
    manifest = build_digits_mlp_package(package_dir, name="quickstart/digits-mlp")
    result = _publish_next_free_version(package_dir, manifest, registry, say)
    say(f"installing {result.manifest.id}")
    api.install([result.manifest.id], registry=registry, project=False)
    model = api.load(result.manifest.id, project=False)
    test_acc = accuracy(model, digits.load().test)
    say(
        f"loaded {model.manifest.id}: test accuracy {test_acc:.4f} (manifest claims {model.manifest.metrics.accuracy.value:.4f})"
    )
    return QuickstartResult(
        package=result.manifest.id,
        registry=result.registry,
        directory=package_dir,
        test_accuracy=test_acc,
        claimed_accuracy=model.manifest.metrics.accuracy.value,
        seconds=time.perf_counter() - start,
    )


def _publish_next_free_version(package_dir: Path, manifest: Manifest, registry: str | None, say: Say):
    """Published versions are immutable: a re-run whose bytes differ takes the next patch version."""
    from dataclasses import replace

    from nnpm import api
    from nnpm.fsutil import atomic_write_text
    from nnpm.package.pack import pack

    while True:
        try:
            result = api.publish(package_dir, registry=registry)
            say(
                f"published {result.manifest.id} to registry {result.registry}"
                + ("" if result.created else " (already there)")
            )
            return result
        except ImmutableVersionError:
            major, minor, patch = manifest.version.release[:3]
            manifest = replace(manifest, version=Version(f"{major}.{minor}.{patch + 1}"), files={})
            atomic_write_text(package_dir / "nnpm.toml", manifest.to_toml())
            manifest = pack(package_dir)
