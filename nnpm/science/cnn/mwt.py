"""MwT end to end, one function per step: train the standard model, train the modular model,
extract modules, evaluate, write packages. `modularize` chains them; `quickstart_digits` is
the small, fast run the quickstart uses.

Selection rules: the validation split (carved from training data) fits the calibration
temperatures; the test split is only ever measured, never used to choose anything.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from nnpm.datasets.splits import LabelledData
from nnpm.errors import InvalidInputError, RunInterrupted, UsageError
from nnpm.nn.cnn.model import CNN, build_cnn
from nnpm.nn.cnn.prune import module_architecture, prune_state
from nnpm.nn.cnn.spec import layout
from nnpm.package.manifest import Architecture
from nnpm.progress import Progress
from nnpm.science.cnn import evaluate, packaging
from nnpm.science.cnn.calibrate import fit_score_calibration
from nnpm.science.cnn.extract import activation_rates, gate_frequencies, kept_for_class
from nnpm.science.cnn.packaging import architecture, write_packages, write_standard_package
from nnpm.science.cnn.report import Report, evaluate_modules
from nnpm.science.cnn.train import (
    TrainConfig,
    TrainResult,
    accuracy,
    predict_logits,
    resolve_device,
    train,
)


def new_model(arch: Architecture, seed: int) -> CNN:
    """A freshly initialised network; the seed fixes the initial weights."""
    torch.manual_seed(seed)
    return build_cnn(arch)


def train_standard(data: LabelledData, family: str, width: float, cfg: TrainConfig, **options) -> TrainResult:
    """The baseline: same family and recipe, no gates, cross-entropy only.

    options: pad, resize, checkpoint_dir, resume, reporter (as for train_modular)."""
    return _train(data, family, width, cfg, gated=False, **options)


def train_modular(data: LabelledData, family: str, width: float, cfg: TrainConfig, **options) -> TrainResult:
    """The modular model. MwT (cfg.method "mwt"): mask generators on every conv but the first,
    CE + alpha*cohesion + beta*coupling. MODA ("moda"): the standard network without gates,
    CE + alpha*affinity + beta*dispersion + gamma*compactness over its activations.

    options: pad and resize (input adaptation), checkpoint_dir and resume (per-epoch safetensors
    checkpoints), reporter (progress hooks)."""
    return _train(data, family, width, cfg, gated=cfg.method == "mwt", modular=True, **options)


def _train(
    data: LabelledData,
    family: str,
    width: float,
    cfg: TrainConfig,
    *,
    gated: bool,
    modular: bool = False,
    pad: int = 0,
    resize: int = 0,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    reporter: Progress | None = None,
) -> TrainResult:
    arch = architecture(family, data, width, gated=gated, pad=pad, resize=resize)
    run = "modular" if gated or modular else "standard"
    return train(new_model(arch, cfg.seed), data, cfg, run=run, checkpoint_dir=checkpoint_dir, resume=resume,
                 reporter=reporter)  # fmt: skip


def arch_of(
    model: CNN, data: LabelledData, family: str, width: float, pad: int = 0, resize: int = 0
) -> Architecture:
    return architecture(family, data, width, gated=bool(model.gated), pad=pad, resize=resize)


@dataclass
class ExtractedModule:
    """One class's module: its kept kernels, spec, sliced weights and the built network."""

    cls: int
    class_name: str
    kept: dict[str, tuple[int, ...]]
    arch: Architecture
    state: dict[str, torch.Tensor]
    network: CNN
    krr: float
    temperature: float
    score_bias: float = 0.0


def extract_modules(
    model: CNN | str | Path,
    data: LabelledData,
    tau: float = 0.9,
    *,
    model_arch: Architecture | None = None,
    classes: list[int] | None = None,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
) -> list[ExtractedModule]:
    """Cut one physically pruned module per class out of a modular model (a CNN or a package dir).

    Gate frequencies (MwT, a gated model) or activation rates (MODA, an ungated model: ReLU'd conv
    channels and hidden FC neurons) come from the training split in eval mode without augmentation;
    each module keeps its gates (if any) sliced to its units, and its temperature and log-odds bias are
    fitted on the validation split for its one-vs-rest score (nnpm.science.cnn.calibrate).
    The forwards run on `device`; the modules' networks stay there, their weights (`state`) on CPU.
    """
    if not isinstance(model, CNN):
        manifest, model = packaging.load_package(Path(model))
        model_arch = manifest.architecture
    if model_arch is None:
        raise InvalidInputError("extract_modules needs model_arch for a torch model")
    model = model.to(device).eval()
    lay = layout(model_arch)
    rates = gate_frequencies if model.gated else activation_rates
    freqs = rates(model, data.train, len(data.classes), batch_size)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    out = []
    for cls in classes if classes is not None else range(len(data.classes)):
        kept = kept_for_class(freqs, cls, tau)
        arch = module_architecture(model_arch, kept, (cls,), 1.0)
        sliced = prune_state(state, model_arch, arch)
        net = build_cnn(arch)
        net.load_state_dict(sliced)
        net.to(device)
        val_logits = predict_logits(net.eval(), data.val.x, batch_size)
        temperature, bias = fit_score_calibration(val_logits, data.val.y, cls)
        arch = module_architecture(model_arch, kept, (cls,), temperature, (bias,))
        net.temperature, net.score_bias = temperature, (bias,)
        out.append(
            ExtractedModule(
                cls,
                data.classes[cls],
                kept,
                arch,
                sliced,
                net.eval(),
                evaluate.krr(kept, lay.full_width),
                temperature,
                bias,
            )
        )
    return out


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
    train_baseline: bool = True,
) -> Report:
    """Train both models with one recipe, extract a module per class, evaluate, write packages and
    results.json into `out`. Checkpoints go to out/.checkpoints (resume with resume=True)."""
    if not 0 < cfg.tau <= 1:
        raise InvalidInputError(f"tau must be in (0, 1], got {cfg.tau}", where="--tau")
    gated = cfg.method == "mwt"
    architecture(family, data, width, gated=gated, pad=pad, resize=resize)  # fail fast on bad args
    packaging.model_name(namespace, family)
    out = Path(out)
    refuse_to_overwrite(out / ".checkpoints", resume)
    options = dict(
        pad=pad, resize=resize, checkpoint_dir=out / ".checkpoints", resume=resume, reporter=reporter
    )
    try:
        std = train_standard(data, family, width, cfg, **options) if train_baseline else None
        mod = train_modular(data, family, width, cfg, **options)
    except KeyboardInterrupt:
        raise RunInterrupted(
            "training was interrupted; every finished epoch is checkpointed",
            where=str(out / ".checkpoints"),
            hint="rerun the same command with --resume to continue from the last finished epoch",
        ) from None
    device = resolve_device(cfg.device)
    model = mod.model.to(device).eval()
    arch = architecture(family, data, width, gated=gated, pad=pad, resize=resize)
    start = time.perf_counter()
    modules = extract_modules(
        model, data, cfg.tau, model_arch=arch, batch_size=cfg.eval_batch_size, device=device
    )
    extraction_seconds = time.perf_counter() - start
    rows = evaluate_modules(modules, model, data, cfg.seed)
    last = mod.history[-1] if mod.history else {}
    report = Report(
        dataset=data.name,
        family=family,
        width=width,
        split_note=data.split_note,
        config=asdict(cfg),
        standard_accuracy=accuracy(std.model, data.test, cfg.eval_batch_size) if std else float("nan"),
        modular_accuracy=accuracy(model, data.test, cfg.eval_batch_size),
        standard_seconds=std.seconds if std else float("nan"),
        modular_seconds=mod.seconds,
        extraction_seconds=extraction_seconds,
        train_cohesion=float(last.get("cohesion", 0.0)),
        train_coupling=float(last.get("coupling", 0.0)),
        mean_krr=sum(m.krr for m in modules) / len(modules),
        jaccard_coupling=evaluate.jaccard_coupling([m.kept for m in modules]),
        modules=rows,
        classes=tuple(data.classes),
        out_dir=str(out),
        device=mod.device,
    )
    provenance = {
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "momentum": cfg.momentum,
        "nesterov": True,
        "schedule": "cosine",
        "weight_decay": cfg.weight_decay,
        "generator_lr_scale": cfg.generator_lr_scale if gated else None,
        "method": cfg.method,
        "alpha": cfg.alpha,
        "beta": cfg.beta,
        "gamma": cfg.gamma if cfg.method == "moda" else None,
        "tau": cfg.tau,
        "augment_shift": cfg.shift,
        "augment_flip": cfg.flip,
        "split": data.split_note,
        "training_seconds": round(mod.seconds, 3),
        "standard_training_seconds": round(report.standard_seconds, 3) if std else None,
        "extraction_seconds": round(extraction_seconds, 3),
        "device": mod.device,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    provenance = {k: v for k, v in provenance.items() if v is not None}
    write_packages(out, namespace, version, model.cpu(), arch, modules, report, provenance, method=cfg.method)
    if std is not None:
        write_standard_package(out, namespace, version, std.model.cpu().eval(), data, family, width, pad, resize,
                               report, provenance)  # fmt: skip
    import json

    (out / "results.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    return report


def quickstart_digits(
    out: Path, namespace: str = "digits", *, epochs: int = 3, seed: int = 0, reporter: Progress | None = None
) -> Report:
    """A small SimCNN (width 1/8) modularized on the bundled digits in a few seconds on 2 cores:
    what `nnpm quickstart` publishes and installs modules from."""
    from nnpm.datasets.images import load_image_dataset

    data = load_image_dataset("digits", seed=seed)
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=0.05, seed=seed)
    return modularize(data, "simcnn", 0.125, cfg, Path(out), namespace, reporter=reporter)
