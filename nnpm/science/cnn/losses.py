"""MwT's cohesion and coupling losses over per-sample gate vectors (science.md section 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def layer_losses(gates: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(cohesion, coupling) of one layer's gates [B, C].

    Rows are L2-normalised; S_ij is the cosine similarity for pairs i < j. cohesion = 1 -
    mean S over same-label pairs, coupling = mean S over different-label pairs. A batch
    without such pairs contributes 0 to that term, so the loss never becomes NaN.
    """
    m = F.normalize(gates, dim=1)
    sim = m @ m.T
    upper = torch.ones_like(sim, dtype=torch.bool).triu(1)
    same = (labels[:, None] == labels[None, :]) & upper
    diff = (labels[:, None] != labels[None, :]) & upper
    zero = sim.new_zeros(())
    cohesion = 1 - sim[same].mean() if same.any() else zero
    coupling = sim[diff].mean() if diff.any() else zero
    return cohesion, coupling


def mwt_losses(gates: dict[str, torch.Tensor], labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cohesion and coupling averaged over every masked layer."""
    pairs = [layer_losses(g, labels) for g in gates.values()]
    if not pairs:
        zero = labels.new_zeros((), dtype=torch.float32)
        return zero, zero
    return torch.stack([p[0] for p in pairs]).mean(), torch.stack([p[1] for p in pairs]).mean()
