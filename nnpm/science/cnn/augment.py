"""Batched training augmentation: random integer shifts and horizontal flips, no per-sample loop."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, shift: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Shift every image by its own (dy, dx) in [-shift, shift] (zero fill), flip half of them."""
    b, _, h, w = x.shape
    if shift > 0:
        pad = F.pad(x, [shift] * 4)
        dy = torch.randint(0, 2 * shift + 1, (b,), generator=gen)
        dx = torch.randint(0, 2 * shift + 1, (b,), generator=gen)
        rows = (torch.arange(h)[None, :] + dy[:, None]).to(x.device)
        cols = (torch.arange(w)[None, :] + dx[:, None]).to(x.device)
        bi = torch.arange(b, device=x.device)[:, None, None]
        x = pad.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()
    if flip:
        which = (torch.rand(b, generator=gen) < 0.5).to(x.device)
        x = torch.where(which[:, None, None, None], x.flip(3), x)
    return x
