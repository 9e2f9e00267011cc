"""The library's progress hooks (nnpm.progress) drawn as tqdm bars on stderr; silent with -q."""

from __future__ import annotations

import sys

from nnpm.cli.output import info, is_quiet
from nnpm.progress import Progress


class TqdmProgress(Progress):
    """One bar per phase; `leave` keeps finished bars (an epoch's figures stay on screen)."""

    def __init__(self, *, leave: bool = False) -> None:
        self.leave = leave
        self.bar = None

    def start(self, total: int | None, desc: str, *, unit: str = "step") -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B", leave=self.leave,
                        dynamic_ncols=True, disable=True if is_quiet() else None, file=sys.stderr)  # fmt: skip

    def advance(self, n: int = 1, **figures: float) -> None:
        if self.bar is not None:
            self.bar.update(n)
            if figures:
                self.bar.set_postfix(_shown(figures), refresh=False)

    def done(self, **figures: float) -> None:
        if self.bar is not None and figures:
            self.bar.set_postfix(_shown(figures))
        self.close()

    def note(self, event: str, **details: object) -> None:
        if event == "installed" and not details.get("reused"):
            self.close()
            info(f"installed {details['package']}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _shown(figures: dict[str, float]) -> dict[str, str]:
    return {k: f"{v:.3f}" for k, v in figures.items()}
