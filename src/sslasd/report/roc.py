"""ROC curves per machine and section, with the clip sets the year's official rule uses.

The curves are drawn from the ``clips`` list of ``metrics.json`` (name, machine, section, domain,
label, score), so their AUCs are the numbers in the score table:

- 2020 (one domain): all clips of the section;
- 2021: per domain, the domain's normal and anomalous clips;
- 2022-2026: per domain, the domain's normal clips and ALL anomalous clips of the section
  (AUC_source / AUC_target of the official rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from sslasd.evaluation.rules import official_subsets
from sslasd.report.figures import DOMAIN_COLORS, empty_panel, new_figure, style

DOMAIN_ORDER = ("source", "target", "none", "unknown")


@dataclass(frozen=True)
class RocCurve:
    """One ROC curve of a machine/section: the clip set, the curve and its AUC / pAUC (0-1).

    ``domain`` is ``source``/``target`` (clip sets of the year's rule) or ``all`` (2020).
    """

    machine: str
    section: str
    domain: str
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    pauc: float
    n_normal: int
    n_anomaly: int


def group_clips(clips: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """Clips of ``metrics.json`` grouped by (machine, section), in sorted order."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for clip in clips:
        groups.setdefault((str(clip["machine"]), str(clip["section"])), []).append(clip)
    return dict(sorted(groups.items()))


def domains_of(clips: Iterable[Mapping[str, Any]]) -> list[str]:
    """The domains present among ``clips``, source first."""
    present = {str(c.get("domain", "none")) for c in clips}
    return [d for d in DOMAIN_ORDER if d in present] + sorted(present - set(DOMAIN_ORDER))


def roc_curves(clips: Sequence[Mapping[str, Any]], year: int, *, max_fpr: float = 0.1) -> list[RocCurve]:
    """ROC curves of every machine/section of ``clips`` under the official rule of ``year``.

    Parameters
    ----------
    clips : list of dict
        ``metrics.json``'s ``clips``: name, machine, section, domain, label, score. Clips whose
        label is neither ``normal`` nor ``anomaly`` are ignored.
    year : int
        DCASE edition whose rule picks the clip sets (see the module docstring).
    max_fpr : float
        FPR limit of the pAUC (standardised, as ``roc_auc_score(max_fpr=...)``).

    Returns
    -------
    list of RocCurve
        Sets that lack normal or anomalous clips are left out.

    Example
    -------
    >>> clips = [dict(machine="fan", section="00", domain="source", label=l, score=s)
    ...          for l, s in [("normal", 0.1), ("normal", 0.4), ("anomaly", 0.3), ("anomaly", 0.9)]]
    >>> round(roc_curves(clips, 2024)[0].auc, 3)
    0.75
    """
    curves = []
    for (machine, section), group in group_clips(clips).items():
        labelled = [c for c in group if c.get("label") in ("normal", "anomaly")]
        for domain, subset in _rule_sets(labelled, year):
            y = np.array([c["label"] == "anomaly" for c in subset], dtype=int)
            if y.min(initial=1) == y.max(initial=0):
                continue
            s = np.array([float(c["score"]) for c in subset])
            fpr, tpr, _ = roc_curve(y, s)
            curves.append(
                RocCurve(
                    machine,
                    section,
                    domain,
                    fpr,
                    tpr,
                    auc=float(roc_auc_score(y, s)),
                    pauc=float(roc_auc_score(y, s, max_fpr=max_fpr)),
                    n_normal=int((y == 0).sum()),
                    n_anomaly=int(y.sum()),
                )
            )
    return curves


def _rule_sets(clips: list[Mapping[str, Any]], year: int) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """The clip set of each official AUC of the year's rule (:func:`official_subsets`), named by
    its domain (``all`` for one set)."""
    if not any(c.get("domain") in ("source", "target") for c in clips):
        year = 2020  # no domains: one set, as the 2020 rule has
    y = np.array([c["label"] == "anomaly" for c in clips], dtype=int)
    domain = np.array([str(c.get("domain", "none")) for c in clips])
    sets = []
    for key, (metric, mask) in official_subsets(year, y, domain).items():
        if metric == "auc" and mask.any():
            name = key.removeprefix("auc_") if key != "auc" else "all"
            sets.append((name, [c for c, keep in zip(clips, mask) if keep]))
    return sets


def plot_roc_curves(
    curves: Sequence[RocCurve], groups: Sequence[tuple[str, str]], *, max_fpr: float = 0.1
) -> Figure:
    """One panel per (machine, section) of ``groups`` with its curves; FPR <= ``max_fpr`` shaded."""
    with style():
        fig, axes = new_figure(len(groups), ncols=4, panel_size=(2.65, 2.55))
        by_group: dict[tuple[str, str], list[RocCurve]] = {}
        for curve in curves:
            by_group.setdefault((curve.machine, curve.section), []).append(curve)
        for ax, group in zip(axes, groups):
            ax.set_title(f"{group[0]} · section {group[1]}")
            if group not in by_group:
                empty_panel(ax, "no normal and anomalous\nclips to compare")
                continue
            ax.axvspan(0, max_fpr, color="#fff3bf", alpha=0.6, lw=0)
            ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="#adb5bd")
            for c in by_group[group]:
                color = DOMAIN_COLORS.get(c.domain, "#343a40")
                ax.plot(c.fpr, c.tpr, lw=1.6, color=color, label=f"{c.domain}  AUC {100 * c.auc:.1f}")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.01)
            ax.set_aspect("equal")
            ax.set_xlabel("false positive rate")
            ax.set_ylabel("true positive rate")
            ax.legend(loc="lower right", frameon=False, handlelength=1.2)
    return fig
