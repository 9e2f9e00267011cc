"""Fitting a module's 1-way head: logistic regression on training positions, then Platt scaling on
validation positions, so that log sigmoid(z) is a calibrated log p(class) comparable across modules."""

from __future__ import annotations

import torch
from torch import nn


def fit_logistic(
    x: torch.Tensor, target: torch.Tensor, head: nn.Linear, steps: int = 60, l2: float = 1e-4
) -> nn.Linear:
    """Refit a 1-way head by full-batch L-BFGS on binary cross-entropy, starting from `head`."""
    fitted = nn.Linear(head.in_features, 1)
    fitted.load_state_dict(head.state_dict())
    opt = torch.optim.LBFGS(fitted.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(fitted(x).squeeze(-1), target)
        loss = loss + l2 * fitted.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return fitted.requires_grad_(False)


def platt(z: torch.Tensor, target: torch.Tensor, steps: int = 50) -> tuple[float, float]:
    """Platt scaling: a, b such that sigmoid(a z + b) is calibrated on held-out (validation) data."""
    ab = torch.tensor([1.0, 0.0], requires_grad=True)
    opt = torch.optim.LBFGS([ab], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(ab[0] * z + ab[1], target)
        loss.backward()
        return loss

    opt.step(closure)
    return float(ab[0].detach()), float(ab[1].detach())


def calibrated(head: nn.Linear, a: float, b: float) -> nn.Linear:
    out = nn.Linear(head.in_features, 1)
    with torch.no_grad():
        out.weight.copy_(head.weight * a)
        out.bias.copy_(head.bias * a + b)
    return out
