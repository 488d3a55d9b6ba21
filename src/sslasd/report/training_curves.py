"""Training curves from ``fit/metrics.csv``: the losses, the learning rate and the throughput.

Components that a run switched off leave their column empty (NaN) and are simply not drawn.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from sslasd.report.figures import category_color, empty_panel, new_figure, style
from sslasd.report.run_files import TrainingLog

LOSS_COLUMNS = ("loss", "loss_margin", "loss_contrastive", "loss_vq")


def plot_training_curves(log: TrainingLog) -> Figure:
    """Three panels against the step: losses (total and components), learning rate, clips/s.

    Example
    -------
    >>> cols = {"step": np.arange(3.0), "loss": np.array([3.0, 2.0, 1.5])}
    >>> len(plot_training_curves(TrainingLog(cols, finished=True)).axes)
    3
    """
    step = log.columns["step"]
    with style():
        fig, (ax_loss, ax_lr, ax_rate) = new_figure(3, ncols=3, panel_size=(3.6, 2.6))
        drawn = 0
        for i, name in enumerate(LOSS_COLUMNS):
            values = log.columns.get(name)
            if values is not None and np.isfinite(values).any():
                ok = np.isfinite(values)
                ax_loss.plot(
                    step[ok],
                    values[ok],
                    lw=1.8 if name == "loss" else 1.1,
                    color=category_color(i),
                    label=name,
                )
                drawn += 1
        if drawn:
            ax_loss.legend(frameon=False)
            ax_loss.set_xlabel("step")
        else:
            empty_panel(ax_loss, "no loss values logged")
        ax_loss.set_title("training loss")
        _single(ax_lr, step, log.columns.get("lr"), "learning rate", category_color(4))
        _single(ax_rate, step, log.columns.get("clips_per_s"), "throughput (clips/s)", category_color(2))
    return fig


def _single(ax, step: np.ndarray, values: np.ndarray | None, title: str, color: str) -> None:
    ax.set_title(title)
    if values is None or not np.isfinite(values).any():
        empty_panel(ax, "not logged")
        return
    ok = np.isfinite(values)
    ax.plot(step[ok], values[ok], lw=1.4, color=color)
    ax.set_xlabel("step")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
