"""A 2-D map of the training and test embeddings of each machine, in small multiples.

Each machine gets its own projection (machines live far apart in embedding space, so one shared
map would squeeze each to a dot) and one row of three panels, coloured by domain, by attribute
and by VQ pseudo-label. Training clips are dots, normal test clips open circles, anomalous test
clips crosses: a good embedding puts crosses away from the dots of their section, and target
clips among source clips of the same operating condition.

The projection is t-SNE (scikit-learn, Barnes-Hut) when there are few points overall, because it
shows the cluster structure best, and PCA otherwise, which takes milliseconds at any size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sslasd.errors import ConfigError
from sslasd.report.figures import DOMAIN_COLORS, NONE_COLOR, category_color, empty_panel, new_figure, style
from sslasd.report.run_files import EmbeddingSet

Projection = Literal["auto", "pca", "tsne"]
#: ``auto`` uses t-SNE up to this many points over all machines (a few seconds on 2 CPU cores).
TSNE_MAX_POINTS = 1500
#: Fewer points than this per machine: PCA (t-SNE needs a perplexity below N).
TSNE_MIN_POINTS = 12
MAX_LEGEND_ENTRIES = 9
NO_ATTRIBUTE = ("", "noAttribute", "none")


@dataclass(frozen=True)
class MachinePoints:
    """The clips of one machine in the map: 2-D coordinates and what colours them."""

    machine: str
    xy: np.ndarray  # [N, 2]
    is_test: np.ndarray  # bool [N]
    is_anomaly: np.ndarray  # bool [N]
    domains: np.ndarray
    attributes: np.ndarray
    pseudo_labels: np.ndarray


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The first two principal components of ``x`` [N, D], signs fixed for repeatability.

    Each axis is oriented so that its largest loading is positive; fewer than two non-trivial
    components leave the missing axis at zero.

    Example
    -------
    >>> pca_2d(np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]]))[:, 0].round(3).tolist()
    [-2.0, 0.0, 2.0]
    """
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=0, keepdims=True)
    out = np.zeros((len(x), 2))
    if len(x) < 2:
        return out
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    out[:, :k] = centred @ (vt[:k].T * signs)
    return out


def tsne_2d(x: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """t-SNE of ``x`` [N, D] (PCA start, perplexity min(30, (N - 1) / 3)), deterministic per seed.

    Runs on one thread with 500 iterations: scikit-learn's Barnes-Hut loop is many times slower
    when its OpenMP threads compete with other work on a small machine, and 500 iterations
    settle the few hundred points per machine that ``auto`` sends here.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    perplexity = float(min(30.0, (len(x) - 1) / 3.0))
    tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=seed, max_iter=500)
    with threadpool_limits(limits=1):
        return tsne.fit_transform(np.asarray(x, np.float32))


def choose_projection(n_points: int, method: Projection = "auto") -> Literal["pca", "tsne"]:
    """``pca`` or ``tsne`` for a map of ``n_points`` in all (``auto``: t-SNE up to TSNE_MAX_POINTS).

    Raises
    ------
    ConfigError
        ``method`` is not auto, pca or tsne.
    """
    if method not in ("auto", "pca", "tsne"):
        raise ConfigError(f"projection: {method!r} is not one of auto, pca, tsne")
    if method == "auto":
        return "tsne" if n_points <= TSNE_MAX_POINTS else "pca"
    return method


def machine_points(
    train: EmbeddingSet | None,
    test: EmbeddingSet | None,
    *,
    method: Projection = "auto",
    test_labels: Mapping[str, str] | None = None,
    seed: int = 0,
) -> tuple[list[MachinePoints], str]:
    """Project the train + test clips of each machine to 2-D.

    Parameters
    ----------
    train, test : EmbeddingSet or None
        Training (memory bank) and test embeddings; either may be absent.
    method : {"auto", "pca", "tsne"}
    test_labels : {name: label}, optional
        Labels of test clips from ``metrics.json``, used where the embedding file has none.
    seed : int
        t-SNE's random state.

    Returns
    -------
    (list of MachinePoints, method used)
    """
    sets = [s for s in (train, test) if s is not None and len(s)]
    used = choose_projection(sum(len(s) for s in sets), method)
    machines = sorted({str(m) for s in sets for m in s.machines})
    out = []
    for machine in machines:
        parts = [(s, s.machines == machine, s is test) for s in sets]
        emb = np.concatenate([s.embeddings[rows] for s, rows, _ in parts])
        labels = np.concatenate(
            [_labels(s, rows, test_labels if is_test else None) for s, rows, is_test in parts]
        )
        is_test = np.concatenate([np.full(int(rows.sum()), is_test) for _, rows, is_test in parts])
        use_tsne = used == "tsne" and len(emb) >= TSNE_MIN_POINTS
        out.append(
            MachinePoints(
                machine=machine,
                xy=tsne_2d(emb, seed=seed) if use_tsne else pca_2d(emb),
                is_test=is_test,
                is_anomaly=labels == "anomaly",
                domains=np.concatenate([s.domains[rows] for s, rows, _ in parts]),
                attributes=np.concatenate([s.attributes[rows] for s, rows, _ in parts]),
                pseudo_labels=np.concatenate([s.pseudo_labels[rows] for s, rows, _ in parts]),
            )
        )
    return out, used


def _labels(s: EmbeddingSet, rows: np.ndarray, by_name: Mapping[str, str] | None) -> np.ndarray:
    labels = s.labels[rows].copy()
    if by_name:
        labels = np.array([by_name.get(n, lab) for n, lab in zip(s.names[rows], labels)], dtype=str)
    return labels


def plot_embedding_map(points: Sequence[MachinePoints]) -> Figure:
    """One row per machine: the map coloured by domain, by attribute, by pseudo-label."""
    with style():
        fig, axes = new_figure(3 * len(points), ncols=3, panel_size=(3.6, 2.7))
        for row, p in enumerate(points):
            ax_domain, ax_attr, ax_pseudo = axes[3 * row : 3 * row + 3]
            domain_colors = {d: DOMAIN_COLORS.get(d, NONE_COLOR) for d in _ordered(p.domains)}
            _scatter(ax_domain, p, p.domains, domain_colors, f"{p.machine} · domain")
            attrs = np.where(np.isin(p.attributes, NO_ATTRIBUTE), "none", p.attributes)
            if (attrs == "none").all():
                empty_panel(ax_attr, f"{p.machine}: no attributes\n(noAttribute or not in names)")
            else:
                _scatter(ax_attr, p, attrs, _palette(attrs, "none"), f"{p.machine} · attribute")
            pseudo = np.where(p.pseudo_labels < 0, "none", p.pseudo_labels.astype(str))
            if (pseudo == "none").all():
                empty_panel(ax_pseudo, f"{p.machine}: no pseudo-labels\n(attributes known or VQ off)")
            else:
                _scatter(ax_pseudo, p, pseudo, _palette(pseudo, "none"), f"{p.machine} · pseudo-label")
        markers = [
            Line2D([], [], ls="", marker="o", ms=4, color="#495057", label="training clip"),
            Line2D([], [], ls="", marker="o", ms=6, mfc="none", color="#495057", label="normal test clip"),
            Line2D([], [], ls="", marker="x", ms=6, color="#495057", label="anomalous test clip"),
        ]
        fig.legend(handles=markers, loc="outside upper center", ncols=3, frameon=False)
    return fig


def _ordered(values: np.ndarray) -> list[str]:
    order = {"source": 0, "target": 1}
    return sorted({str(v) for v in values}, key=lambda v: (order.get(v, 2), v))


def _palette(values: np.ndarray, none: str) -> dict[str, str]:
    """Category -> colour; the ``none`` category is grey. Integer-like names sort numerically."""
    cats = sorted({str(v) for v in values} - {none}, key=lambda v: (len(v), v) if v.isdigit() else (99, v))
    colors = {c: category_color(i) for i, c in enumerate(cats)}
    if none in values:
        colors[none] = NONE_COLOR
    return colors


def _scatter(ax: Axes, p: MachinePoints, values: np.ndarray, colors: dict[str, str], title: str) -> None:
    for i, (category, color) in enumerate(colors.items()):
        sel = values == category
        label = category if i < MAX_LEGEND_ENTRIES else None
        train, normal, anomaly = (
            sel & ~p.is_test,
            sel & p.is_test & ~p.is_anomaly,
            sel & p.is_test & p.is_anomaly,
        )
        ax.scatter(*p.xy[train].T, s=9, color=color, alpha=0.75, lw=0, label=label)
        ax.scatter(*p.xy[normal].T, s=22, facecolors="none", edgecolors=color, lw=0.9)
        ax.scatter(*p.xy[anomaly].T, s=26, color=color, marker="x", lw=1.1)
    extra = len(colors) - MAX_LEGEND_ENTRIES
    if extra > 0:
        ax.scatter([], [], s=0, label=f"+{extra} more")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("#dee2e6")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, handletextpad=0.2, markerscale=1.6)
