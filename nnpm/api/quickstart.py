"""`nnpm quickstart`: nnpm's main job end to end, on data bundled with nnpm.

Modularize a small CNN on the bundled digits (MODA: the standard baseline and the
modular model trained with one recipe, one module cut out per class), publish the
model and its modules to the embedded local registry, install two modules, load them
(hash checks included) and measure them, then compose the two into a classifier
without any training, publish it and measure it. Each step is the library call a
user would make.

A rerun reuses what the first run published: the quickstart always publishes version
1.0.0, and a registry that already holds a package at that version is used as it is
(installed, loaded, measured), never retrained or republished. Retraining would not
give the same package: the weights repeat bit for bit on one machine, but the manifest
records the training time, so a new build is a different package under the same name
and version, which a registry refuses. Everything is built under $NNPM_HOME/quickstart
(or `workdir`), and the result says where each thing went.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nnpm.errors import NnpmError
from nnpm.package.naming import PackageName

if TYPE_CHECKING:
    from nnpm.api.client import Client

Say = Callable[[str], None]
NAMESPACE = "quickstart"
VERSION = "1.0.0"
EPOCHS = 12
#: MODA measured better than MwT on the digits' validation split with these settings (its modular
#: model 99.2% against MwT's 79.9%, its two-class composites 99.9% against 96.8%: docs/cnn.md). Its
#: modules for the look-alike digits 3, 8 and 9 cannot reject the others alone (balanced accuracy
#: 0.50-0.52), so each module may keep the units of up to three confusing digits where that raises
#: its validation AUC (negative evidence; measured there: 0.97-1.00 on test, at 67-92% of the units).
METHOD = "moda"
CONFUSERS = 3
CLASSES = tuple(str(d) for d in range(10))  # the bundled digits
PAIR = ("3", "8")  # two digits that are easy to confuse: a fair test of a two-module composite
MODEL = f"{NAMESPACE}/simcnn"
COMPOSITE = f"{NAMESPACE}/three-eight"
#: What to try next; each works as written once the quickstart has run (tests run them).
NEXT_COMMANDS = (
    f"nnpm search {NAMESPACE}",
    f"nnpm install {NAMESPACE}/digit-5-module",
    f"nnpm compose {NAMESPACE}/digit-3-module {NAMESPACE}/digit-5-module --name mine/three-five "
    "--out three-five --dataset digits",
)


def module_name(digit: str) -> str:
    return f"{NAMESPACE}/digit-{digit}-module"


@dataclass(frozen=True)
class ModuleResult:
    package: str
    retention: float  # kept units / all units (KRR)
    balanced_accuracy: float
    parameter_share: float  # the module's parameters / its model's


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
    trained: bool  #: False when the model came from the registry (a rerun)
    published: tuple[str, ...]  #: what this run added to the registry (empty on a rerun)
    workdir: str  #: the build folder (model, modules, composite)
    registry_location: str
    store: str
    next_commands: tuple[str, ...] = NEXT_COMMANDS


def run_quickstart(
    workdir: Path | str | None = None,
    *,
    registry: str | None = None,
    say: Say = lambda _: None,
    client: Client | None = None,
) -> QuickstartResult:
    """Modularize -> publish -> install -> load -> evaluate -> compose -> publish -> evaluate.

    workdir: where the packages are built (default $NNPM_HOME/quickstart). Packages the
    registry already holds at the quickstart's version are reused, not rebuilt."""
    from nnpm import api

    start = time.perf_counter()
    client = client or api.default_client
    workdir = Path(workdir) if workdir is not None else client.settings.home / "quickstart"
    reg = client.registry(registry)
    published: list[str] = []
    names = [MODEL, *(module_name(c) for c in CLASSES)]
    missing = [n for n in names if not _is_published(reg, n)]
    trained = False
    if missing:
        build = workdir / "build"
        if not _complete_build(build) and len(missing) < len(names):
            raise NnpmError(
                f"registry {reg.name} holds part of the quickstart's packages at {VERSION} "
                f"({', '.join(missing)} missing) and {build} has no complete build to publish",
                hint="run the quickstart with a fresh NNPM_HOME, or with --registry another registry",
            )
        if not _complete_build(build):
            _train(build, say)
            trained = True
        else:
            say(f"publishing the earlier build in {build} (not retraining)")
        directories = [build / "simcnn", *(build / f"digit-{c}-module" for c in CLASSES)]
        results = client.publish_all(directories, registry=registry)
        published += [r.manifest.id for r in results if r.created]
        say(f"published {MODEL}=={VERSION} and {len(CLASSES)} modules to {reg.describe()}")
    else:
        say(f"{MODEL}=={VERSION} and its modules are already in {reg.describe()}: reusing them (no training)")
    specs = [f"{module_name(c)}=={VERSION}" for c in PAIR]
    client.install([f"{MODEL}=={VERSION}", *specs], registry=registry, project=False)
    model = client.load(f"{MODEL}=={VERSION}", project=False)
    extra = model.manifest.metrics.extra
    say(f"{MODEL}: standard accuracy {extra['standard_accuracy']:.4f}, modular "
        f"{extra['modular_accuracy']:.4f}, mean module unit retention {extra['mean_module_krr']:.1%}, "
        f"mean module size {extra['mean_module_parameter_share']:.1%} of its parameters")  # fmt: skip
    modules = tuple(_measure_module(client, spec, say) for spec in specs)
    composite_spec = f"{COMPOSITE}=={VERSION}"
    if _is_published(reg, COMPOSITE):
        say(f"{composite_spec} is already in {reg.describe()}: reusing it")
    else:
        client.compose_package(specs, name=COMPOSITE, out=workdir / "three-eight", version=VERSION,
                               dataset="digits")  # fmt: skip
        if client.publish(workdir / "three-eight", registry=registry).created:
            published.append(composite_spec)
    client.install([composite_spec], registry=registry, project=False)
    loaded = client.load(composite_spec, project=False)
    measured = client.evaluate(composite_spec, project=False)
    say(f"composed {composite_spec} from the two modules ({loaded.mode} forward, no training): "
        f"accuracy {measured.value:.4f} on the test images of {' and '.join(PAIR)}")  # fmt: skip
    return QuickstartResult(
        registry=reg.name,
        model=f"{MODEL}=={VERSION}",
        standard_accuracy=float(extra["standard_accuracy"]),
        modular_accuracy=float(extra["modular_accuracy"]),
        modules=modules,
        composite=composite_spec,
        composite_mode=loaded.mode,
        composite_accuracy=measured.value,
        seconds=time.perf_counter() - start,
        trained=trained,
        published=tuple(published),
        workdir=str(workdir),
        registry_location=reg.describe(),
        store=str(client.store.root),
    )


def _is_published(reg, name: str) -> bool:
    return any(str(v.version) == VERSION for v in reg.versions(PackageName.parse(name)))


def _complete_build(build: Path) -> bool:
    """A finished modularize run: results.json is written after every package."""
    return (build / "results.json").is_file() and all(
        (build / d / "nnpm.toml").is_file() for d in ["simcnn", *(f"digit-{c}-module" for c in CLASSES)]
    )


def _train(build: Path, say: Say) -> None:
    from nnpm.datasets.images import load_image_dataset
    from nnpm.science.cnn.mwt import modularize
    from nnpm.science.cnn.train import MODA_DEFAULTS, TrainConfig

    data = load_image_dataset("digits", seed=0)
    cfg = TrainConfig(
        epochs=EPOCHS, batch_size=64, lr=0.05, seed=0, method=METHOD, confusers=CONFUSERS, **MODA_DEFAULTS
    )
    say(f"modularizing a SimCNN (width 1/8) on the bundled digits into {build}: {cfg.epochs} epochs, "
        f"seed {cfg.seed}, {data.split_note}")  # fmt: skip
    # resume: an interrupted quickstart continues from its checkpoints instead of starting over
    modularize(data, "simcnn", 0.125, cfg, build, NAMESPACE, version=VERSION, resume=True)


def _measure_module(client: Client, spec: str, say: Say) -> ModuleResult:
    result = client.evaluate(spec, project=False)
    metrics = client.load(spec, project=False).manifest.metrics
    krr, share = float(metrics.retention_rate), float(metrics.extra["parameter_share"])
    say(f"installed and loaded {spec}: keeps {krr:.1%} of the {metrics.unit} ({share:.1%} of the model's "
        f"parameters), {result.metric} {result.value:.4f}")  # fmt: skip
    return ModuleResult(spec, krr, result.value, share)
