"""Figures as embeddable PNGs: matplotlib's Agg renderer, no pyplot state, one shared style.

Figures are built with :class:`matplotlib.figure.Figure` directly (not ``pyplot``), so that
making a report never opens a window, never touches a global figure list and works on a
headless machine; :func:`png_data_uri` turns one into a ``data:`` URI for an ``<img>`` tag.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Colours shared by every plot, so that a domain or a label looks the same everywhere.
DOMAIN_COLORS = {"source": "#1f6fb4", "target": "#e8710a", "none": "#5b6770", "unknown": "#9aa5ad"}
LABEL_COLORS = {"normal": "#2b8a3e", "anomaly": "#c92a2a"}
NONE_COLOR = "#c5ccd3"
CATEGORY_COLORS = (
    "#1f6fb4",
    "#e8710a",
    "#2b8a3e",
    "#c92a2a",
    "#7048e8",
    "#8c564b",
    "#d6336c",
    "#0c8599",
    "#a9a12b",
    "#495057",
    "#74c0fc",
    "#ffa94d",
)

DPI = 110
RC = {
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
}


def new_figure(n_panels: int, *, ncols: int, panel_size: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    """A figure with a grid of ``n_panels`` axes, ``ncols`` per row; unused cells are hidden.

    Parameters
    ----------
    n_panels : int
        Number of axes wanted (at least 1).
    ncols : int
        Axes per row (capped at ``n_panels``).
    panel_size : (width, height)
        Size of one panel in inches.

    Example
    -------
    >>> fig, axes = new_figure(3, ncols=2, panel_size=(3.0, 2.5))
    >>> len(axes)
    3
    """
    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, math.ceil(n_panels / ncols))
    with style():
        fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), dpi=DPI, layout="constrained")
        grid = fig.subplots(nrows, ncols, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def png_data_uri(fig: Figure) -> str:
    """Render ``fig`` with Agg and return ``data:image/png;base64,...`` for an ``<img src>``."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    with style():
        fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def category_color(index: int) -> str:
    """The ``index``-th colour of the categorical palette (cycling)."""
    return CATEGORY_COLORS[index % len(CATEGORY_COLORS)]


def empty_panel(ax: Axes, message: str) -> None:
    """Turn ``ax`` into a blank panel that says ``message`` (a piece of data is missing)."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#5b6770", wrap=True)


def style() -> contextlib.AbstractContextManager:
    """The report's matplotlib style; build and render each figure inside it."""
    return mpl.rc_context(RC)
