"""Seeded, stratified splits and the typed containers datasets return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class Split:
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: torch.Tensor) -> Split:
        return Split(self.x[index], self.y[index])


@dataclass(frozen=True)
class LabelledData:
    """A classification dataset with its three splits and how they were made."""

    name: str
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    split_note: str
    #: how the data was stored ("idx", "imagefolder", "csv", ...): recorded in manifests beside its digest
    format: str = ""
    #: the loader options that give these splits again (seed, val_fraction, ...): packages record them
    #: (provenance.data) so that `nnpm eval` measures on the same test split, not one cut another way
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    def channel_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std of the training split (never val or test)."""
        x = self.train.x.float()
        dims = [0] + list(range(2, x.dim()))
        return tuple(x.mean(dims).tolist()), tuple(x.std(dims).clamp_min(1e-6).tolist())


def stratified_split(y: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (rest, held_out): `fraction` of every class held out, drawn with `seed`."""
    gen = torch.Generator().manual_seed(seed)
    rest, held = [], []
    for label in torch.unique(y).tolist():
        idx = torch.nonzero(y == label).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_held = max(1, round(len(idx) * fraction))
        held.append(idx[:n_held])
        rest.append(idx[n_held:])
    return torch.cat(rest).sort().values, torch.cat(held).sort().values
