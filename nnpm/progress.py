"""Progress: the one set of hooks the library calls during long work. The library never prints.

A phase is `start(total, desc)`, then `advance(n, **figures)` as work is done, then
`done(**figures)`; `note(event, **details)` reports something that is not a phase. The
CLI draws tqdm bars from these hooks, tests record them, and a script may log them.

Who calls what:
- training: a phase per epoch ("<run> <epoch>/<epochs>", unit "step"), figures loss and acc
  while it runs and the epoch's figures (loss, acc, val, krr when modular) at `done`;
- decomposition: a phase over the classes ("decompose", unit "module");
- install: a phase per package fetched ("<name>==<version>", unit "B", total bytes) and
  `note("installed", package=..., reused=...)` for every package; resolution
  `note("looking up", package=..., registry=...)`;
- registries: `advance(nbytes)` as bytes of a file arrive or are published.
"""

from __future__ import annotations


class Progress:
    """No-op hooks: subclass and override what you want to show."""

    def start(self, total: int | None, desc: str, *, unit: str = "step") -> None:
        """A phase of `total` units (None: unknown) begins."""

    def advance(self, n: int = 1, **figures: float) -> None:
        """`n` units of the current phase are done; `figures` are worth showing (loss, accuracy)."""

    def done(self, **figures: float) -> None:
        """The current phase ended, with its final figures."""

    def note(self, event: str, **details: object) -> None:
        """Something happened that is not a phase (a package installed, a registry asked)."""


#: The progress of nobody watching.
NULL = Progress()
