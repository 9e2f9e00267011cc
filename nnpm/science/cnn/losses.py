"""MwT's cohesion and coupling losses over per-sample gate vectors (science.md section 1), and MODA's
affinity, dispersion and compactness over per-sample activation vectors (science.md section 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nnpm.nn.cnn.spec import Layout, multiply_adds, unit_layers

_EPS = 1e-12  # as F.normalize: a gate vector of zeros has similarity 0 with everything


def layer_losses(gates: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(cohesion, coupling) of one layer's gates [B, C]: the definition, written as science.md states it.

    Rows are L2-normalised; S_ij is the cosine similarity for pairs i < j. cohesion = 1 -
    mean S over same-label pairs, coupling = mean S over different-label pairs. A batch
    without such pairs contributes 0 to that term, so the loss never becomes NaN.
    """
    m = F.normalize(gates, dim=1, eps=_EPS)
    sim = m @ m.T
    upper = torch.ones_like(sim, dtype=torch.bool).triu(1)
    same = (labels[:, None] == labels[None, :]) & upper
    diff = (labels[:, None] != labels[None, :]) & upper
    zero = sim.new_zeros(())
    cohesion = 1 - sim[same].mean() if same.any() else zero
    coupling = sim[diff].mean() if diff.any() else zero
    return cohesion, coupling


def mwt_losses(gates: dict[str, torch.Tensor], labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cohesion and coupling averaged over every masked layer, in one matrix product.

    Equal to the mean of `layer_losses` over the layers, but computed the way training can
    afford it: every layer's rows are normalised on their own and concatenated, so one Gram
    matrix holds the sum over layers of the per-layer cosine similarities. Every layer has
    the same pairs, so dividing that sum by the layer count gives the layer average. On a
    narrow network this removes most of the per-layer overhead the losses add to a step.
    """
    if not gates:
        zero = labels.new_zeros((), dtype=torch.float32)
        return zero, zero
    layers = list(gates.values())
    sizes = torch.tensor([g.shape[1] for g in layers], device=labels.device)
    seg = torch.repeat_interleave(torch.arange(len(layers), device=labels.device), sizes)
    g = torch.cat(layers, dim=1)
    sq = g.new_zeros(g.shape[0], len(layers)).index_add_(1, seg, g * g)
    m = g / sq.clamp_min(_EPS * _EPS).sqrt()[:, seg]  # clamp before sqrt: no inf gradient at 0
    sim = m @ m.T
    upper = torch.ones_like(sim, dtype=torch.bool).triu(1)
    same_label = labels[:, None] == labels[None, :]
    same, diff = (same_label & upper).to(sim.dtype), (~same_label & upper).to(sim.dtype)
    n_same, n_diff = same.sum(), diff.sum()
    zero = sim.new_zeros(())
    cohesion = 1 - (sim * same).sum() / (n_same * len(layers)) if n_same > 0 else zero
    coupling = (sim * diff).sum() / (n_diff * len(layers)) if n_diff > 0 else zero
    return cohesion, coupling


COMPACTNESS = ("layers", "macs", "cost")  # how MODA's compactness weighs its layers (TrainConfig.compactness)


def compactness_weights(lay: Layout, scheme: str) -> dict[str, float] | None:
    """Per unit layer, its weight in the compactness term; None for MODA's plain mean over layers.

    "macs" weighs each layer by its share of the unit layers' multiply-adds (a conv's own, a
    hidden FC layer's); "cost" by the mean of that share and its share of their parameters.
    Weights sum to 1, as the plain mean's do. MODA's mean gives a 28x28 conv of 8 channels the
    pull of a 1x1 one of 64: measured here, the early high-resolution channels then stay in every
    module and a two-class union keeps two thirds of the model's arithmetic (docs/cnn.md), while
    the late wide layers hold most of the parameters. Weighing by cost puts the pressure where a
    module's size and a composite's forward are spent.
    """
    if scheme == "layers":
        return None
    macs = multiply_adds(lay)
    names = unit_layers(lay)
    size = {op.name: lay.sizes[i] ** 2 for i, op in enumerate(lay.ops) if getattr(op, "name", None) in names}
    mac_share = _shares({n: macs[n] for n in names})
    if scheme == "macs":
        return mac_share
    param_share = _shares({n: macs[n] / size.get(n, 1) for n in names})
    return {n: (mac_share[n] + param_share[n]) / 2 for n in names}


def _shares(values: dict[str, float]) -> dict[str, float]:
    total = sum(values.values())
    return {name: v / total for name, v in values.items()}


def moda_losses(
    activations: dict[str, torch.Tensor], labels: torch.Tensor, weights: dict[str, float] | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(affinity, dispersion, compactness) averaged over layers (MODA).

    affinity = 1 - mean cosine similarity of the activation rows over same-label pairs and
    dispersion = mean cosine similarity over different-label pairs: the same arithmetic as MwT's
    cohesion and coupling, applied to activations instead of gates. compactness = mean |activation|
    of a layer (L1 norm / number of entries), which drives activations to exact zeros; averaged
    over layers, or summed with `weights` (compactness_weights).
    """
    affinity, dispersion = mwt_losses(activations, labels)
    if not activations:
        return affinity, dispersion, affinity
    if weights is None:
        compactness = torch.stack([a.abs().mean() for a in activations.values()]).mean()
    else:
        compactness = sum(weights[name] * a.abs().mean() for name, a in activations.items())
    return affinity, dispersion, compactness
