"""Cutting modules: which units belong to which class (MwT's tau rule over training-set gate
frequencies, MODA's over training-set activation rates; both keep unit k for class c iff its
rate on c's samples >= tau), and each class's physically pruned, calibrated module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from nnpm.datasets.splits import LabelledData, Split
from nnpm.errors import InvalidInputError
from nnpm.nn.cnn.model import CNN, build_cnn
from nnpm.nn.cnn.prune import module_architecture, prune_state
from nnpm.nn.cnn.spec import layout
from nnpm.package.manifest import Architecture
from nnpm.science.cnn import evaluate, packaging
from nnpm.science.cnn.calibrate import fit_score_calibration, log_odds
from nnpm.science.cnn.train import predict_logits


@torch.no_grad()
def gate_frequencies(
    model: CNN, split: Split, num_classes: int, batch_size: int = 512
) -> dict[str, torch.Tensor]:
    """{layer: freq [num_classes, C]}: share of each class's samples whose gate on a kernel is > 0.

    Runs in eval mode on the split as given (callers pass the un-augmented training split).
    """
    if not model.gated:
        raise InvalidInputError("the model has no gates: only a modular (MwT) model can be modularized")
    return _class_means(model, model.forward_gates, split, num_classes, batch_size)


@torch.no_grad()
def activation_rates(
    model: CNN, split: Split, num_classes: int, batch_size: int = 512
) -> dict[str, torch.Tensor]:
    """{unit layer: rate [num_classes, C]}: share of each class's samples whose activation on a unit
    (ReLU'd conv channel or hidden FC neuron) is non-zero (MODA). Eval mode, the split as given."""
    return _class_means(model, model.forward_activations, split, num_classes, batch_size, _fired)


@torch.no_grad()
def activation_means(
    model: CNN, split: Split, num_classes: int, batch_size: int = 512
) -> dict[str, torch.Tensor]:
    """{unit layer: mean [num_classes, C]}: each class's mean activation on each unit (a conv
    channel's spatial mean), the weight `heaviest_units` trims by. Eval mode, the split as given."""
    return _class_means(model, model.forward_activations, split, num_classes, batch_size, lambda v: v)


def _fired(values: torch.Tensor) -> torch.Tensor:
    return (values > 0).float()


def _class_means(
    model: CNN, forward, split: Split, num_classes: int, batch_size: int, of=_fired
) -> dict[str, torch.Tensor]:
    """{layer: [num_classes, C]}: each class's mean of `of(value)` on each unit, for a
    `forward(x) -> (logits, {layer: [B, C]})` of non-negative values (gates, post-ReLU activations);
    with `of` = _fired, the share of the class's samples whose value on the unit is > 0."""
    model.eval()
    device = next(model.parameters()).device
    total: dict[str, torch.Tensor] = {}
    for i in range(0, len(split), batch_size):
        _, values = forward(split.x[i : i + batch_size].to(device))
        onehot = F.one_hot(split.y[i : i + batch_size], num_classes).float()
        for name, v in values.items():
            c = onehot.T @ of(v.cpu())
            total[name] = total[name] + c if name in total else c
    counts = torch.bincount(split.y, minlength=num_classes).float().clamp_min(1)
    return {name: f / counts[:, None] for name, f in total.items()}


def kept_for_class(freqs: dict[str, torch.Tensor], cls: int, tau: float) -> dict[str, tuple[int, ...]]:
    """Kernels with freq >= tau per layer; a layer that keeps none lowers tau in steps of 0.05."""
    if not 0 < tau <= 1:
        raise InvalidInputError(f"tau must be in (0, 1], got {tau}", where="--tau")
    kept = {}
    for name, freq in freqs.items():
        f = freq[cls]
        t, step = tau, 0
        idx = torch.nonzero(f >= t).flatten()
        while len(idx) == 0 and t > 0:
            step += 1
            t = round(tau - 0.05 * step, 10)
            idx = torch.nonzero(f >= max(t, 1e-12)).flatten()
        if len(idx) == 0:  # the class never opens a gate here: keep its most frequent kernel
            idx = f.argmax().reshape(1)
        kept[name] = tuple(int(i) for i in idx)
    return kept


def heaviest_units(
    kept: dict[str, tuple[int, ...]], means: dict[str, torch.Tensor], cls: int, mass: float
) -> dict[str, tuple[int, ...]]:
    """`kept` with each conv layer trimmed to the fewest of its channels that carry `mass` of the
    class's mean activation there (hidden FC neurons as they are); mass 1 changes nothing.

    MODA's rule keeps a channel whose spatial mean is non-zero on tau of the class's images, which an
    early edge detector almost always is, however little it adds: so modules keep nearly every early
    channel. The channels trimmed here are not zero, so the module no longer equals the model on its
    class; benchmarks/extraction_mass.py measures what that costs, on validation."""
    if mass >= 1:
        return kept
    out = {}
    for name, idx in kept.items():
        if name.startswith("fc.") or len(idx) <= 1:
            out[name] = idx
            continue
        weight = means[name][cls]
        order = sorted(idx, key=lambda k: -float(weight[k]))
        share = torch.cumsum(weight[order], 0) / weight[order].sum().clamp_min(1e-12)
        count = int(torch.searchsorted(share, torch.tensor(mass * (1 - 1e-9))).item()) + 1
        out[name] = tuple(sorted(order[: min(count, len(order))]))
    return out


def module_masks(kept: dict[str, tuple[int, ...]], widths: dict[str, int]) -> dict[str, torch.Tensor]:
    """0/1 kernel masks per layer: what the modular model computes inside one module."""
    masks = {}
    for name, idx in kept.items():
        m = torch.zeros(widths[name])
        m[list(idx)] = 1.0
        masks[name] = m
    return masks


def parameter_count(network: torch.nn.Module) -> int:
    """Trainable tensors' elements (gates and heads included, BN running statistics not): the
    size a module is compared with its model by."""
    return sum(p.numel() for p in network.parameters())


@dataclass
class ExtractedModule:
    """One class's module: its kept units, spec, sliced weights, the built network and its size."""

    cls: int
    class_name: str
    kept: dict[str, tuple[int, ...]]
    arch: Architecture
    state: dict[str, torch.Tensor]
    network: CNN
    krr: float
    temperature: float
    score_bias: float = 0.0
    parameters: int = 0
    confusers: tuple[str, ...] = ()  # classes whose units the module also keeps (negative evidence)


def extract_modules(
    model: CNN | str | Path,
    data: LabelledData,
    tau: float = 0.9,
    *,
    model_arch: Architecture | None = None,
    classes: list[int] | None = None,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    max_confusers: int = 0,
    mass: float = 1.0,
) -> list[ExtractedModule]:
    """Cut one physically pruned module per class out of a modular model (a CNN or a package dir).

    Gate frequencies (MwT, a gated model) or activation rates (MODA, an ungated model: ReLU'd conv
    channels and hidden FC neurons) come from the training split in eval mode without augmentation;
    each module keeps its gates (if any) sliced to its units, and its temperature and log-odds bias are
    fitted on the validation split for its one-vs-rest score (nnpm.science.cnn.calibrate).
    The forwards run on `device`; the modules' networks stay there, their weights (`state`) on CPU.

    max_confusers > 0 adds negative evidence: a module keeps only the units its class fires, so it
    cannot reject a look-alike class whose telling units it cut (docs/cnn.md measures it on digits
    3, 8 and 9). Up to that many times, the module also keeps the units of the other class that raises
    its validation AUC the most, when that is by CONFUSER_GAIN or more.

    mass < 1 (MODA only) trims each module's conv channels to the heaviest (heaviest_units).
    """
    if not isinstance(model, CNN):
        manifest, model = packaging.load_package(Path(model))
        model_arch = manifest.architecture
    if model_arch is None:
        raise InvalidInputError("extract_modules needs model_arch for a torch model")
    model = model.to(device).eval()
    lay = layout(model_arch)
    if not 0 < mass <= 1:
        raise InvalidInputError(f"mass must be a share in (0, 1], got {mass}", where="--mass")
    if mass < 1 and model.gated:
        raise InvalidInputError("mass trims MODA's activation rule; a gated (MwT) model is cut by its gates",
                                where="--mass", hint="drop --mass, or modularize with --method moda")  # fmt: skip
    rates = gate_frequencies if model.gated else activation_rates
    freqs = rates(model, data.train, len(data.classes), batch_size)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    means = activation_means(model, data.train, len(data.classes), batch_size) if mass < 1 else {}
    own = {  # each class's units, once
        c: heaviest_units(kept_for_class(freqs, c, tau), means, c, mass) for c in range(len(data.classes))
    }
    out = []
    for cls in classes if classes is not None else range(len(data.classes)):
        kept = own[cls]
        net, val_logits = _cut(state, model_arch, kept, cls, data.val, batch_size, device)
        confusers: list[int] = []
        for _ in range(max_confusers):
            widened = _widen(own, kept, val_logits, cls, state, model_arch, data.val, batch_size, device)
            if widened is None:
                break
            other, kept, net, val_logits = widened
            confusers.append(other)
        temperature, bias = fit_score_calibration(val_logits, data.val.y, cls)
        arch = module_architecture(model_arch, kept, (cls,), temperature, (bias,))
        net.temperature, net.score_bias = temperature, (bias,)
        krr = evaluate.krr(kept, lay.full_width)
        out.append(ExtractedModule(cls, data.classes[cls], kept, arch, prune_state(state, model_arch, arch),
                                   net.eval(), krr, temperature, bias, parameter_count(net),
                                   tuple(data.classes[c] for c in confusers)))  # fmt: skip
    return out


#: the least rise of a module's validation AUC that buys a confuser's units (kept otherwise out)
CONFUSER_GAIN = 0.005


def _cut(state, model_arch: Architecture, kept, cls: int, val: Split, batch_size: int, device):
    """The module network keeping `kept`, and its logits on the validation split."""
    arch = module_architecture(model_arch, kept, (cls,), 1.0)
    net = build_cnn(arch)
    net.load_state_dict(prune_state(state, model_arch, arch))
    net.to(device)
    return net, predict_logits(net.eval(), val.x, batch_size)


def separation(logits: torch.Tensor, labels: torch.Tensor, cls: int) -> float:
    """ROC AUC of the module's log-odds for `cls` against all other classes (Mann-Whitney, ties
    counted half): how well its own score tells its class from the rest, whatever its calibration."""
    odds = log_odds(logits.double(), cls)
    pos, neg = odds[labels == cls], odds[labels != cls]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).double().mean()
    ties = (pos[:, None] == neg[None, :]).double().mean()
    return float(greater + ties / 2)


def _widen(own, kept, logits, cls: int, state, model_arch, val: Split, batch_size: int, device):
    """(class, kept units, network, validation logits) widened by the units of the other class that
    raises the module's validation AUC the most, or None when no class raises it by CONFUSER_GAIN."""
    base = separation(logits, val.y, cls)
    best = None
    for other, extra in own.items():
        if other == cls or not bool((val.y == other).any()):
            continue
        wider = {name: tuple(sorted(set(idx) | set(extra.get(name, ())))) for name, idx in kept.items()}
        if wider == kept:
            continue
        net, wider_logits = _cut(state, model_arch, wider, cls, val, batch_size, device)
        gain = separation(wider_logits, val.y, cls) - base
        if gain >= CONFUSER_GAIN and (best is None or gain > best[0]):
            best = (gain, other, wider, net, wider_logits)
    return None if best is None else best[1:]
