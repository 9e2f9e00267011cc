"""The per-layer retention chart a CNN module package carries (retention.png) and its card embeds.

The chart is one of the package's hashed files, so the same layers must give the same
bytes: it is drawn on its own Figure with the Agg canvas (never pyplot's global state),
under matplotlib's default settings (never the user's matplotlibrc), and saved without
the Software tag that names matplotlib's version. matplotlib is the optional `plot`
extra and is imported only here, inside the functions, so nothing else pays for it.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from pathlib import Path

from nnpm.errors import UsageError
from nnpm.fsutil import atomic_write_bytes

#: The file name a CNN module package carries its chart under (metrics.extra.retention_chart).
CHART_NAME = "retention.png"

_WIDTH_IN, _HEIGHT_IN, _DPI = 6.0, 3.0, 100
_BAR_COLOR, _EDGE_COLOR = "#4c72b0", "#2f4b7c"


def chart_available() -> bool:
    """Whether matplotlib (the `plot` extra) is installed, so that callers can decide to draw."""
    return importlib.util.find_spec("matplotlib") is not None


def write_retention_chart(path: Path, layers: Sequence[tuple[str, int, int]], title: str) -> Path:
    """Draw the share of units kept per layer as a PNG at `path` (atomically) and return `path`.

    `layers` is (layer name, units kept, layer width) in network order, e.g. ("conv1", 5, 8),
    ..., ("fc.0", 12, 64). One horizontal bar per layer, top to bottom, from 0 to 100%, with
    "kept / width" written beside it. The bytes depend only on the arguments.
    """
    rows = _checked(layers)
    if not chart_available():
        raise UsageError(
            "drawing the retention chart needs matplotlib, which is not installed",
            where=str(path),
            hint="install the plot extra: pip install 'nnpm[plot]'",
        )
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    defaults = {k: v for k, v in matplotlib.rcParamsDefault.items() if k not in {"backend", "interactive"}}
    with matplotlib.rc_context(defaults):
        height = max(_HEIGHT_IN, 1.2 + 0.28 * len(rows))  # about 6x3, taller only for many layers
        fig = Figure(figsize=(_WIDTH_IN, height), dpi=_DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        names = [name for name, _, _ in rows]
        shares = [100.0 * kept / width for _, kept, width in rows]
        positions = list(range(len(rows)))
        ax.barh(positions, shares, height=0.6, color=_BAR_COLOR, edgecolor=_EDGE_COLOR, linewidth=0.6)
        for y, share, (_, kept, width) in zip(positions, shares, rows, strict=True):
            ax.text(share + 1.5, y, f"{kept} / {width}", va="center", ha="left", fontsize=8)
        ax.set_yticks(positions, names, fontsize=8)
        ax.invert_yaxis()  # network order, first layer on top
        ax.set_xlim(0, 115)  # room for the labels of fully kept layers
        ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"], fontsize=8)
        ax.set_xlabel("units kept (of the layer's width)", fontsize=8)
        ax.set_title(title, fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        _fixed_margins(fig, height, names)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _fixed_margins(fig, height: float, names: list[str]) -> None:
    """Margins from the labels' lengths: what tight_layout finds, without its extra drawing pass
    (which doubled the cost of every chart)."""
    label_in = 0.25 + 0.065 * max(len(n) for n in names)  # 8-point labels, ~0.065 in a character
    fig.subplots_adjust(left=min(0.5, label_in / _WIDTH_IN), right=0.97,
                        bottom=0.55 / height, top=1 - 0.4 / height)  # fmt: skip


def _checked(layers: Sequence[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The layers as (name, kept, width), or a UsageError that names the first bad one."""
    rows = list(layers)
    if not rows:
        raise UsageError(
            "no layers to chart",
            where="retention chart",
            hint="pass (layer name, units kept, layer width) for each layer, in network order",
        )
    for i, row in enumerate(rows):
        ok = isinstance(row, tuple | list) and len(row) == 3
        name, kept, width = row if ok else (None, None, None)
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (kept, width))
        if not (ok and isinstance(name, str) and name and ints and width > 0 and 0 <= kept <= width):
            raise UsageError(
                f"layer {i} is {row!r}: expected (name, kept, width) with 0 <= kept <= width and width > 0",
                where="retention chart",
                hint="pass (layer name, units kept, layer width) for each layer, in network order",
            )
    return [(name, kept, width) for name, kept, width in rows]
