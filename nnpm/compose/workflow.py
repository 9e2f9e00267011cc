"""The user-level compose and eval jobs that the CLI and scripts call."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from nnpm.compose.assemble import compose, composite_manifest, parse_replacements, write_composite
from nnpm.compose.evaluate import EvalResult, evaluate
from nnpm.datasets.splits import LabelledData
from nnpm.errors import DataError
from nnpm.package.manifest import Accuracy, Manifest

__all__ = [
    "compose_package",
    "evaluate_package",
    "parse_replacements",
    "precision_recall_table",
    "load_dataset",
]


@dataclass(frozen=True)
class ComposeReport:
    manifest: Manifest
    directory: Path
    after: EvalResult | None = None
    before: EvalResult | None = None

    def to_dict(self) -> dict:
        return {
            "package": str(self.manifest.name),
            "version": str(self.manifest.version),
            "directory": str(self.directory),
            "classes": list(self.manifest.source.classes),
            "accuracy": result_dict(self.after) if self.after else None,
            "before_replacement": result_dict(self.before) if self.before else None,
        }


def load_dataset(name: str | None, data_dir: Path | None = None, seed: int = 0) -> LabelledData:
    if not name:
        raise DataError(
            "no dataset named", hint="pass --dataset (digits, mnist, fashion-mnist, cifar10, svhn)"
        )
    from nnpm.datasets.images import load_image_dataset

    return load_image_dataset(name, data_dir, seed=seed)


def compose_package(
    modules: list[str],
    name: str,
    directory: Path,
    *,
    version: str = "1.0.0",
    replace: dict[str, str] | None = None,
    dataset: str | None = None,
    data_dir: Path | None = None,
    finetune: bool = False,
    epochs: int = 50,
    seed: int = 0,
) -> ComposeReport:
    """compose -> (fine-tune) -> evaluate -> write the composite package."""
    from nnpm.compose.finetune import finetune as fit

    if finetune and not dataset:
        raise DataError(
            "--finetune needs --dataset", hint="e.g. --finetune --dataset fashion-mnist --epochs 50"
        )
    composite = compose(*modules, replace=replace)
    data = load_dataset(dataset, data_dir, seed) if dataset else None
    provenance = fit(composite, data, epochs=epochs, seed=seed) if finetune else {}
    manifest = composite_manifest(name, version, composite, finetune=provenance)
    after = before = None
    if data is not None:
        after = _evaluate_as(composite, manifest, data)
        acc = Accuracy(round(after.value, 6), "accuracy", data.name, "test")
        manifest = replace_accuracy(manifest, acc)
        if replace:
            original = compose(*modules)
            before = _evaluate_as(original, composite_manifest(name, version, original), data)
    return ComposeReport(write_composite(directory, manifest, composite), directory, after, before)


def replace_accuracy(manifest: Manifest, accuracy: Accuracy) -> Manifest:
    return replace(manifest, metrics=replace(manifest.metrics, accuracy=accuracy))


def _evaluate_as(composite, manifest: Manifest, data: LabelledData) -> EvalResult:
    composite.manifest = manifest
    return evaluate(composite, data, "test")


def evaluate_package(package: str | Path, *, dataset: str | None = None, data_dir: Path | None = None,
                     split: str = "test") -> EvalResult:  # fmt: skip
    """Load an installed package (or a package directory) and measure it on `dataset`."""
    from nnpm import api

    net = api.load(package)
    claim = net.manifest.metrics.accuracy
    name = dataset or (claim.dataset if claim else None) or net.manifest.source.dataset
    return evaluate(net, load_dataset(name, data_dir), split)


def result_dict(result: EvalResult) -> dict:
    out = asdict(result)
    out["per_class"] = {k: asdict(v) for k, v in result.per_class.items()}
    return out


def precision_recall_table(before: EvalResult | None, after: EvalResult) -> str:
    """Per-class precision and recall, with a before column when a replacement was made."""
    head = f"{'class':14} {'support':>7} " + (
        "{:>10} {:>10} ".format("P before", "R before") if before else ""
    )
    lines = [head + f"{'precision':>10} {'recall':>10}"]
    for cls, stats in after.per_class.items():
        row = f"{cls:14} {stats.support:7d} "
        if before:
            b = before.per_class[cls]
            row += f"{b.precision:10.4f} {b.recall:10.4f} "
        lines.append(row + f"{stats.precision:10.4f} {stats.recall:10.4f}")
    return "\n".join(lines)
