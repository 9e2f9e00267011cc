"""Decomposing a trained RNN classifier or tagger into one module per class (science.md section 2).

Concern identification (`concern.py`): for class c, positives (label c) and negatives (spread evenly
over the other classes) are drawn with a seed from a pool of training sequences; |h| of every unit of
every layer is recorded (at the last real token for many-to-one; at every output step for
many-to-many); per unit a MAD-filtered mean is taken; units with mu_pos - mu_neg < 0 are removed, most
negative first, up to `cap` of each layer. All statistics are batched tensor operations.

How many sequences are read and which cap applies are chosen from the data (`select.py`): counted
per class for classification, and the cap chosen on the validation split unless one is given.

Removal is physical: the module is a smaller standard torch RNN (see `prune`; `zero_units` builds the
full-size equivalent with those units zeroed, for the equality test). With fill "mean" a removed unit
is held at its mean output instead of 0, which folds exactly into the biases it fed.

Output channeling: the module's head scores z = w_c.h - mean of the other classes' rows ("paper"),
then, in mode "refit" (ours, the default), the 1-way head is refit on training positions (to the
labels, or with refit_target "model" to the model's own p(class)) and Platt-calibrated on validation
positions, so log sigmoid(z) is a calibrated log p(positive) that is comparable across modules. Mode
"paper" keeps the reported rolled method: for many-to-many it identifies units at each sequence's
last step only and scores with the uncalibrated channel.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from nnpm.datasets.text import IGNORE, TextData, TextSplit
from nnpm.errors import ArchitectureError, DataError
from nnpm.nn.rnn.model import SequenceNet, layer_weights
from nnpm.progress import NULL, Progress
from nnpm.science.rnn import select as sel
from nnpm.science.rnn.concern import (  # noqa: F401  (part of this module's API)
    activations,
    choose_kept,
    kept_by_cap,
    relevance,
    robust_mean,
    sample_concern,
)
from nnpm.science.rnn.heads import calibrated, fit_logistic, platt
from nnpm.science.rnn.select import pool_index  # noqa: F401  (re-exported)
from nnpm.science.rnn.train import accuracy, accuracy_of, predict, trim

MODES = ("refit", "paper")
FILLS = ("zero", "mean")  #: what a removed unit is replaced by (folded into the biases it fed)
TARGETS = ("labels", "model")  #: what the refit fits: the true labels, or the model's own p(class)
DEFAULT_CAP = 0.2  # the removal cap the paper states; its code mostly used 0.05
TRANSLATE_DEFAULT_CAP = 0.05  # decoders lose BLEU quickly beyond it (docs/rnn.md)


@dataclass(frozen=True)
class DecomposeConfig:
    """cap None: chosen on validation from cap_grid (`select.choose_cap`); pool / refit_sequences None:
    the task's defaults (`select.draw`: fixed totals for tagging, per_class per class for classification)."""

    mode: str = "refit"
    cap: float | None = None
    positives: int = 500
    pool: int | None = None
    refit_sequences: int | None = None
    per_class: int = sel.DEFAULT_PER_CLASS
    cap_grid: tuple[float, ...] = sel.CAP_GRID
    tolerance: float = sel.CAP_TOLERANCE
    fill: str = "zero"
    refit_target: str = "labels"
    mad: float = 2.0
    seed: int = 0


def recorded(config: DecomposeConfig) -> dict:
    """The config as a manifest can hold it (TOML has no null; tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items() if v is not None}


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
    cap: float = DEFAULT_CAP
    choice: dict = field(default_factory=dict)  #: how the cap was chosen, and the sequences read


# --- physical removal --------------------------------------------------------------------------------


def _rows(keep: torch.Tensor, size: int, g: int) -> torch.Tensor:
    return torch.cat([keep + j * size for j in range(g)])


def dropped(values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """`values` with the kept units' entries zeroed: W @ dropped(m, keep) is what the removed units,
    held at m, add to W's outputs."""
    out = values.clone()
    out[keep] = 0
    return out


def slice_stack(
    stack, keep: list[torch.Tensor], input_keep: torch.Tensor | None = None, fill: list | None = None
) -> dict[str, torch.Tensor]:
    """State dict of the stack reduced to the kept units of each layer (gate rows, recurrent rows and
    columns, biases, and the next layer's input columns).

    fill: per layer, the constant each removed unit is held at instead of 0; what it fed (recurrent
    input of its layer, input of the next) is folded into bias_hh / bias_ih. Exact for all three cells:
    torch's GRU applies the reset gate to W_hn h + b_hn, so b_hn takes the recurrent part as it should."""
    out, prev = {}, input_keep
    for i, (layer, kp) in enumerate(zip(stack.layers, keep, strict=True)):
        w_ih, w_hh, b_ih, b_hh = (t.detach() for t in layer_weights(layer))
        size = w_hh.shape[1]
        rows = _rows(kp, size, w_ih.shape[0] // size)
        b_ih, b_hh = b_ih[rows].clone(), b_hh[rows].clone()
        if fill is not None:
            b_hh += w_hh[rows] @ dropped(fill[i], kp)
            if i > 0:
                b_ih += w_ih[rows] @ dropped(fill[i - 1], keep[i - 1])
        w_ih = w_ih[rows] if prev is None else w_ih[rows][:, prev]
        out[f"{i}.weight_ih_l0"] = w_ih.clone()
        out[f"{i}.weight_hh_l0"] = w_hh[rows][:, kp].clone()
        out[f"{i}.bias_ih_l0"] = b_ih
        out[f"{i}.bias_hh_l0"] = b_hh
        prev = kp
    return out


def prune(
    net: SequenceNet, keep: list[torch.Tensor], head: nn.Linear | None = None, output: str | None = None,
    fill: list | None = None,
) -> SequenceNet:  # fmt: skip
    """A smaller standard network holding only the kept units (same embedding object).

    head: a replacement head over the kept last-layer units; default: the source head's columns (with
    fill, the removed units' share folded into its bias). fill: see `slice_stack`."""
    sizes = [len(k) for k in keep]
    if any(s == 0 for s in sizes):
        raise ArchitectureError("a module must keep at least one unit per layer")
    head_w = net.head.weight.detach()[:, keep[-1]] if head is None else head.weight.detach()
    head_b = net.head.bias.detach() if head is None else head.bias.detach()
    if head is None and fill is not None:
        head_b = head_b + net.head.weight.detach() @ dropped(fill[-1], keep[-1])
    small = SequenceNet(
        net.embedding, net.rnn.cell, sizes, head_w.shape[0], net.per_step, output or net.output
    )
    state = {f"rnn.layers.{k}": v for k, v in slice_stack(net.rnn, keep, fill=fill).items()}
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


def channel_head(net: SequenceNet, cls: int, keep_last: torch.Tensor, shift=None) -> nn.Linear:
    """The paper's channel: positive = the class's row, negative = mean of the other rows; z = pos - neg.
    shift: what the removed units' constant outputs add to every logit (fill "mean"), folded into b."""
    w, b = net.head.weight.detach()[:, keep_last], net.head.bias.detach()
    b = b if shift is None else b + shift
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


# --- the whole decomposition -----------------------------------------------------------------------


def decompose(
    net: SequenceNet, data: TextData, config: DecomposeConfig = DecomposeConfig(), *,
    classes: list[int] | None = None, reporter: Progress = NULL,
) -> Decomposition:  # fmt: skip
    """One module per class (or per class in `classes`), each a pruned SequenceNet returning log p(positive).

    With config.cap None the cap is chosen on the validation split from every class's modules (it is a
    choice per model), then the modules of `classes` are returned."""
    if config.mode not in MODES:
        raise ArchitectureError(f"unknown decomposition mode {config.mode!r} (known: {', '.join(MODES)})")
    for value, known in ((config.fill, FILLS), (config.refit_target, TARGETS)):
        if value not in known:
            raise ArchitectureError(f"unknown setting {value!r}", hint=f"one of: {', '.join(known)}")
    sel.check(config.cap, config.cap_grid, config.tolerance, config.per_class)
    # the cap is chosen on the composite of every class's module, so then every class needs examples
    check_examples(data, range(len(data.classes)) if config.cap is None else classes)
    t0 = time.perf_counter()
    net.eval()
    gen = torch.Generator().manual_seed(config.seed)
    last_only = config.mode == "paper" and net.per_step
    drawn = sel.draw(data, config.pool, config.refit_sequences, config.per_class, config.seed)
    acts, labels, means = activations(net, data.train, drawn.pool, last_only)
    fill = means if config.fill == "mean" else None
    teacher = None
    if config.mode == "refit" and config.refit_target == "model":  # distillation: the model's p(class)
        feats, _ = last_features(net, data.train, drawn.refit)
        teacher = torch.softmax(net.head(feats), -1).detach()
    concerns = []
    for c in range(len(data.classes)):
        pos, neg = sample_concern(labels, c, config.positives, gen)
        concerns.append(
            (relevance(acts, pos, neg, config.mad), {"positives": len(pos), "negatives": len(neg)})
        )
    wanted = list(range(len(data.classes))) if classes is None else classes

    def build(cap: float, which: list[int]) -> list[ModuleResult]:
        reporter.start(len(which), f"decompose (cap {cap})", unit="module")
        out = []
        for c in which:
            keep = kept_by_cap(concerns[c][0], net.rnn.sizes, cap)
            out.append(_module(net, data, c, keep, concerns[c][1], config, drawn, fill, teacher))
            reporter.advance(1)
        reporter.done()
        return out

    if config.cap is not None:
        cap, modules, choice = config.cap, build(config.cap, wanted), {"cap": config.cap, "rule": "given"}
    else:
        everyone = list(range(len(data.classes)))
        cap, modules, choice = sel.choose_cap(
            lambda cap: build(cap, everyone), lambda mods: composed_accuracy(mods, data.val),
            accuracy(net, data.val), config.cap_grid, config.tolerance,
        )  # fmt: skip
        modules = [modules[c] for c in wanted]
    choice["sequences"] = drawn.sizes()
    return Decomposition(modules, time.perf_counter() - t0, config, cap, choice)


def check_examples(data: TextData, classes=None) -> None:
    """Refuse to decompose a class (of `classes`, default all) that has no training example: its module
    would be cut from statistics of nothing. One line naming every such class (a translator's classes are
    its target languages, counted by training pairs)."""
    y = (data.train.group if data.task == "translate" else data.train.y).flatten()
    counts = torch.bincount(y[y != IGNORE], minlength=len(data.classes))
    which = range(len(data.classes)) if classes is None else classes
    empty = [data.classes[c] for c in which if int(counts[c]) == 0]
    if empty:
        raise DataError(f"no training example of {len(empty)} class(es): {', '.join(empty)}", where=data.name,
                        hint="nnpm writes no module for a class it never saw: retrain on data with examples of "
                        "them, or give --cap and --classes without them")  # fmt: skip


def _module(net: SequenceNet, data: TextData, c: int, keep, samples: dict, config: DecomposeConfig,
            drawn: sel.Draw, fill=None, teacher=None) -> ModuleResult:  # fmt: skip
    shift = None if fill is None else net.head.weight.detach() @ dropped(fill[-1], keep[-1])
    head = channel_head(net, c, keep[-1], shift)
    module = prune(net, keep, head, output="log-positive", fill=fill)
    if config.mode == "refit":
        target = None if teacher is None else teacher[:, c]
        module.head = _refit(module, head, data, c, drawn.refit, drawn.calibration, target)
    return ModuleResult(data.classes[c], c, module, keep, dict(samples))


def _refit(module: SequenceNet, head: nn.Linear, data: TextData, c: int, refit_set, calib_set,
           target: torch.Tensor | None = None) -> nn.Linear:  # fmt: skip
    """Refit the module's 1-way head on training positions (to the labels, or to `target`, the model's
    own p(class) at the same positions), then Platt-calibrate it on validation ones (true labels)."""
    x, y = last_features(module, data.train, refit_set)
    fitted = fit_logistic(x, (y == c).float() if target is None else target, head)
    xv, yv = last_features(module, data.val, calib_set)
    with torch.no_grad():
        z = fitted(xv).squeeze(-1)
    return calibrated(fitted, *platt(z, (yv == c).float()))


def composed_accuracy(modules: list[ModuleResult], split: TextSplit) -> float:
    """Accuracy of the composite of `modules` (all classes) on `split`'s non-padding positions."""
    index = torch.tensor([m.index for m in modules])
    return accuracy_of(index[compose_predict([m.net for m in modules], split.x)], split.y)


# --- composition -------------------------------------------------------------------------------------


@torch.no_grad()
def compose_scores(modules: list[nn.Module], x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Each module's log p(positive) side by side: [N, sum k] (classify) or [N, T, sum k] (tag)."""
    return torch.cat([predict(m, x, batch_size) for m in modules], -1)


def compose_predict(modules: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Index (into the concatenation of the modules' classes) of the most probable class, per sequence
    or per time step: the composite of modules."""
    return compose_scores(modules, x).argmax(-1)
