"""From what a reader found (pixels, raw labels, the splits the data gives) to a LabelledData.

Shared by every image format, so the same rules hold for all of them:

- class names come from the data (declared: folder names, a `classes` array, a ClassLabel,
  `classes.txt`); without a declaration they are the sorted distinct training labels;
- a label outside a declared mapping, or a validation or test class unseen in training, is an
  error listing the unknown values;
- a split the data gives (test, validation) is kept as given; a missing test split is carved
  from the data, seeded and stratified, and so is a missing validation split (from training);
- every class keeps at least one training image, or the split is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from nnpm.datasets.splits import LabelledData, Split, stratified_split
from nnpm.errors import DataError

#: Share of the data carved out as the test split when the data has none (as for the bundled digits).
TEST_FRACTION = 0.2
#: Offset of the seed that subsamples training data for --max-train (as the native loaders do).
SUBSAMPLE_SEED_OFFSET = 7
SPLIT_NAMES = ("train", "val", "test")


@dataclass
class RawSplit:
    """One split as read: pixels float32 [N, C, H, W] in [0, 1], labels as the data writes them."""

    x: torch.Tensor
    labels: Sequence  # ints or strings, one per image
    where: str  # the file or folder it came from, for messages


def carve(y: torch.Tensor, test_fraction: float, val_fraction: float, seed: int):
    """(train, val, test) indices: test = stratified `test_fraction` (seed), val = stratified
    `val_fraction` of the rest (seed + 1). The bundled digits use exactly this (0.2, 0.25)."""
    rest, test = stratified_split(y, test_fraction, seed)
    train_i, val_i = stratified_split(y[rest], val_fraction, seed + 1)
    return rest[train_i], rest[val_i], test


def _preview(values) -> str:
    values = sorted(set(values), key=str)
    shown = ", ".join(repr(v) for v in values[:5])
    return shown + (f" and {len(values) - 5} more" if len(values) > 5 else "")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def map_labels(
    splits: dict[str, RawSplit], declared: Sequence[str] | None, declared_where: str
) -> tuple[tuple[str, ...], dict[str, torch.Tensor]]:
    """Class names and label ids 0..K-1 for every split.

    With `declared` names, a label is an id into them (an int) or one of them (a string); anything
    else is an error listing the unknown values. Without, the classes are the distinct training
    labels, sorted (numbers as numbers), and other splits may only use those."""
    train = list(splits["train"].labels)
    kinds = {type(v) for s in splits.values() for v in s.labels}
    if not kinds <= {int, str}:
        bad = sorted(k.__name__ for k in kinds - {int, str})
        raise DataError(f"labels must be integers or names, found {', '.join(bad)}",
                        where=splits["train"].where, hint="write the labels as integers 0..K-1 or as class names")  # fmt: skip
    if len(kinds) > 1:
        raise DataError("labels mix integers and names", where=splits["train"].where,
                        hint="write every label the same way: integers 0..K-1, or class names")  # fmt: skip
    if declared is not None:
        classes = tuple(str(c) for c in declared)
        if len(set(classes)) != len(classes):
            dup = [c for c in classes if classes.count(c) > 1]
            raise DataError(f"class names repeat: {_preview(dup)}", where=declared_where)
        index = {c: i for i, c in enumerate(classes)}
    else:
        distinct = sorted(set(train))
        classes = tuple(str(v) for v in distinct)
        index = {v: i for i, v in enumerate(distinct)}
    out: dict[str, torch.Tensor] = {}
    for name, split in splits.items():
        labels = list(split.labels)
        if declared is not None and labels and _is_int(labels[0]):
            unknown = [v for v in labels if not 0 <= v < len(classes)]
            ids = labels
        else:
            unknown = [v for v in labels if v not in index]
            ids = [index.get(v, -1) for v in labels]
        if unknown:
            if declared is not None:
                what = (
                    f"{len(unknown)} labels outside the {len(classes)} declared classes: {_preview(unknown)}"
                )
                hint = f"labels must be ids 0..{len(classes) - 1} or one of the names in {declared_where}"
            else:
                what = f"{name} labels unseen in the training split: {_preview(unknown)}"
                hint = "every class of the validation and test splits needs training images"
            raise DataError(what, where=split.where, hint=hint)
        out[name] = torch.tensor(ids, dtype=torch.long)
    return classes, out


def _check_shapes(splits: dict[str, RawSplit]) -> None:
    train = splits["train"]
    if len(train.x) == 0:
        raise DataError("no training images", where=train.where, hint="see docs/datasets.md for the layout")
    for split in splits.values():
        if len(split.x) != len(split.labels):
            raise DataError(f"{len(split.x)} images but {len(split.labels)} labels", where=split.where)
        if len(split.x) == 0:
            raise DataError("the split holds no images", where=split.where, hint="add images or remove it")
        if split.x.shape[1:] != train.x.shape[1:]:
            raise DataError(f"images are {tuple(split.x.shape[1:])} (C, H, W), the training images "
                            f"{tuple(train.x.shape[1:])}", where=split.where,
                            hint="every split needs one image size and channel count (see --image-size)")  # fmt: skip


def _check_classes(classes, y: dict[str, torch.Tensor], where: dict[str, str], need: tuple[str, ...]) -> None:
    for name in need:
        counts = torch.bincount(y[name], minlength=len(classes))
        missing = [classes[i] for i in range(len(classes)) if counts[i] == 0]
        if missing:
            what = f"no {name} images of class {_preview(missing)}"
            hint = ("each class needs images in every split; a class with very few images cannot be split "
                    "(add images, or drop the class)")  # fmt: skip
            raise DataError(what, where=where[name], hint=hint)


def assemble(
    name: str,
    fmt: str,
    splits: dict[str, RawSplit],
    declared: Sequence[str] | None,
    declared_where: str,
    *,
    seed: int,
    val_fraction: float,
    max_train: int | None = None,
    test_fraction: float = TEST_FRACTION,
) -> LabelledData:
    """The three splits: test and validation as given, else carved (seeded, stratified) and recorded."""
    _check_shapes(splits)
    classes, ys = map_labels(splits, declared, declared_where)
    where = {k: s.where for k, s in splits.items()}
    _check_classes(classes, ys, where, ("train",))
    x, y = splits["train"].x, ys["train"]
    need = 1 + ("test" not in splits) + ("val" not in splits)
    counts = torch.bincount(y, minlength=len(classes))
    few = [f"{classes[i]!r} ({int(counts[i])})" for i in range(len(classes)) if counts[i] < need]
    if few:
        carved = " and ".join(
            label for key, label in (("test", "test"), ("val", "validation")) if key not in splits
        )
        raise DataError(f"too few training images of class {', '.join(few[:5])} to carve {carved} from",
                        where=where["train"], hint=f"each class needs at least {need} images, or give the splits")  # fmt: skip
    notes = []
    if "test" in splits:
        test = Split(splits["test"].x, ys["test"])
        notes.append(f"test split as given ({len(test)}, {where['test']})")
    else:
        rest, test_i = stratified_split(y, test_fraction, seed)
        test = Split(x[test_i], y[test_i])
        notes.append(f"no test split in the data: test = stratified {test_fraction:.0%} of {len(y)} "
                     f"({len(test_i)}), split seed {seed}")  # fmt: skip
        x, y = x[rest], y[rest]
    if max_train is not None and max_train < len(y):
        _, keep = stratified_split(y, max_train / len(y), seed + SUBSAMPLE_SEED_OFFSET)
        x, y = x[keep], y[keep]
        notes.append(
            f"training split subsampled to {len(y)} (stratified, seed {seed + SUBSAMPLE_SEED_OFFSET})"
        )
    if "val" in splits:
        train, val = Split(x, y), Split(splits["val"].x, ys["val"])
        notes.append(f"validation split as given ({len(val)}, {where['val']})")
    else:
        val_seed = seed if "test" in splits else seed + 1
        train_i, val_i = stratified_split(y, val_fraction, val_seed)
        train, val = Split(x[train_i], y[train_i]), Split(x[val_i], y[val_i])
        notes.append(f"validation = stratified {val_fraction:.0%} of the training split ({len(val_i)} of "
                     f"{len(y)}), split seed {val_seed}")  # fmt: skip
    final = {"train": train.y, "val": val.y, "test": test.y}
    _check_classes(classes, final, {**{k: where["train"] for k in final}, **where}, SPLIT_NAMES)
    return LabelledData(name, classes, train, val, test, "; ".join(notes), format=fmt)
