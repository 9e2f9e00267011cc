"""Temperature scaling on the validation split, so that scores from different models compare."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_GRID = torch.exp(torch.linspace(math.log(0.05), math.log(20.0), 241))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, cls: int | None = None) -> float:
    """The T minimising validation NLL: of the true class (cls None), or of the one-vs-rest
    event "label == cls" with p = softmax(logits / T)[cls] (a module's score)."""
    logits = logits.double()
    best, best_t = math.inf, 1.0
    for t in _GRID.tolist():
        lp = torch.log_softmax(logits / t, dim=1)
        if cls is None:
            nll = float(F.nll_loss(lp, labels))
        else:
            pos = lp[:, cls].clamp(max=-1e-12)
            target = (labels == cls).double()
            nll = float(-(target * pos + (1 - target) * torch.log(-torch.expm1(pos))).mean())
        if nll < best:
            best, best_t = nll, t
    return float(best_t)
