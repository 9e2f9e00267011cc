"""Module score calibration: a temperature and a log-odds bias fitted on validation data."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnpm.science.cnn.calibrate import calibrated_logprob, fit_score_calibration, fit_temperature, log_odds


def _shifted_logits(n: int = 4000, shift: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits whose class-0 log-odds are informative but pushed up by `shift` for every sample,
    like a module that kept only its own class's kernels."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (n,), generator=g)
    logits = torch.randn(n, 4, generator=g) + 2.0 * F.one_hot(labels, 4)
    logits[:, 0] += shift
    return logits, labels


def test_without_a_bias_the_score_is_the_tempered_softmax() -> None:
    logits = torch.randn(5, 4)
    assert torch.allclose(calibrated_logprob(logits, [2], 1.7), torch.log_softmax(logits / 1.7, 1)[:, [2]])
    with_zero = calibrated_logprob(logits, [2], 1.7, (1e-300,))  # the log-odds path, bias ~ 0
    assert torch.allclose(with_zero, torch.log_softmax(logits / 1.7, 1)[:, [2]], atol=1e-5)


def test_a_shifted_score_gets_a_negative_bias_and_a_better_validation_fit() -> None:
    logits, labels = _shifted_logits()
    t, b = fit_score_calibration(logits, labels, 0)
    assert b < -1.0  # undoes most of the upward shift
    target = (labels == 0).float()

    def nll(temperature: float, bias: float) -> float:
        return float(F.binary_cross_entropy_with_logits(log_odds(logits / temperature, 0) + bias, target))

    assert nll(t, b) < nll(fit_temperature(logits, labels, 0), 0.0) - 0.05
    decided = calibrated_logprob(logits, [0], t, (b,))[:, 0] >= torch.log(torch.tensor(0.5))
    balanced = (decided[labels == 0].float().mean() + (~decided[labels != 0]).float().mean()) / 2
    assert balanced > 0.75  # temperature alone says "class 0" for nearly everything


def test_well_calibrated_scores_keep_a_bias_near_zero() -> None:
    logits, labels = _shifted_logits(shift=0.0)
    _, b = fit_score_calibration(logits, labels, 0)
    assert abs(b) < 0.5
