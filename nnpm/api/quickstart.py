"""`nnpm quickstart`: nnpm's main job end to end, on data bundled with nnpm.

Modularize a small CNN on the bundled digits (MwT: the standard baseline and the
modular model trained with one recipe, one module cut out per class), publish the
model and its modules to the embedded local registry, install two modules, load them
(hash checks included) and measure them, then compose the two into a classifier
without any training, publish it and measure it. Each step is the library call a
user would make.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from nnpm.package.naming import PackageName

Say = Callable[[str], None]
NAMESPACE = "quickstart"
EPOCHS = 12
PAIR = ("3", "8")  # two digits that are easy to confuse: a fair test of a two-module composite


@dataclass(frozen=True)
class ModuleResult:
    package: str
    kernel_retention: float
    balanced_accuracy: float


@dataclass(frozen=True)
class QuickstartResult:
    registry: str
    model: str
    standard_accuracy: float
    modular_accuracy: float
    modules: tuple[ModuleResult, ...]
    composite: str
    composite_mode: str
    composite_accuracy: float
    seconds: float


def next_free_version(name: str, registry: str | None) -> str:
    """Published versions are immutable and a retrained model differs (its timings do), so
    every run publishes the next patch version: 1.0.0, then 1.0.1, ..."""
    from nnpm.registry.config import open_registry

    published = [v.version for v in open_registry(registry).versions(PackageName.parse(name))]
    if not published:
        return "1.0.0"
    major, minor, patch = (max(published).release + (0, 0))[:3]
    return str(Version(f"{major}.{minor}.{patch + 1}"))


def run_quickstart(
    workdir: Path, *, registry: str | None = None, say: Say = lambda _: None
) -> QuickstartResult:
    """Modularize -> publish -> install -> load -> evaluate -> compose -> evaluate."""
    from nnpm import api
    from nnpm.datasets.images import load_image_dataset
    from nnpm.science.cnn.mwt import modularize
    from nnpm.science.cnn.train import TrainConfig

    start = time.perf_counter()
    workdir = Path(workdir)
    version = next_free_version(f"{NAMESPACE}/simcnn", registry)
    data = load_image_dataset("digits", seed=0)
    cfg = TrainConfig(epochs=EPOCHS, batch_size=64, lr=0.05, seed=0)
    say(
        f"modularizing a SimCNN (width 1/8) on the bundled digits: {cfg.epochs} epochs, seed {cfg.seed}, {data.split_note}"
    )
    report = modularize(data, "simcnn", 0.125, cfg, workdir / "build", NAMESPACE, version=version)
    say(f"standard accuracy {report.standard_accuracy:.4f}, modular {report.modular_accuracy:.4f}, "
        f"mean module kernel retention {report.mean_krr:.1%}")  # fmt: skip
    for directory in [workdir / "build" / "simcnn", *sorted((workdir / "build").glob("*-module"))]:
        api.publish(directory, registry=registry)
    say(
        f"published {report.model_package} and {len(report.modules)} modules to registry {registry or 'local'}"
    )
    rows = {row.class_name: row for row in report.modules}
    specs = [rows[c].package for c in PAIR]
    api.install(specs, registry=registry, project=False)
    modules = tuple(_measure_module(spec, rows, say) for spec in specs)
    composite = f"{NAMESPACE}/three-eight"
    built = api.compose_package(
        specs, name=composite, out=workdir / "three-eight", version=version, dataset="digits"
    )
    api.publish(workdir / "three-eight", registry=registry)
    api.install([built.manifest.id], registry=registry, project=False)
    loaded = api.load(built.manifest.id, project=False)
    measured = api.evaluate(built.manifest.id, project=False)
    say(f"composed {built.manifest.id} from the two modules ({loaded.mode} forward, no training): "
        f"accuracy {measured.value:.4f} on the test images of {' and '.join(PAIR)}")  # fmt: skip
    return QuickstartResult(
        registry=registry or "local",
        model=report.model_package,
        standard_accuracy=report.standard_accuracy,
        modular_accuracy=report.modular_accuracy,
        modules=modules,
        composite=built.manifest.id,
        composite_mode=loaded.mode,
        composite_accuracy=measured.value,
        seconds=time.perf_counter() - start,
    )


def _measure_module(spec: str, rows: dict, say: Say) -> ModuleResult:
    from nnpm import api

    result = api.evaluate(spec, project=False)
    row = next(r for r in rows.values() if r.package == spec)
    say(
        f"installed and loaded {spec}: keeps {row.krr:.1%} of the kernels, {result.metric} {result.value:.4f}"
    )
    return ModuleResult(spec, row.krr, result.value)
