"""torch side of the `mlp` family."""

from __future__ import annotations

import math

import torch
from torch import nn

from nnpm.nn.layers import Normalize


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden: list[int], num_outputs: int, mean=(), std=()) -> None:
        super().__init__()
        self.normalize = Normalize(tuple(mean), tuple(std))
        widths = [in_features, *hidden, num_outputs]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x).flatten(1)
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


def build_mlp(arch, context=None) -> MLP:
    return MLP(
        math.prod(arch.input.shape),
        [int(h) for h in arch.params["hidden"]],
        int(arch.params["num_outputs"]),
        arch.input.mean,
        arch.input.std,
    )
