"""The user-level compose and eval jobs that the CLI and scripts call."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from nnpm.composition.assemble import composite_manifest, parse_replacements, write_composite
from nnpm.composition.evaluate import EvalResult, evaluate
from nnpm.datasets.splits import LabelledData
from nnpm.errors import DataError
from nnpm.package.manifest import Accuracy, Manifest

#: compose(modules, replace) -> a composite; the client supplies it (where packages come from is its business).
ComposeFn = Callable[[Sequence[str], Mapping[str, str] | None], object]

__all__ = [
    "compose_package",
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


def load_dataset(name: str | None, data_dir: Path | None = None, seed: int = 0, **options) -> LabelledData:
    from nnpm.datasets.images import NAMES, load_image_dataset

    if not name:
        raise DataError("no dataset named", hint=f"pass --dataset ({', '.join(NAMES)})")
    return load_image_dataset(name, data_dir, seed=seed, **options)


def recorded_options(net, name: str) -> dict:
    """The loader options a package recorded for dataset `name` (provenance.data: split seed,
    validation share, ...), so that it is measured on the splits it was made with; a composite's
    are its modules' when they all agree. {} when nothing is recorded for that dataset."""
    parts = getattr(net, "parts_info", ()) or ()
    found = [_options(p.manifest, name) for p in parts] or [_options(net.manifest, name)]
    return found[0] if all(f == found[0] for f in found) else {}


def _options(manifest, name: str) -> dict:
    recorded = dict(manifest.provenance.get("data", {}))
    if recorded.pop("dataset", None) != name:
        return {}
    known = {"seed", "val_fraction", "max_train", "image_size"}
    return {k: v for k, v in recorded.items() if k in known}


def data_for(net, dataset: str | None, data_dir: Path | None = None, seed: int = 0):
    """What `net` is measured on: its own text dataset (sequence packages) or the named image set."""
    from nnpm.composition.evaluate_text import is_sequence_package, load_text_for

    manifest = net.manifest
    if manifest.kind == "embedding":
        raise DataError(
            f"{manifest.name} is an embedding package: it has no accuracy of its own",
            hint="evaluate a model, module or composite that depends on it",
        )
    if is_sequence_package(manifest):
        return load_text_for(net, dataset, data_dir)
    claim = manifest.metrics.accuracy
    name = dataset or (claim.dataset if claim else None) or manifest.source.dataset
    options = {"seed": seed, **recorded_options(net, name)}
    return load_dataset(name, data_dir, **options)


def evaluate_on(net, data, split: str = "test") -> EvalResult:
    """Image data go to `evaluate`, text data to `evaluate_text`."""
    from nnpm.composition.evaluate_text import evaluate_text
    from nnpm.datasets.text import TextData

    return evaluate_text(net, data, split) if isinstance(data, TextData) else evaluate(net, data, split)


def compose_package(
    compose: ComposeFn,
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
    from nnpm.composition.finetune import finetune as fit

    if finetune and not dataset:
        raise DataError(
            "--finetune needs --dataset", hint="e.g. --finetune --dataset fashion-mnist --epochs 50"
        )
    composite = compose(modules, replace)
    composite.manifest = composite_manifest(name, version, composite)
    data = data_for(composite, dataset, data_dir, seed) if dataset else None
    if finetune and not isinstance(data, LabelledData):
        raise DataError(
            "--finetune works on image composites only",
            hint="sequence composites need no fitted weights: drop --finetune",
        )
    provenance = fit(composite, data, epochs=epochs, seed=seed) if finetune else {}
    manifest = composite_manifest(name, version, composite, finetune=provenance)
    after = before = None
    if data is not None:
        after = _evaluate_as(composite, manifest, data)
        acc = Accuracy(round(after.value, 6), after.metric, data.name, "test")
        manifest = replace_accuracy(manifest, acc, data)
        if replace:
            original = compose(modules, None)
            before = _evaluate_as(original, composite_manifest(name, version, original), data)
    return ComposeReport(write_composite(directory, manifest, composite), directory, after, before)


def replace_accuracy(manifest: Manifest, accuracy: Accuracy, data=None) -> Manifest:
    """The manifest with the claim measured on `data` (LabelledData or TextData), and which data that was:
    a routed translator is measured on its own languages only, not on all its modules' data."""
    from nnpm.datasets.identity import identify

    source = replace(manifest.source, data=identify(data)) if data is not None else manifest.source
    return replace(manifest, source=source, metrics=replace(manifest.metrics, accuracy=accuracy))


def _evaluate_as(composite, manifest: Manifest, data) -> EvalResult:
    composite.manifest = manifest
    return evaluate_on(composite, data, "test")


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
