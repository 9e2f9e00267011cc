"""Unrolled decomposition (the reported comparison point; evaluation only, never packaged).

Each output step t gets its own pruned copy of the weights: units are chosen from the positions at
step t only, and removed at that step only. The result is no longer a standard RNN, which is why
nnpm packages rolled modules; this module exists to measure the rolled modes against it.
"""

from __future__ import annotations

import torch

from nnpm.datasets.text import IGNORE, TextData
from nnpm.nn.rnn.model import SequenceNet, manual_stack
from nnpm.science.rnn.decompose import DEFAULT_CAP, DecomposeConfig, choose_kept, sample_concern
from nnpm.science.rnn.select import TAG_POOL, pool_index
from nnpm.science.rnn.train import trim


@torch.no_grad()
def step_activations(net: SequenceNet, data: TextData, config: DecomposeConfig):
    """|h| per layer at every non-padding training position of the pool, its label and its step."""
    index = pool_index(data.train, config.pool or TAG_POOL, config.seed)
    x, y = data.train.x[index], data.train.y[index]
    layers = net.features(x)
    valid = y != IGNORE
    steps = torch.arange(x.shape[1]).expand_as(y)[valid]
    return [h[valid].abs() for h in layers], y[valid], steps


@torch.no_grad()
def unrolled_masks(net: SequenceNet, data: TextData, config: DecomposeConfig) -> torch.Tensor:
    """masks[c][l] of shape [T, H_l]: 1 where class c's step-t copy keeps unit h of layer l."""
    acts, labels, steps = step_activations(net, data, config)
    cap = DEFAULT_CAP if config.cap is None else config.cap  # evaluation only: no validation choice
    gen = torch.Generator().manual_seed(config.seed)
    masks = []
    for c in range(len(data.classes)):
        per_layer = [torch.ones(data.max_len, h) for h in net.rnn.sizes]
        for t in range(data.max_len):
            at = torch.nonzero(steps == t).flatten()
            if len(at) == 0:
                continue
            pos, neg = sample_concern(labels[at], c, config.positives, gen)
            keep = choose_kept([a[at] for a in acts], pos, neg, cap, config.mad)
            for layer, kp in enumerate(keep):
                per_layer[layer][t] = 0
                per_layer[layer][t, kp] = 1
        masks.append(per_layer)
    return masks


@torch.no_grad()
def unrolled_predict(
    net: SequenceNet, data: TextData, config: DecomposeConfig, batch_size: int = 1024
) -> torch.Tensor:
    """Composite prediction [N, T] on the test split: argmax over classes of each class's channel score
    (its logit minus the mean of the others, as the paper channels) from its per-step pruned copy."""
    masks = unrolled_masks(net, data, config)
    w, b = net.head.weight, net.head.bias
    preds = []
    for start in range(0, len(data.test), batch_size):
        (x,) = trim(data.test.x[start : start + batch_size])
        emb = net.embedding(x)
        scores = []
        for c, per_layer in enumerate(masks):
            t = x.shape[1]
            last = manual_stack(net.rnn, emb, [m[:t] for m in per_layer])[-1]
            others = [i for i in range(w.shape[0]) if i != c]
            z = last @ (w[c] - w[others].mean(0)) + (b[c] - b[others].mean())
            scores.append(z)
        pred = torch.stack(scores, -1).argmax(-1)
        preds.append(torch.nn.functional.pad(pred, (0, data.test.x.shape[1] - pred.shape[1])))
    return torch.cat(preds)
