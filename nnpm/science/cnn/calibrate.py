"""Calibration on the validation split, so that scores from different modules and models compare.

A model gets a temperature T (softmax(logits / T)). A module's score for its class c is
log p(c | x) = log sigmoid(z_c / T - logsumexp_{j != c}(z_j / T) + b): the model's
softmax probability of c with a temperature and a bias on its log-odds. With b = 0 this is
exactly log softmax(z / T)[c]. The bias matters once modules are small: a module keeps
only its class's kernels, so its logits for the other classes are poor and its log-odds
for c are shifted, which no temperature alone can correct.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nnpm.nn.cnn.score import calibrated_logprob, log_odds

_GRID = torch.exp(torch.linspace(math.log(0.05), math.log(20.0), 241))
T_RANGE = (0.05, 20.0)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, cls: int | None = None) -> float:
    """The T minimising validation NLL: of the true class (cls None), or of the one-vs-rest
    event "label == cls" with p = softmax(logits / T)[cls]."""
    logits = logits.double()
    best, best_t = math.inf, 1.0
    for t in _GRID.tolist():
        if cls is None:
            nll = float(F.nll_loss(torch.log_softmax(logits / t, dim=1), labels))
        else:
            nll = _one_vs_rest_nll(log_odds(logits / t, cls), labels == cls)
        if nll < best:
            best, best_t = nll, t
    return float(best_t)


def fit_score_calibration(logits: torch.Tensor, labels: torch.Tensor, cls: int) -> tuple[float, float]:
    """(T, b) minimising the validation NLL of "label == cls" with p = sigmoid(log_odds(z / T) + b).

    Starts from the best temperature alone (b = 0) and refines both by L-BFGS, so the
    result is never worse on validation than temperature scaling."""
    logits, target = logits.double(), (labels == cls).double()
    t0 = fit_temperature(logits, labels, cls)
    params = torch.tensor([math.log(t0), 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=100, line_search_fn="strong_wolfe")

    def nll() -> torch.Tensor:
        t = params[0].clamp(math.log(T_RANGE[0]), math.log(T_RANGE[1])).exp()
        return F.binary_cross_entropy_with_logits(log_odds(logits / t, cls) + params[1], target)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nll()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        fitted = float(nll())
    if not math.isfinite(fitted) or fitted > _one_vs_rest_nll(log_odds(logits / t0, cls), labels == cls):
        return t0, 0.0
    t = float(params[0].detach().clamp(math.log(T_RANGE[0]), math.log(T_RANGE[1])).exp())
    return t, float(params[1].detach())


def _one_vs_rest_nll(odds: torch.Tensor, target: torch.Tensor) -> float:
    return float(F.binary_cross_entropy_with_logits(odds, target.to(odds.dtype)))


__all__ = ["calibrated_logprob", "fit_score_calibration", "fit_temperature", "log_odds"]
