"""scikit-learn's copy of the UCI optical-digits test set, bundled with nnpm (BSD-3, see data/NOTICE).

1,797 8x8 images of the digits 0-9, pixel values 0..16. It has no official split, so
nnpm draws a fixed, stratified 60 / 20 / 20 train / validation / test split from a seed.
"""

from __future__ import annotations

import gzip
from importlib import resources

import torch

from nnpm.datasets.image_splits import carve
from nnpm.datasets.splits import LabelledData, Split

CLASSES = tuple(str(d) for d in range(10))
SPLIT_SEED = 0


def load_arrays() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 images as float32 [N, 1, 8, 8] in [0, 1], and labels [N]."""
    raw = resources.files("nnpm.datasets").joinpath("data/digits.csv.gz").read_bytes()
    rows = [line.split(",") for line in gzip.decompress(raw).decode("ascii").split()]
    table = torch.tensor([[int(v) for v in row] for row in rows], dtype=torch.int64)
    x = (table[:, :64].float() / 16.0).reshape(-1, 1, 8, 8)
    return x, table[:, 64]


def load(seed: int = SPLIT_SEED) -> LabelledData:
    x, y = load_arrays()
    train, val, test = carve(y, 0.2, 0.25, seed)  # as any data set without a test split (image_splits)
    return LabelledData(
        name="digits",
        classes=CLASSES,
        train=Split(x[train], y[train]),
        val=Split(x[val], y[val]),
        test=Split(x[test], y[test]),
        split_note=f"stratified 60/20/20 train/val/test of 1,797 images, split seed {seed}",
        format="bundled",
    )
