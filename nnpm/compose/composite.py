"""The composite network: modules side by side, one calibrated score per class.

Every module package returns calibrated log-probabilities log p(class | x) for the
classes it serves (docs/package-format.md), so scores from different modules, even
from different source models, are comparable and the composite's prediction is the
argmax over them. A composite adds at most a per-class affine correction of those
scores (`adjust`), which `--finetune` fits; without it the composite has no weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ScoreAdjust(nn.Module):
    """score' = scale * score + bias, per class: the only thing fine-tuning trains."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(num_classes))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return scores * self.scale + self.bias


class Composite(nn.Module):
    """forward(x) -> [B, K] (or [B, T, K] for per-step modules) scores over `self.classes`.

    `fused`, when given, computes all K scores in one forward (modules of one source
    model, see nnpm.science.cnn.fuse); otherwise every module runs on the batch.
    """

    def __init__(
        self,
        modules: Sequence[nn.Module],
        classes: Sequence[str],
        *,
        adjust: bool = False,
        fused: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)
        self.classes = tuple(classes)
        self.adjust = ScoreAdjust(len(self.classes)) if adjust else None
        self.fused = fused

    @property
    def mode(self) -> str:
        return "fused" if self.fused is not None else "batched"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            scores = self.fused(x)
        else:
            scores = torch.cat([part(x) for part in self.parts], dim=-1)
        return self.adjust(scores) if self.adjust is not None else scores

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Indices into `self.classes`."""
        return self(x).argmax(-1)

    def own_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors a composite package stores: only what it adds, never the modules' weights."""
        return (
            {f"adjust.{k}": v for k, v in self.adjust.state_dict().items()} if self.adjust is not None else {}
        )
