"""Physical pruning: a module is the same family with smaller widths, sliced from the model's tensors."""

from __future__ import annotations

from dataclasses import replace

import torch

from nnpm.nn.cnn.spec import Conv, conv_input, fc_name, layout
from nnpm.package.manifest import Architecture


def module_architecture(
    model_arch: Architecture,
    kept: dict[str, tuple[int, ...]],
    classes: tuple[int, ...],
    temperature: float,
    score_bias: tuple[float, ...] = (),
) -> Architecture:
    """The module's spec: the model's, with retained kernels (and FC neurons), log-prob output and its
    calibration."""
    params = {
        **model_arch.params,
        "output": "logprob",
        "classes": list(classes),
        "temperature": float(temperature),
    }
    if any(score_bias):
        params["score_bias"] = [float(b) for b in score_bias]
    return replace(model_arch, params=params, retained={k: tuple(v) for k, v in sorted(kept.items())})


def prune_state(
    state: dict[str, torch.Tensor], model_arch: Architecture, module_arch: Architecture
) -> dict[str, torch.Tensor]:
    """Slice each conv's outputs to its kept kernels and inputs to the previous layer's channel set,
    BN statistics and gate generators alike; each FC layer's inputs to the previous layer's kept set
    (the last conv's channels, then the kept hidden neurons) and each hidden FC layer's outputs to its
    kept neurons. The output layer keeps every class."""
    full, mod = layout(model_arch), layout(module_arch)
    if any(len(c) != w for c, w in zip(full.channels, _widths(full), strict=True)):
        raise ValueError("prune_state takes the full modular model's state")
    out: dict[str, torch.Tensor] = {}
    for i, op in enumerate(mod.ops):
        if not isinstance(op, Conv):
            continue
        o = torch.tensor(mod.channels[i], dtype=torch.long)
        n = torch.tensor(conv_input(mod, op), dtype=torch.long)
        pre = f"convs.{op.name}"
        out[f"{pre}.conv.weight"] = state[f"{pre}.conv.weight"][o][:, n]
        for t in ("weight", "bias", "running_mean", "running_var"):
            out[f"{pre}.bn.{t}"] = state[f"{pre}.bn.{t}"][o]
        out[f"{pre}.bn.num_batches_tracked"] = state[f"{pre}.bn.num_batches_tracked"]
        if op.name in mod.gated:
            out[f"{pre}.gen.w1.weight"] = state[f"{pre}.gen.w1.weight"][:, n]
            out[f"{pre}.gen.w2.weight"] = state[f"{pre}.gen.w2.weight"][o]
            out[f"{pre}.gen.w2.bias"] = state[f"{pre}.gen.w2.bias"][o]
    ins = [mod.channels[-1], *mod.hidden_kept()]
    n_fc = len(mod.head) + 1
    for j in range(n_fc):
        i = torch.tensor(ins[j], dtype=torch.long)
        w, b = state[f"{fc_name(j)}.weight"][:, i], state[f"{fc_name(j)}.bias"]
        if j < n_fc - 1:
            o = torch.tensor(mod.hidden_kept()[j], dtype=torch.long)
            w, b = w[o], b[o]
        out[f"{fc_name(j)}.weight"], out[f"{fc_name(j)}.bias"] = w, b
    return {k: v.clone() for k, v in out.items()}


def _widths(lay) -> list[int]:
    """Each op's full channel count (convs: full width; pools/adds: their source's)."""
    widths: list[int] = []
    for i, op in enumerate(lay.ops):
        widths.append(lay.full_width[op.name] if isinstance(op, Conv) else len(lay.channels[i]))
    return widths
