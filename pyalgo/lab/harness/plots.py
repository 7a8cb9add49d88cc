"""Plots for reports: matplotlib (Agg) loads only here. House rules: legends sit outside the axes
(never over data), axes start where the data says (log scale only for ratios spanning decades),
and curves that differ by less than their spread are shown as differences from a baseline."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, List, Sequence, Tuple

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def subplots(n: int, cols: int = 3, size: Tuple[float, float] = (4.2, 3.2), **kw: Any) -> Tuple[Figure, List[Axes]]:
    """(fig, flat list of n axes) on a grid of at most `cols` columns; unused cells are hidden."""
    plt = pyplot()
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False, **kw)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def legend_outside(fig: Figure, axes: Sequence[Axes], **kw: Any) -> None:
    """One legend for the figure, right of the axes (the labels of the first axes that has any)."""
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False, **kw)
            return


def band(ax: Axes, x: np.ndarray, curves: np.ndarray, label: str, **kw: Any) -> Line2D:
    """Mean ± std over the rows of `curves` (seeds × points)."""
    curves = np.atleast_2d(np.asarray(curves, dtype=np.float64))
    m, s = curves.mean(0), curves.std(0)
    line, = ax.plot(x, m, label=label, **kw)
    ax.fill_between(x, m - s, m + s, color=line.get_color(), alpha=0.2, lw=0)
    return line


def save(fig: Figure, path: Path) -> str:
    """Saves as PNG (tight, so an outside legend is kept) and closes the figure."""
    plt = pyplot()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return str(path)
