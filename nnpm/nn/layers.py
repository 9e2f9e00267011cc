"""Small torch layers shared by every family."""

from __future__ import annotations

import torch
from torch import nn


class Normalize(nn.Module):
    """Per-channel (x - mean) / std from the manifest's input spec.

    Part of every built network, so that a package takes raw inputs in [0, 1] and
    modules from models with different normalisation accept the same tensors. The
    statistics are buffers that are not saved: they come from the manifest.
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], channels_dim: int = 1) -> None:
        super().__init__()
        self.enabled = bool(mean) and bool(std)
        shape = [1] * (channels_dim + 1)
        shape[channels_dim] = -1
        self.register_buffer("mean", torch.tensor(mean or [0.0]).reshape(shape), persistent=False)
        self.register_buffer("std", torch.tensor(std or [1.0]).reshape(shape), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        if x.dim() == 2:  # flat features: mean/std are per feature (or a single value)
            return (x - self.mean.reshape(1, -1)) / self.std.reshape(1, -1)
        shape = [1, -1] + [1] * (x.dim() - 2)
        return (x - self.mean.reshape(shape)) / self.std.reshape(shape)
