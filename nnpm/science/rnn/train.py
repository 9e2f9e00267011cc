"""Training monolithic RNN models (tagger, classifier, translator) on an embedding.

The model with the best validation score is kept (never the test split). Batches are drawn from a
seeded permutation, grouped by length and trimmed to their longest sequence, which saves most of
the padding work on CPU without changing the loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from nnpm.datasets.text import IGNORE, TextData, TextSplit
from nnpm.nn.rnn.infer import predict, trim
from nnpm.nn.rnn.model import Embedding, SequenceNet
from nnpm.progress import NULL, Progress


@dataclass(frozen=True)
class TrainConfig:
    cell: str = "lstm"
    layers: int = 1
    hidden: int = 100
    embedding_dim: int = 100
    epochs: int = 3
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0


@dataclass
class TrainResult:
    epoch_seconds: list[float] = field(default_factory=list)
    val_scores: list[float] = field(default_factory=list)
    best_epoch: int = 0


def batches(split: TextSplit, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    """Index batches: a seeded shuffle (or file order when generator is None), sorted by length within
    windows of 50 batches, then the batches themselves shuffled."""
    n = len(split)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    lengths = split.lengths[order]
    window = batch_size * 50
    chunks = []
    for start in range(0, n, window):
        part = order[start : start + window]
        part = part[torch.argsort(lengths[start : start + window], stable=True)]
        chunks.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    if generator is not None:
        chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]
    return chunks


def new_embedding(data: TextData, dim: int, seed: int) -> Embedding:
    torch.manual_seed(seed)
    return Embedding(len(data.vocab), dim, data.vocab.tokens)


def new_sequence_net(data: TextData, embedding: Embedding, config: TrainConfig) -> SequenceNet:
    torch.manual_seed(config.seed + 1)
    return SequenceNet(
        embedding,
        config.cell,
        [config.hidden] * config.layers,
        len(data.classes),
        data.task == "tag",
        "logits",
    )


def train_sequence(
    net: SequenceNet,
    data: TextData,
    config: TrainConfig,
    *,
    freeze_embedding: bool = False,
    reporter: Progress = NULL,
) -> TrainResult:
    """Cross-entropy training (padding ignored); keeps the weights of the best validation epoch."""

    def step(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = trim(data.train.x[idx], data.train.y[idx])
        return net(x), y

    return fit_best_on_validation(
        net,
        data,
        config,
        step,
        lambda: accuracy(net, data.val),
        freeze_embedding=freeze_embedding,
        reporter=reporter,
    )


def fit_best_on_validation(
    net: nn.Module,
    data: TextData,
    config: TrainConfig,
    step: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    val_score: Callable[[], float],
    *,
    freeze_embedding: bool,
    reporter: Progress = NULL,
) -> TrainResult:
    """The loop every RNN task shares: Adam, token cross-entropy (padding ignored), gradient clipping,
    and the epoch with the best validation score kept. `step(batch indices)` returns (outputs, targets)."""
    params = list(net.parameters()) + ([] if freeze_embedding else list(net.embedding.parameters()))
    net.embedding.embedding.weight.requires_grad_(not freeze_embedding)
    opt = torch.optim.Adam(params, lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    result, best, best_state = TrainResult(), -1.0, None
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        net.train()
        order = batches(data.train, config.batch_size, gen)
        reporter.start(len(order), f"epoch {epoch + 1}/{config.epochs}")
        for idx in order:
            out, y = step(idx)
            loss = nn.functional.cross_entropy(
                out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=IGNORE
            )
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            reporter.advance(1, loss=loss.item())
        reporter.done()
        result.epoch_seconds.append(time.perf_counter() - t0)
        score = val_score()
        result.val_scores.append(score)
        if score > best:
            best, result.best_epoch = score, epoch
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
            best_emb = net.embedding.weight.detach().clone()
    net.load_state_dict(best_state)
    with torch.no_grad():
        net.embedding.embedding.weight.copy_(best_emb)
    net.embedding.embedding.weight.requires_grad_(False)
    net.eval()
    return result


def accuracy_of(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Share of correct labels over non-padding positions (labels IGNORE are not counted)."""
    valid = y != IGNORE
    return float((pred[valid] == y[valid]).float().mean())


def accuracy(net: nn.Module, split: TextSplit) -> float:
    return accuracy_of(predict(net, split.x).argmax(-1), split.y)
