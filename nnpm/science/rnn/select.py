"""What a decomposition chooses from the data instead of taking fixed numbers (docs/rnn.md "Measured").

How many sequences. A tagging sequence holds every tag, so a fixed pool (2,000 sequences for unit
statistics, 1,000 for the head refit) serves any number of tags. A classification sequence holds one
class, so a fixed total shrinks with the number of classes: on chatterbot-lang (25 languages) 2,000
stratified sequences left about 6 of the rarest language. For classification the pool and the refit
set are therefore counted per class: `per_class` sequences of each class (all of a smaller one).
Calibration stays on a stratified draw of the validation split, so Platt scaling sees the true priors.

Which cap. The share of units a module may drop is chosen per model on the validation split: the
largest cap of a small grid whose composed validation accuracy stays within `tolerance` points of
the model's own validation accuracy (the test split is never read). The choice is recorded in every
module's provenance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nnpm.datasets.splits import stratified_split
from nnpm.datasets.text import TextData, TextSplit
from nnpm.errors import InvalidInputError

TAG_POOL = 2000  #: tagging: sequences for unit statistics
TAG_REFIT = 1000  #: tagging: sequences the head is refit on (and validation ones it is calibrated on)
DEFAULT_PER_CLASS = 160  #: classification: sequences per class, chosen on validation (docs/rnn.md)
CAP_GRID = (0.2, 0.15, 0.1, 0.05)  #: caps tried, largest first; 0.2 is the share the paper states
CAP_TOLERANCE = 0.5  #: points of validation accuracy a composite may lose against its model


@dataclass(frozen=True)
class Draw:
    """Indices of the sequences each stage reads: statistics and refit from train, calibration from val."""

    pool: torch.Tensor
    refit: torch.Tensor
    calibration: torch.Tensor

    def sizes(self) -> dict[str, int]:
        return {"pool": len(self.pool), "refit": len(self.refit), "calibration": len(self.calibration)}


def pool_index(split: TextSplit, n: int, seed: int) -> torch.Tensor:
    """A seeded subset of `n` sequences, stratified by the split's group (genre or label)."""
    if n >= len(split):
        return torch.arange(len(split))
    return stratified_split(split.group, n / len(split), seed)[1]


def per_class_index(split: TextSplit, k: int, seed: int) -> torch.Tensor:
    """Up to `k` seeded sequences of every group (all of a smaller group), sorted: a class's share
    of the draw no longer shrinks as the number of classes grows."""
    gen = torch.Generator().manual_seed(seed)
    parts = []
    for g in torch.unique(split.group).tolist():
        idx = torch.nonzero(split.group == g).flatten()
        parts.append(idx[torch.randperm(len(idx), generator=gen)[:k]])
    return torch.cat(parts).sort().values if parts else torch.arange(0)


def draw(data: TextData, pool: int | None, refit: int | None, per_class: int, seed: int) -> Draw:
    """The sequences of a decomposition: explicit totals where given, else the task's defaults
    (fixed totals for tagging, `per_class` per class for classification)."""
    by_class = data.task == "classify"
    if pool is not None:
        pool_idx = pool_index(data.train, pool, seed)
    else:
        pool_idx = (
            per_class_index(data.train, per_class, seed)
            if by_class
            else pool_index(data.train, TAG_POOL, seed)
        )
    if refit is not None:
        refit_idx = pool_index(data.train, refit, seed + 11)
    elif by_class:
        refit_idx = per_class_index(data.train, per_class, seed + 11)
    else:
        refit_idx = pool_index(data.train, TAG_REFIT, seed + 11)
    n_cal = refit if refit is not None else (len(refit_idx) if by_class else TAG_REFIT)
    return Draw(pool_idx, refit_idx, pool_index(data.val, n_cal, seed + 12))


def check(cap: float | None, grid: Sequence[float], tolerance: float, per_class: int) -> None:
    """One clear line for settings no decomposition can use."""
    for value, where in [(cap, "--cap"), *((g, "cap grid") for g in grid)]:
        if value is not None and not 0.0 <= value < 1.0:
            raise InvalidInputError(f"cap {value} is not a share in [0, 1)", where=where,
                                    hint="e.g. --cap 0.2, or --cap auto to choose it on validation")  # fmt: skip
    if cap is None and not grid:
        raise InvalidInputError("no cap to choose from", where="cap grid", hint="give at least one cap")
    if tolerance < 0:
        raise InvalidInputError(
            f"tolerance {tolerance} is negative", where="cap tolerance", hint="points, e.g. 0.5"
        )
    if per_class < 1:
        raise InvalidInputError(
            f"{per_class} sequences per class", where="--per-class", hint="at least 1, e.g. 160"
        )


def parse_cap(text: str | float | None) -> float | None:
    """`auto` (or None) -> None (chosen on validation); else the share as a float, one clear line if not."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "auto"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(f"--cap {text!r} is neither a share nor 'auto'", where="--cap",
                                hint="e.g. --cap 0.2, or --cap auto to choose it on validation") from None  # fmt: skip
    check(value, (), 0.0, 1)
    return value


def choose_cap(build: Callable[[float], list], score: Callable[[list], float], reference: float,
               grid: Sequence[float], tolerance: float) -> tuple[float, list, dict]:  # fmt: skip
    """The largest cap of `grid` whose modules' composed validation accuracy (`score`) is within
    `tolerance` points of `reference` (the model's); tried largest first, stopping at the first that
    passes. If none passes, the cap that scored best. Returns (cap, its modules, the record)."""
    tried: dict[str, float] = {}
    best = None
    for cap in sorted(grid, reverse=True):
        modules = build(cap)
        acc = score(modules)
        tried[str(cap)] = round(acc, 6)
        if best is None or acc > best[1]:
            best = (cap, acc, modules)
        if 100 * (reference - acc) <= tolerance:
            best = (cap, acc, modules)
            break
    cap, acc, modules = best
    record = {"cap": cap, "rule": f"largest cap of {sorted(grid, reverse=True)} within {tolerance} points of the model "
              "on the validation split", "met": 100 * (reference - acc) <= tolerance,
              "validation_model": round(reference, 6), "validation_composed": tried}  # fmt: skip
    return cap, modules, record
