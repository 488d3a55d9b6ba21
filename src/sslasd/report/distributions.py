"""Score distributions of normal and anomalous test clips per machine, section and domain.

Each panel overlays the two histograms on bins shared by all domains of the section, marks
every clip below the axis (test sets are small: a target domain may hold 5 clips), and draws the
section's decision threshold from ``thresholds.json``, so a reader sees at once how well the
scores separate and where the detector draws the line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from sslasd.report.figures import LABEL_COLORS, new_figure, style
from sslasd.report.roc import domains_of, group_clips


def histogram_panels(clips: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """The (machine, section, domain) panels that ``clips`` fill, in reading order."""
    return [(m, s, d) for (m, s), group in group_clips(clips).items() for d in domains_of(group)]


def plot_score_histograms(
    clips: Sequence[Mapping[str, Any]], thresholds: Mapping[str, Mapping[str, float]] | None
) -> Figure:
    """Histograms of normal vs anomalous scores per (machine, section, domain) with the threshold.

    Parameters
    ----------
    clips : list of dict
        ``metrics.json``'s ``clips`` (machine, section, domain, label, score).
    thresholds : {machine: {section: float}} or None
        Decision thresholds; a missing entry draws no line.

    Example
    -------
    >>> clips = [dict(machine="fan", section="00", domain="source", label="normal", score=0.2)]
    >>> fig = plot_score_histograms(clips, {"fan": {"00": 0.5}})
    >>> len(fig.axes)
    1
    """
    groups = group_clips(clips)
    panels = histogram_panels(clips)
    with style():
        fig, axes = new_figure(len(panels), ncols=4, panel_size=(2.65, 2.15))
        for ax, (machine, section, domain) in zip(axes, panels):
            group = groups[(machine, section)]
            scores = np.array([float(c["score"]) for c in group])
            threshold = (thresholds or {}).get(machine, {}).get(section)
            edges = _bins(scores)
            counts = []
            for label, color in LABEL_COLORS.items():
                values = [float(c["score"]) for c in group if c["domain"] == domain and c["label"] == label]
                counts.append(f"{len(values)} {label}")
                if values:
                    ax.hist(values, bins=edges, color=color, alpha=0.45)
                    ax.plot(values, np.zeros(len(values)), "|", color=color, ms=9, mew=1.2, clip_on=False)
            if threshold is not None:
                _threshold(ax, threshold, edges)
            ax.set_title(f"{machine} · {section} · {domain}\n{', '.join(counts)}", linespacing=1.5)
            ax.set_xlabel("anomaly score")
            ax.set_ylabel("clips")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        handles = [Patch(color=c, alpha=0.45, label=label) for label, c in LABEL_COLORS.items()]
        handles.append(Line2D([], [], color="#212529", lw=1.2, ls="--", label="decision threshold"))
        fig.legend(handles=handles, loc="outside upper center", ncols=3, frameon=False)
    return fig


def _threshold(ax, threshold: float, edges: np.ndarray) -> None:
    """The threshold line, or, when it lies outside the scores' range, an arrow pointing to it.

    Bins cover the scores only, so that a threshold far from every score does not squeeze the
    histograms into one bin; such a threshold is itself worth seeing, hence the labelled arrow.
    """
    if edges[0] <= threshold <= edges[-1]:
        ax.axvline(threshold, color="#212529", lw=1.2, ls="--")
        return
    right = threshold > edges[-1]
    ax.annotate(
        f"threshold {threshold:.3g} →" if right else f"← threshold {threshold:.3g}",
        xy=(0.98 if right else 0.02, 0.55),
        xycoords="axes fraction",
        ha="right" if right else "left",
        color="#212529",
        fontsize=7.5,
    )


def _bins(values: np.ndarray, max_bins: int = 30) -> np.ndarray:
    """Bin edges covering ``values``: about 3 sqrt(n) bins, between 8 and ``max_bins``."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    n_bins = int(np.clip(3 * np.sqrt(len(values)), 8, max_bins))
    return np.linspace(lo, hi, n_bins + 1)
