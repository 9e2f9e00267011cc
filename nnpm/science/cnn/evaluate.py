"""Figures for models and modules: accuracy, KRR, one-vs-rest module accuracy, fidelity, Jaccard
cohesion/coupling. Each takes torch models (or logits) and a split; nothing here selects anything."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnpm.datasets.splits import Split
from nnpm.nn.cnn.model import CNN
from nnpm.nn.cnn.score import calibrated_logprob
from nnpm.nn.metrics import module_balanced_accuracy
from nnpm.science.cnn.train import predict_logits


@dataclass(frozen=True)
class ModuleFigures:
    """How one module does on the test split."""

    balanced_accuracy: float  # one-vs-rest: (TPR + TNR) / 2 of the decision p(class | x) >= 0.5
    fidelity: float  # on the class's samples: its score says "class" (p >= 0.5) iff the model predicts it
    argmax_fidelity: float  # the same with the module's internal argmax over all logits as its decision
    max_logprob_gap: float  # on the class's samples: max |module log p - modular model log p|


def balanced_accuracy(scores: torch.Tensor, labels: torch.Tensor, cls: int) -> float:
    """One-vs-rest balanced accuracy of `log p(cls | x) >= log 0.5`."""
    return module_balanced_accuracy(scores, labels == cls)


@torch.no_grad()
def module_figures(module: CNN, model: CNN, split: Split, cls: int, batch_size: int = 512) -> ModuleFigures:
    """Score a pruned module against the test split and against the modular model it came from."""
    m_logits = predict_logits(module, split.x, batch_size)
    scores = module.logprob(m_logits)[:, 0]
    own = split.y == cls
    full_logits = predict_logits(model, split.x[own], batch_size)
    model_says = full_logits.argmax(1) == cls
    agree = (scores[own] >= torch.log(torch.tensor(0.5))) == model_says
    agree_argmax = (m_logits[own].argmax(1) == cls) == model_says
    full_lp = calibrated_logprob(full_logits, [cls], module.temperature, module.score_bias)[:, 0]
    gap = float((scores[own] - full_lp).abs().max()) if own.any() else 0.0
    return ModuleFigures(balanced_accuracy(scores, split.y, cls), _mean(agree), _mean(agree_argmax), gap)


def _mean(flags: torch.Tensor) -> float:
    return float(flags.float().mean()) if len(flags) else 1.0


@torch.no_grad()
def jaccard_cohesion(
    model: CNN,
    split: Split,
    cls: int,
    kept: dict[str, tuple[int, ...]],
    max_samples: int = 256,
    seed: int = 0,
) -> float:
    """Mean Jaccard similarity of binary gate patterns (activation patterns for an ungated MODA model)
    of class-`cls` samples, restricted to its module."""
    idx = torch.nonzero(split.y == cls).flatten()
    idx = idx[torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed))[:max_samples]]
    if len(idx) < 2:
        return 1.0
    model.eval()
    device = next(model.parameters()).device
    xs = split.x[idx].to(device)
    _, gates = model.forward_gates(xs) if model.gated else model.forward_activations(xs)
    pattern = torch.cat([(gates[n].cpu()[:, list(k)] > 0).float() for n, k in kept.items()], dim=1)
    inter = pattern @ pattern.T
    size = pattern.sum(1)
    union = size[:, None] + size[None, :] - inter
    jac = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(inter))
    upper = torch.ones_like(jac, dtype=torch.bool).triu(1)
    return float(jac[upper].mean())


def jaccard_coupling(kept: list[dict[str, tuple[int, ...]]]) -> float:
    """Mean Jaccard similarity between the kernel sets of every pair of modules."""
    sets = [{(n, i) for n, idx in k.items() for i in idx} for k in kept]
    sims = [len(a & b) / len(a | b) for i, a in enumerate(sets) for b in sets[i + 1 :]]
    return sum(sims) / len(sims) if sims else 0.0


def krr(kept: dict[str, tuple[int, ...]], widths: dict[str, int]) -> float:
    """Kept units / all units of the layers in `kept` (MwT: maskable kernels, the first conv excluded
    by construction; MODA: ReLU'd conv channels and hidden FC neurons)."""
    return sum(len(v) for v in kept.values()) / sum(widths[n] for n in kept)
