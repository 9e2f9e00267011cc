"""Progress reporting without printing: the library calls a reporter, the CLI supplies a tqdm one."""

from __future__ import annotations


class Reporter:
    """No-op hooks called during long work; subclass to show progress or log."""

    def start(self, total: int, desc: str) -> None:
        """A phase of `total` steps begins."""

    def advance(self, n: int = 1, **stats: float) -> None:
        """`n` steps of the current phase are done; `stats` are figures worth showing (loss, accuracy)."""

    def done(self) -> None:
        """The current phase ended."""


NULL = Reporter()
