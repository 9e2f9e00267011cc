"""Modularizing a CNN end to end, one function per step: train the standard model, train the
modular model (MwT, the repaired MwT or MODA; from scratch or from trained weights), extract
modules, choose how they compose, evaluate, write packages. `modularize` chains them;
`quickstart_digits` is the small, fast MwT run the tests build on.

Selection rules: the validation split (carved from training data) fits the calibration
temperatures and chooses the composition rule; the test split is only ever measured, never used
to choose anything.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from nnpm.datasets.identity import identify
from nnpm.datasets.splits import LabelledData
from nnpm.errors import InvalidInputError, RunInterrupted, UsageError
from nnpm.nn.cnn.model import CNN, build_cnn
from nnpm.package.manifest import Architecture
from nnpm.progress import NULL, Progress
from nnpm.science.cnn import evaluate, packaging
from nnpm.science.cnn.extract import ExtractedModule, extract_modules, parameter_count
from nnpm.science.cnn.packaging import architecture, write_packages, write_standard_package
from nnpm.science.cnn.report import Report, evaluate_modules, provenance_of
from nnpm.science.cnn.rules import choose_rule
from nnpm.science.cnn.start import StartingPoint, load_start
from nnpm.science.cnn.train import GATED_METHODS, TrainConfig, TrainResult, accuracy, resolve_device, train

__all__ = ["ExtractedModule", "extract_modules", "modularize", "train_modular", "train_standard"]


def new_model(arch: Architecture, seed: int) -> CNN:
    """A freshly initialised network; the seed fixes the initial weights."""
    torch.manual_seed(seed)
    return build_cnn(arch)


def modular_architecture(
    family: str, data: LabelledData, width: float, cfg: TrainConfig, pad: int = 0, resize: int = 0
) -> Architecture:
    """The modular model's spec: gated for MwT (leaky generators for the repaired MwT), plain for MODA."""
    generator = "leaky" if cfg.method == "mwt-repaired" else "relu"
    return architecture(family, data, width, gated=cfg.method in GATED_METHODS, pad=pad, resize=resize,
                        generator=generator)  # fmt: skip


def train_standard(data: LabelledData, family: str, width: float, cfg: TrainConfig, **options) -> TrainResult:
    """The baseline: same family and recipe, no gates, cross-entropy only.

    options: pad, resize, checkpoint_dir, resume, reporter (as for train_modular)."""
    pad, resize = options.pop("pad", 0), options.pop("resize", 0)
    arch = architecture(family, data, width, gated=False, pad=pad, resize=resize)
    return train(new_model(arch, cfg.seed), data, cfg, run="standard", **options)


def train_modular(
    data: LabelledData,
    family: str,
    width: float,
    cfg: TrainConfig,
    *,
    start: StartingPoint | None = None,
    **options,
) -> TrainResult:
    """The modular model. MwT (cfg.method "mwt"): mask generators on every conv but the first,
    CE + alpha*cohesion + beta*coupling; the repaired MwT adds gamma * mean gate. MODA ("moda"):
    the standard network without gates, CE + alpha*affinity + beta*dispersion + gamma*compactness
    over its activations. With `start`, training begins from those trained weights (new mask
    generators excepted) and keeps their input normalisation.

    options: pad and resize (input adaptation), checkpoint_dir and resume (per-epoch safetensors
    checkpoints), reporter (progress hooks)."""
    pad, resize = options.pop("pad", 0), options.pop("resize", 0)
    arch = modular_architecture(family, data, width, cfg, pad, resize)
    if start is not None:
        arch = replace(arch, input=start.arch.input)
    model = new_model(arch, cfg.seed)
    if start is not None:
        load_trained(model, start)
    return train(model, data, cfg, run="modular", **options)


def load_trained(model: CNN, start: StartingPoint) -> None:
    """Copy a standard network's weights into the modular one; only mask generators stay new."""
    missing, unexpected = model.load_state_dict(start.state, strict=False)
    if unexpected or any(".gen." not in k for k in missing):
        raise InvalidInputError(
            f"the weights from {start.origin} do not fit the modular network", where="--from",
            hint="start from a standard model of the same --arch and --width",
        )  # fmt: skip


def refuse_to_overwrite(checkpoints: Path, resume: bool) -> None:
    """A build folder holding checkpoints is a run someone may want to continue: never start over in it."""
    if not resume and any(checkpoints.glob("checkpoint-*")):
        raise UsageError(
            "this build folder holds the checkpoints of an earlier run",
            where=str(checkpoints.parent),
            hint="add --resume to continue it (or to re-extract with a new --tau), or choose another --out",
        )


def modularize(
    data: LabelledData,
    family: str,
    width: float,
    cfg: TrainConfig,
    out: Path,
    namespace: str,
    *,
    version: str = "1.0.0",
    pad: int = 0,
    resize: int = 0,
    resume: bool = False,
    reporter: Progress | None = None,
    start: Path | None = None,
) -> Report:
    """Train both models with one recipe (or, with `start`, take the trained model there as the
    standard one and train the modular objective from its weights), extract a module per class,
    choose the composition rule on validation, evaluate, write packages and results.json into `out`.
    Checkpoints go to out/.checkpoints (resume with resume=True)."""
    if not 0 < cfg.tau <= 1:
        raise InvalidInputError(f"tau must be in (0, 1], got {cfg.tau}", where="--tau")
    std_arch = architecture(family, data, width, gated=False, pad=pad, resize=resize)  # fail fast on bad args
    packaging.model_name(namespace, family)
    begin = load_start(start, std_arch) if start is not None else None
    out = Path(out)
    refuse_to_overwrite(out / ".checkpoints", resume)
    options = dict(
        pad=pad, resize=resize, checkpoint_dir=out / ".checkpoints", resume=resume, reporter=reporter
    )
    try:
        if begin is None:
            std = train_standard(data, family, width, cfg, **options)
        else:
            std = TrainResult(begin.standard_model(), seconds=math.nan)
        mod = train_modular(data, family, width, cfg, start=begin, **options)
    except KeyboardInterrupt:
        raise RunInterrupted(
            "training was interrupted; every finished epoch is checkpointed",
            where=str(out / ".checkpoints"),
            hint="rerun the same command with --resume to continue from the last finished epoch",
        ) from None
    device = resolve_device(cfg.device)
    model = mod.model.to(device).eval()
    arch = modular_architecture(family, data, width, cfg, pad, resize)
    if begin is not None:
        arch = replace(arch, input=begin.arch.input)
    began = time.perf_counter()
    modules = extract_modules(
        model,
        data,
        cfg.tau,
        model_arch=arch,
        batch_size=cfg.eval_batch_size,
        device=device,
        max_confusers=cfg.confusers,
        mass=cfg.mass,
    )
    extraction_seconds = time.perf_counter() - began
    (reporter or NULL).note("choosing the composition rule on validation (two-class composites)")
    rule = choose_rule(model, arch, [m.arch for m in modules], data.val, seed=cfg.seed)
    last = mod.history[-1] if mod.history else {}
    report = Report(
        dataset=data.name,
        family=family,
        width=width,
        split_note=data.split_note,
        config=asdict(cfg),
        standard_accuracy=accuracy(std.model.to(device), data.test, cfg.eval_batch_size),
        modular_accuracy=accuracy(model, data.test, cfg.eval_batch_size),
        standard_seconds=std.seconds,
        modular_seconds=mod.seconds,
        extraction_seconds=extraction_seconds,
        train_cohesion=float(last.get("cohesion", 0.0)),
        train_coupling=float(last.get("coupling", 0.0)),
        mean_krr=sum(m.krr for m in modules) / len(modules),
        jaccard_coupling=evaluate.jaccard_coupling([m.kept for m in modules]),
        modules=evaluate_modules(modules, model, data, cfg.seed, model_parameters=parameter_count(model)),
        classes=tuple(data.classes),
        out_dir=str(out),
        device=mod.device,
        model_parameters=parameter_count(model),
        composition=rule.to_dict(),
        start=begin.origin if begin else "",
        data_identity=identify(data),
    )
    provenance = provenance_of(cfg, data, report, begin.provenance() if begin else {})
    write_packages(out, namespace, version, model.cpu(), arch, modules, report, provenance, method=cfg.method,
                   reporter=reporter)  # fmt: skip
    if begin is None:
        write_standard_package(out, namespace, version, std.model.cpu().eval(), data, family, width, pad, resize,
                               report, provenance)  # fmt: skip
    (out / "results.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    return report


def quickstart_digits(
    out: Path, namespace: str = "digits", *, epochs: int = 3, seed: int = 0, reporter: Progress | None = None
) -> Report:
    """A small SimCNN (width 1/8) modularized with MwT on the bundled digits in a few seconds on 2
    cores: the fixture the tests compose, install and fuse (`nnpm quickstart` runs MODA itself)."""
    from nnpm.datasets.images import load_image_dataset

    data = load_image_dataset("digits", seed=seed)
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=0.05, seed=seed)
    return modularize(data, "simcnn", 0.125, cfg, Path(out), namespace, reporter=reporter)
