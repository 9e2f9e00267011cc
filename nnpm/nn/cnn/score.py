"""A CNN module's calibrated score for its classes (the fitting lives in nnpm.science.cnn.calibrate).

log p(c | x) = log sigmoid(z_c / T - logsumexp_{j != c}(z_j / T) + b): the model's softmax
probability of c with a temperature T and a bias b on its log-odds; with b = 0 it is exactly
log softmax(z / T)[c]. Every CNN module and fused composite scores with this one function.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def log_odds(scaled: torch.Tensor, cls: int) -> torch.Tensor:
    """z_c - logsumexp_{j != c} z_j: the log-odds of class c under softmax(z)."""
    others = torch.cat([scaled[:, :cls], scaled[:, cls + 1 :]], dim=1)
    return scaled[:, cls] - torch.logsumexp(others, dim=1)


def calibrated_logprob(
    logits: torch.Tensor, classes: Sequence[int], temperature: float, biases: Sequence[float] = ()
) -> torch.Tensor:
    """[B, len(classes)] calibrated log p(c | x) for each c in `classes` (biases default to 0)."""
    scaled = logits / temperature
    if not any(biases):
        return torch.log_softmax(scaled, dim=1)[:, list(classes)]
    cols = [F.logsigmoid(log_odds(scaled, c) + b) for c, b in zip(classes, biases, strict=True)]
    return torch.stack(cols, dim=1)
