"""Decomposing a trained RNN classifier or tagger into one module per class (science.md section 2).

Concern identification: for class c, positives (label c) and negatives (spread evenly over the other
classes) are drawn with a seed from a genre/label-stratified pool of training sequences; |h| of every
unit of every layer is recorded (at the last real token for many-to-one; at every output step for
many-to-many); per unit a MAD-filtered mean is taken; units with mu_pos - mu_neg < 0 are removed, most
negative first, up to `cap` of each layer. All statistics are batched tensor operations.

Removal is physical: the module is a smaller standard torch RNN (see `prune`; `zero_units` builds the
full-size equivalent with those units zeroed, for the equality test).

Output channeling: the module's head scores z = w_c.h - mean of the other classes' rows ("paper"),
then, in mode "refit" (ours, the default), the 1-way head is refit on training positions and
Platt-calibrated on validation positions, so log sigmoid(z) is a calibrated log p(positive) that
is comparable across modules. Mode "paper" keeps the reported rolled method: for many-to-many it
identifies units at each sequence's last step only and scores with the uncalibrated channel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from nnpm.datasets.splits import stratified_split
from nnpm.datasets.text import IGNORE, TextData, TextSplit
from nnpm.errors import ArchitectureError
from nnpm.nn.rnn.model import SequenceNet, layer_weights
from nnpm.progress import NULL, Progress
from nnpm.science.rnn.train import predict, trim

MODES = ("refit", "paper")
DEFAULT_CAP = 0.2  # the removal cap the paper states; its code mostly used 0.05
TRANSLATE_DEFAULT_CAP = 0.05  # decoders lose BLEU quickly beyond it (docs/rnn.md)


@dataclass(frozen=True)
class DecomposeConfig:
    mode: str = "refit"
    cap: float = DEFAULT_CAP
    positives: int = 500
    pool: int = 2000
    refit_sequences: int = 1000
    mad: float = 2.0
    seed: int = 0


@dataclass
class ModuleResult:
    cls: str
    index: int
    net: SequenceNet
    keep: list[torch.Tensor]
    samples: dict = field(default_factory=dict)


@dataclass
class Decomposition:
    modules: list[ModuleResult]
    seconds: float
    config: DecomposeConfig


# --- statistics ----------------------------------------------------------------------------------------


def robust_mean(values: torch.Tensor, k: float = 2.0) -> torch.Tensor:
    """Per column of [N, H]: mean of the values within k median-absolute-deviations of the median."""
    med = values.median(0).values
    dev = (values - med).abs()
    mad = dev.median(0).values
    keep = (dev <= k * mad).float()
    return (values * keep).sum(0) / keep.sum(0).clamp_min(1.0)


def pool_index(split: TextSplit, n: int, seed: int) -> torch.Tensor:
    """A seeded subset of `n` sequences, stratified by the split's group (genre or label)."""
    if n >= len(split):
        return torch.arange(len(split))
    return stratified_split(split.group, n / len(split), seed)[1]


@torch.no_grad()
def activations(net: SequenceNet, split: TextSplit, index: torch.Tensor, last_only: bool):
    """|h| per layer at the scored positions of the chosen sequences, with those positions' labels.

    Many-to-many: every non-padding step ([P, H_l], labels [P]); many-to-one or last_only: each
    sequence's last real token ([N, H_l], labels [N])."""
    feats = [[] for _ in net.rnn.sizes]
    labels = []
    for start in range(0, len(index), 256):
        idx = index[start : start + 256]
        x, y = trim(split.x[idx], split.y[idx])
        layers = net.features(x)
        lengths = (x != 0).sum(1).clamp_min(1)
        if last_only or y.dim() == 1:
            rows = torch.arange(x.shape[0])
            sel = [h[rows, lengths - 1] for h in layers]
            lab = y if y.dim() == 1 else y[rows, lengths - 1]
        else:
            valid = y != IGNORE
            sel = [h[valid] for h in layers]
            lab = y[valid]
        for store, h in zip(feats, sel, strict=True):
            store.append(h.abs())
        labels.append(lab)
    return [torch.cat(f) for f in feats], torch.cat(labels)


def sample_concern(
    labels: torch.Tensor, cls: int, n_pos: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded positives (label cls, at most n_pos) and negatives spread evenly over the other labels."""
    pos = torch.nonzero(labels == cls).flatten()
    pos = pos[torch.randperm(len(pos), generator=gen)[:n_pos]]
    others = [int(c) for c in torch.unique(labels).tolist() if c != cls]
    per = max(1, n_pos // max(1, len(others)))
    neg = []
    for c in others:
        idx = torch.nonzero(labels == c).flatten()
        neg.append(idx[torch.randperm(len(idx), generator=gen)[:per]])
    return pos, torch.cat(neg) if neg else pos[:0]


def choose_kept(acts: list[torch.Tensor], pos, neg, cap: float, k: float) -> list[torch.Tensor]:
    """Per layer, sorted indices of the units kept: those with negative relevance are removed, most
    negative first, at most floor(cap * size) of them; with no positives, every unit is kept."""
    kept = []
    for h in acts:
        size = h.shape[1]
        if len(pos) == 0 or len(neg) == 0:
            kept.append(torch.arange(size))
            continue
        d = robust_mean(h[pos], k) - robust_mean(h[neg], k)
        n_remove = min(int((d < 0).sum()), int(cap * size), size - 1)
        removed = torch.argsort(d)[:n_remove]
        mask = torch.ones(size, dtype=torch.bool)
        mask[removed] = False
        kept.append(torch.nonzero(mask).flatten())
    return kept


# --- physical removal --------------------------------------------------------------------------------


def _rows(keep: torch.Tensor, size: int, g: int) -> torch.Tensor:
    return torch.cat([keep + j * size for j in range(g)])


def slice_stack(
    stack, keep: list[torch.Tensor], input_keep: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """State dict of the stack reduced to the kept units of each layer (gate rows, recurrent rows and
    columns, biases, and the next layer's input columns)."""
    out, prev = {}, input_keep
    for i, (layer, kp) in enumerate(zip(stack.layers, keep, strict=True)):
        w_ih, w_hh, b_ih, b_hh = (t.detach() for t in layer_weights(layer))
        size = w_hh.shape[1]
        rows = _rows(kp, size, w_ih.shape[0] // size)
        w_ih = w_ih[rows] if prev is None else w_ih[rows][:, prev]
        out[f"{i}.weight_ih_l0"] = w_ih.clone()
        out[f"{i}.weight_hh_l0"] = w_hh[rows][:, kp].clone()
        out[f"{i}.bias_ih_l0"] = b_ih[rows].clone()
        out[f"{i}.bias_hh_l0"] = b_hh[rows].clone()
        prev = kp
    return out


def prune(
    net: SequenceNet, keep: list[torch.Tensor], head: nn.Linear | None = None, output: str | None = None
) -> SequenceNet:
    """A smaller standard network holding only the kept units (same embedding object).

    head: a replacement head over the kept last-layer units; default: the source head's columns."""
    sizes = [len(k) for k in keep]
    if any(s == 0 for s in sizes):
        raise ArchitectureError("a module must keep at least one unit per layer")
    head_w = net.head.weight.detach()[:, keep[-1]] if head is None else head.weight.detach()
    head_b = net.head.bias.detach() if head is None else head.bias.detach()
    small = SequenceNet(
        net.embedding, net.rnn.cell, sizes, head_w.shape[0], net.per_step, output or net.output
    )
    state = {f"rnn.layers.{k}": v for k, v in slice_stack(net.rnn, keep).items()}
    state.update({"head.weight": head_w.clone(), "head.bias": head_b.clone()})
    small.load_state_dict(state)
    return small.eval()


def zero_units(net: SequenceNet, keep: list[torch.Tensor]) -> SequenceNet:
    """Full-size copy in which every removed unit's gate rows, biases, recurrent row and column and
    outgoing weights are zero: it outputs exactly 0 at every step, like a physically removed unit."""
    full = SequenceNet(
        net.embedding, net.rnn.cell, net.rnn.sizes, net.head.out_features, net.per_step, net.output
    )
    full.load_state_dict(net.state_dict())
    with torch.no_grad():
        for i, (layer, kp) in enumerate(zip(full.rnn.layers, keep, strict=True)):
            size = layer.weight_hh_l0.shape[1]
            drop = torch.ones(size, dtype=torch.bool)
            drop[kp] = False
            drop_idx = torch.nonzero(drop).flatten()
            rows = _rows(drop_idx, size, layer.weight_ih_l0.shape[0] // size)
            for t in layer_weights(layer):
                t[rows] = 0
            layer.weight_hh_l0[:, drop_idx] = 0
            nxt = full.rnn.layers[i + 1].weight_ih_l0 if i + 1 < len(keep) else full.head.weight
            nxt[:, drop_idx] = 0
    return full.eval()


# --- output channeling -------------------------------------------------------------------------------


def channel_head(net: SequenceNet, cls: int, keep_last: torch.Tensor) -> nn.Linear:
    """The paper's channel: positive = the class's row, negative = mean of the other rows; z = pos - neg."""
    w, b = net.head.weight.detach()[:, keep_last], net.head.bias.detach()
    others = [i for i in range(w.shape[0]) if i != cls]
    head = nn.Linear(w.shape[1], 1)
    with torch.no_grad():
        head.weight.copy_((w[cls] - w[others].mean(0)).unsqueeze(0))
        head.bias.copy_((b[cls] - b[others].mean()).reshape(1))
    return head


@torch.no_grad()
def last_features(
    net: SequenceNet, split: TextSplit, index: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The last layer's outputs at the scored positions (raw, not |h|) and their labels."""
    feats, labels = [], []
    for start in range(0, len(index), 256):
        idx = index[start : start + 256]
        x, y = trim(split.x[idx], split.y[idx])
        h = net.features(x)[-1]
        if y.dim() == 1:
            lengths = (x != 0).sum(1).clamp_min(1)
            feats.append(h[torch.arange(x.shape[0]), lengths - 1])
            labels.append(y)
        else:
            valid = y != IGNORE
            feats.append(h[valid])
            labels.append(y[valid])
    return torch.cat(feats), torch.cat(labels)


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


# --- the whole decomposition -----------------------------------------------------------------------


def decompose(
    net: SequenceNet, data: TextData, config: DecomposeConfig = DecomposeConfig(), *,
    classes: list[int] | None = None, reporter: Progress = NULL,
) -> Decomposition:  # fmt: skip
    """One module per class (or per class in `classes`), each a pruned SequenceNet returning log p(positive)."""
    if config.mode not in MODES:
        raise ArchitectureError(f"unknown decomposition mode {config.mode!r} (known: {', '.join(MODES)})")
    t0 = time.perf_counter()
    net.eval()
    gen = torch.Generator().manual_seed(config.seed)
    last_only = config.mode == "paper" and net.per_step
    acts, labels = activations(net, data.train, pool_index(data.train, config.pool, config.seed), last_only)
    refit_set = calib_set = None
    if config.mode == "refit":
        refit_set = pool_index(data.train, config.refit_sequences, config.seed + 11)
        calib_set = pool_index(data.val, config.refit_sequences, config.seed + 12)
    wanted = list(range(len(data.classes))) if classes is None else classes
    reporter.start(len(wanted), "decompose", unit="module")
    modules = []
    for c in wanted:
        pos, neg = sample_concern(labels, c, config.positives, gen)
        keep = choose_kept(acts, pos, neg, config.cap, config.mad)
        head = channel_head(net, c, keep[-1])
        module = prune(net, keep, head, output="log-positive")
        if config.mode == "refit":
            module.head = _refit(module, head, data, c, refit_set, calib_set)
        modules.append(
            ModuleResult(data.classes[c], c, module, keep, {"positives": len(pos), "negatives": len(neg)})
        )
        reporter.advance(1)
    reporter.done()
    return Decomposition(modules, time.perf_counter() - t0, config)


def _refit(module: SequenceNet, head: nn.Linear, data: TextData, c: int, refit_set, calib_set) -> nn.Linear:
    """Refit the module's 1-way head on training positions, then Platt-calibrate it on validation ones."""
    x, y = last_features(module, data.train, refit_set)
    fitted = fit_logistic(x, (y == c).float(), head)
    xv, yv = last_features(module, data.val, calib_set)
    with torch.no_grad():
        z = fitted(xv).squeeze(-1)
    return calibrated(fitted, *platt(z, (yv == c).float()))


# --- composition -------------------------------------------------------------------------------------


@torch.no_grad()
def compose_scores(modules: list[nn.Module], x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Each module's log p(positive) side by side: [N, sum k] (classify) or [N, T, sum k] (tag)."""
    return torch.cat([predict(m, x, batch_size) for m in modules], -1)


def compose_predict(modules: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Index (into the concatenation of the modules' classes) of the most probable class, per sequence
    or per time step: the composite of modules."""
    return compose_scores(modules, x).argmax(-1)
