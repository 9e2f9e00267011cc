"""Running sequence networks on padded token batches, and routing translations by language."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nnpm.errors import CompositionError


def trim(x: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Cut the padding columns every row of the batch shares."""
    width = int((x != 0).sum(1).max().clamp_min(1))
    return (x[:, :width], *(o[:, :width] if o.dim() == 2 and o.shape[1] == x.shape[1] else o for o in others))


@torch.no_grad()
def predict(net: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Network outputs for all rows of x, in batches (padding columns trimmed, then restored)."""
    net.eval()
    outs = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size]
        (xt,) = trim(xb)
        out = net(xt)
        if out.dim() == 3 and out.shape[1] < x.shape[1]:
            out = nn.functional.pad(out, (0, 0, 0, x.shape[1] - out.shape[1]))
        outs.append(out)
    return torch.cat(outs)


def strip(ids: list[int], eos: int) -> list[int]:
    return ids[: ids.index(eos)] if eos in ids else ids


@torch.no_grad()
def route(
    modules: Sequence[nn.Module], src: torch.Tensor, languages: list[str], max_len: int, eos_id: int
) -> list[list[int]]:
    """Translate request i into languages[i] with the module that serves that language (greedy decoding)."""
    serving = {lang: m for m in modules for lang in m.languages}
    missing = sorted(set(languages) - set(serving))
    if missing:
        raise CompositionError(
            f"no module serves {', '.join(missing)} (served: {', '.join(sorted(serving))})",
            hint="compose a module for each language you translate into",
        )
    out: list[list[int]] = [[] for _ in languages]
    for lang in sorted(set(languages)):
        rows = [i for i, item in enumerate(languages) if item == lang]
        ids = serving[lang].eval().generate(src[rows], lang, max_len, eos_id)
        for i, row in zip(rows, ids.tolist(), strict=True):
            out[i] = strip(row, eos_id)
    return out
