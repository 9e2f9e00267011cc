"""The figures nnpm reports about a network, defined once."""

from __future__ import annotations

import math

import torch

#: log 0.5: a module says "my class" when its calibrated log-probability reaches it.
LOG_HALF = math.log(0.5)


def balanced_accuracy(decided: torch.Tensor, positive: torch.Tensor) -> float:
    """One-vs-rest balanced accuracy, (TPR + TNR) / 2, of boolean decisions against boolean truth.

    A side with no example counts 0, so a degenerate split never looks perfect."""
    decided, positive = decided.bool(), positive.bool()
    tpr = float((decided & positive).sum()) / int(positive.sum()) if positive.any() else 0.0
    tnr = float((~decided & ~positive).sum()) / int((~positive).sum()) if (~positive).any() else 0.0
    return (tpr + tnr) / 2


def module_balanced_accuracy(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Balanced accuracy of a module's decision log p(class | x) >= log 0.5."""
    return balanced_accuracy(scores >= LOG_HALF, positive)
