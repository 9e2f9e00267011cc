"""`nnpm eval`: recompute a package's accuracy on a named dataset and hold it to its claim.

What "accuracy" means depends on the kind (docs/compose.md):
- model: accuracy of the argmax over all classes, on every sample of the split;
- module: one-vs-rest balanced accuracy of the decision p(class | x) >= 0.5;
- composite: accuracy of the argmax over its classes, on the samples of its classes.
Per-class precision and recall come with every composite evaluation, so that a
replacement can be judged class by class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from nnpm.datasets.splits import LabelledData, Split
from nnpm.errors import DataError
from nnpm.nn.metrics import module_balanced_accuracy


@dataclass(frozen=True)
class ClassStats:
    precision: float
    recall: float
    support: int


@dataclass(frozen=True)
class EvalResult:
    package: str
    kind: str
    metric: str
    dataset: str
    split: str
    value: float
    samples: int
    claimed: float | None = None
    per_class: dict[str, ClassStats] = field(default_factory=dict)
    #: whether the split measured holds the examples the claim was measured on (by digest); None when
    #: the package records no data identity (made before nnpm recorded one, or by hand)
    same_data: bool | None = None
    data_sha256: str = ""  #: the measured split's digest

    @property
    def shortfall(self) -> float:
        """How far below its claim the package measured (negative: above it)."""
        return 0.0 if self.claimed is None else self.claimed - self.value


@torch.no_grad()
def scores(net, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    net.eval()
    return torch.cat([net(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def class_indices(names, data) -> list[int]:
    """Indices of class `names` in a dataset (image or text: anything with .classes and .name)."""
    missing = [c for c in names if c not in data.classes]
    if missing:
        raise DataError(
            f"class {missing[0]!r} is not a class of dataset {data.name}",
            hint=f"its classes: {', '.join(data.classes)}",
        )
    return [data.classes.index(c) for c in names]


def evaluate(net, data: LabelledData, split: str = "test") -> EvalResult:
    """Measure a loaded package (model, module or composite) on one split of `data`."""
    manifest = net.manifest
    check_fits(manifest, data)
    part: Split = getattr(data, split)
    kind = manifest.kind
    if kind == "model":
        value, n, per_class = _model_accuracy(net, part, data)
        metric = "accuracy"
    elif kind == "module":
        value, n = _module_balanced_accuracy(net, part, class_indices(manifest.source.classes, data))
        metric, per_class = "one-vs-rest balanced accuracy", {}
    else:
        value, n, per_class = composite_accuracy(net, part, data)
        metric = "accuracy"
    return beside_claim(manifest, metric, data, split, value, n, per_class)


def check_fits(manifest, data: LabelledData) -> None:
    """Refuse, in one line, data a package cannot read: another input shape or channel count, or
    (for a model) other classes: its outputs would be measured against the wrong labels."""
    want, have = tuple(manifest.architecture.input.shape), tuple(data.input_shape)
    if want != have:
        raise DataError(
            f"{manifest.name} reads {_shape(want)} inputs but {data.name} holds {_shape(have)}",
            where="--dataset",
            hint=f"measure it on data like its own ({manifest.source.dataset or 'see nnpm show'}); "
            "docs/datasets.md says how each format is read",
        )
    classes = tuple(manifest.source.all_classes)
    if manifest.kind == "model" and classes and classes != tuple(data.classes):
        raise DataError(
            f"{manifest.name} classifies {', '.join(classes)} but {data.name} has classes {', '.join(data.classes)}",
            where="--dataset",
            hint="a model is measured on data with its own classes in its order; "
            "compose modules to serve other classes (docs/compose.md)",
        )


def _shape(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        return f"{shape[0]}-channel {shape[1]}x{shape[2]}"
    return "x".join(map(str, shape))


def beside_claim(manifest, metric: str, data, split: str, value: float, n: int,
                 per_class: dict[str, ClassStats]) -> EvalResult:  # fmt: skip
    """The measured figure with the manifest's claim for the same split, if it makes one, and
    whether it was measured on the claim's own examples."""
    from nnpm.datasets.identity import split_sha256

    claim = manifest.metrics.accuracy
    claimed = claim.value if claim is not None and claim.split == split else None
    digest = split_sha256(data, split)
    recorded = manifest.source.data.splits.get(split) if manifest.source.data else None
    same = None if recorded is None else recorded.sha256 == digest
    return EvalResult(str(manifest.name), manifest.kind, metric, data.name, split, value, n, claimed, per_class,
                      same, digest)  # fmt: skip


def _model_accuracy(net, part: Split, data: LabelledData):
    pred = scores(net, part.x).argmax(-1)
    return (
        float((pred == part.y).float().mean()),
        len(part),
        per_class_stats(pred, part.y, list(range(len(data.classes))), data.classes),
    )


def _module_balanced_accuracy(net, part: Split, classes: list[int]) -> tuple[float, int]:
    positive = torch.isin(part.y, torch.tensor(classes))
    return module_balanced_accuracy(scores(net, part.x).amax(-1), positive), len(part)


def composite_accuracy(net, part: Split, data: LabelledData):
    """Accuracy of the argmax over the composite's classes, on samples of those classes."""
    wanted = class_indices(net.classes, data)
    keep = torch.isin(part.y, torch.tensor(wanted))
    x, y = part.x[keep], part.y[keep]
    if len(y) == 0:
        raise DataError(f"no sample of classes {', '.join(net.classes)} in the {data.name} split")
    pred = torch.tensor(wanted)[scores(net, x).argmax(-1)]
    return float((pred == y).float().mean()), len(y), per_class_stats(pred, y, wanted, data.classes)


def per_class_stats(
    pred: torch.Tensor, y: torch.Tensor, labels: list[int], names: tuple[str, ...]
) -> dict[str, ClassStats]:
    """Precision and recall of every label in `labels` (indices into `names`)."""
    out = {}
    for label in labels:
        predicted, actual = pred == label, y == label
        hits = int((predicted & actual).sum())
        out[names[label]] = ClassStats(
            precision=hits / max(1, int(predicted.sum())),
            recall=hits / max(1, int(actual.sum())),
            support=int(actual.sum()),
        )
    return out
