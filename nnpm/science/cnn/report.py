"""What a modularization run measured: one row per module, the run's report, and how rows are measured.

Every figure here comes from the test split, which is only measured, never used to choose.
"""

from __future__ import annotations

import math
import platform
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from nnpm.datasets.splits import LabelledData
from nnpm.nn.cnn.model import CNN
from nnpm.nn.cnn.spec import layout
from nnpm.package.data_identity import DataIdentity
from nnpm.science.cnn import evaluate

if TYPE_CHECKING:
    from nnpm.science.cnn.extract import ExtractedModule
    from nnpm.science.cnn.train import TrainConfig


@dataclass
class ModuleRow:
    cls: int
    class_name: str
    package: str
    retained: int
    total: int
    krr: float
    balanced_accuracy: float
    fidelity: float
    argmax_fidelity: float
    max_logprob_gap: float
    jaccard_cohesion: float
    temperature: float
    retained_per_layer: dict[str, int] = field(default_factory=dict)
    score_bias: float = 0.0
    parameters: int = 0  # the module network's, gates and head included
    parameter_share: float = 0.0  # parameters / the modular model's
    confusers: tuple[str, ...] = ()  # classes whose units it also keeps (negative evidence)


@dataclass
class Report:
    """Everything a run measured, with the settings beside the figures."""

    dataset: str
    family: str
    width: float
    split_note: str
    config: dict[str, Any]
    standard_accuracy: float
    modular_accuracy: float
    standard_seconds: float
    modular_seconds: float
    extraction_seconds: float
    train_cohesion: float
    train_coupling: float
    mean_krr: float
    jaccard_coupling: float
    modules: list[ModuleRow]
    classes: tuple[str, ...] = ()
    model_package: str = ""
    out_dir: str = ""
    device: str = "cpu"
    model_parameters: int = 0
    composition: dict[str, Any] = field(default_factory=dict)  # the rule chosen on validation, and why
    start: str = ""  # where the trained weights came from (--from), "" when trained from scratch
    data_identity: DataIdentity | None = None  # which data, as read: recorded in every manifest

    @property
    def loss_points(self) -> float:
        return 100 * (self.standard_accuracy - self.modular_accuracy)

    @property
    def mean_parameter_share(self) -> float:
        return sum(m.parameter_share for m in self.modules) / max(1, len(self.modules))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["loss_points"] = self.loss_points
        d["mean_fidelity"] = sum(m.fidelity for m in self.modules) / max(1, len(self.modules))
        d["mean_argmax_fidelity"] = sum(m.argmax_fidelity for m in self.modules) / max(1, len(self.modules))
        d["mean_parameter_share"] = self.mean_parameter_share
        ratio = self.modular_seconds / max(self.standard_seconds, 1e-9)
        d["time_ratio"] = ratio if math.isfinite(ratio) else None  # no standard run (--from): no ratio
        d["standard_seconds"] = self.standard_seconds if math.isfinite(self.standard_seconds) else None
        return d


def evaluate_modules(
    modules: list[ExtractedModule],
    model: CNN,
    data: LabelledData,
    seed: int = 0,
    *,
    model_parameters: int = 0,
) -> list[ModuleRow]:
    """Test-split figures per module (measured only, never used to choose); sizes as shares of
    `model_parameters`."""
    rows = []
    for m in modules:
        fig = evaluate.module_figures(m.network, model, data.test, m.cls)
        total = sum(layout(m.arch).full_width[n] for n in m.kept)
        rows.append(
            ModuleRow(
                m.cls,
                m.class_name,
                "",
                sum(len(v) for v in m.kept.values()),
                total,
                m.krr,
                fig.balanced_accuracy,
                fig.fidelity,
                fig.argmax_fidelity,
                fig.max_logprob_gap,
                evaluate.jaccard_cohesion(model, data.train, m.cls, m.kept, seed=seed),
                m.temperature,
                {k: len(v) for k, v in m.kept.items()},
                m.score_bias,
                m.parameters,
                m.parameters / model_parameters if model_parameters else 0.0,
                m.confusers,
            )
        )
    return rows


def provenance_of(
    cfg: TrainConfig, data: LabelledData, report: Report, start: dict[str, str]
) -> dict[str, Any]:
    """What a package records about the run that made it: the recipe, the split, times, versions."""
    from nnpm.science.cnn.train import GATED_METHODS

    provenance = {
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "momentum": cfg.momentum,
        "nesterov": True,
        "schedule": "cosine",
        "weight_decay": cfg.weight_decay,
        "generator_lr_scale": cfg.generator_lr_scale if cfg.method in GATED_METHODS else None,
        "method": cfg.method,
        "alpha": cfg.alpha,
        "beta": cfg.beta,
        "gamma": cfg.gamma if cfg.method != "mwt" else None,
        "compactness": cfg.compactness if cfg.method == "moda" else None,
        "tau": cfg.tau,
        "max_confusers": cfg.confusers or None,
        "activation_mass": cfg.mass if cfg.mass < 1 else None,
        "augment_shift": cfg.shift,
        "augment_flip": cfg.flip,
        "split": data.split_note,
        "data": {"dataset": data.name, **data.options},  # what `nnpm eval` reloads the same splits with
        **start,
        "training_seconds": round(report.modular_seconds, 3),
        "standard_training_seconds": round(report.standard_seconds, 3) if not start else None,
        "extraction_seconds": round(report.extraction_seconds, 3),
        "device": report.device,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return {k: v for k, v in provenance.items() if v is not None}
