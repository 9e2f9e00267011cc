"""What a modularization run measured: one row per module, the run's report, and how rows are measured.

Every figure here comes from the test split, which is only measured, never used to choose.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nnpm.datasets.splits import LabelledData
from nnpm.nn.cnn.model import CNN
from nnpm.nn.cnn.spec import layout
from nnpm.science.cnn import evaluate

if TYPE_CHECKING:
    from nnpm.science.cnn.mwt import ExtractedModule


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

    @property
    def loss_points(self) -> float:
        return 100 * (self.standard_accuracy - self.modular_accuracy)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["loss_points"] = self.loss_points
        d["mean_fidelity"] = sum(m.fidelity for m in self.modules) / max(1, len(self.modules))
        d["mean_argmax_fidelity"] = sum(m.argmax_fidelity for m in self.modules) / max(1, len(self.modules))
        d["time_ratio"] = self.modular_seconds / max(self.standard_seconds, 1e-9)
        return d


def evaluate_modules(
    modules: list[ExtractedModule], model: CNN, data: LabelledData, seed: int = 0
) -> list[ModuleRow]:
    """Test-split figures per module (measured only, never used to choose)."""
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
            )
        )
    return rows
