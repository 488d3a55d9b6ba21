"""Records of an evaluation: one per machine/section, and the whole result with the official score.

All values are fractions in [0, 1] (tables print them in %). Which fields a year fills, and which
of them enter its official score (``SectionResult.official_keys``), follows that year's evaluator:

==========  ==========================  ============================================================
year        official per section        diagnostics also filled
==========  ==========================  ============================================================
2020        auc, pauc (all clips)       -
2021        auc_source, auc_target,     auc, pauc (all clips of the section)
            pauc_source, pauc_target
            (domain clips only)
2022-2026   auc_source, auc_target      auc (all clips), domain_auc_*, pauc_* (domain clips only)
            (domain normals + all
            anomalies), pauc (all)
==========  ==========================  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sslasd.evaluation.join import ScoredClip
from sslasd.evaluation.metrics import DecisionMetrics
from sslasd.evaluation.years import RULES

DECISION_FIELDS = ("precision", "recall", "f1")
DEFAULT_BOOT = 1000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap interval (fractions, like official scores)."""

    estimate: float
    low: float
    high: float
    level: float = 0.95
    n_boot: int = DEFAULT_BOOT

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, float]:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "n_boot": self.n_boot,
        }

    def negated(self) -> Interval:
        """The same interval for the difference taken the other way round (b - a instead of a - b)."""
        return Interval(-self.estimate, -self.high, -self.low, self.level, self.n_boot)

    def format(self, scale: float = 100.0, digits: int = 2) -> str:
        """``+1.23 [-0.40, +2.90]``: by default in points (per cent of the official score)."""
        e, lo, hi = (v * scale for v in (self.estimate, self.low, self.high))
        return f"{e:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


@dataclass(frozen=True)
class FloorComparison:
    """A run against one of its training-free floors on the same test clips.

    Attributes
    ----------
    name : str
        ``logmel`` or ``frozen`` (see :mod:`sslasd.pipeline.floors`).
    description : str
    official_score : float
        The floor's official score.
    difference : Interval
        Run minus floor, with a paired bootstrap interval over the test clips.
    """

    name: str
    description: str
    official_score: float
    difference: Interval

    @property
    def beaten(self) -> bool:
        """Whether the run scores above the floor (the point estimate; see ``difference`` for how sure)."""
        return self.difference.estimate > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "official_score": self.official_score,
            "difference": self.difference.to_dict(),
        }


@dataclass(frozen=True)
class SectionResult:
    """Every number of one machine/section (one machine ID in 2020).

    Attributes
    ----------
    machine, section : str
    auc, pauc : float
        Over all test clips of the section.
    auc_source, auc_target : float or None
        The year's AUC per domain: 2021 domain normals + domain anomalies; 2022-2026 domain normals +
        all anomalies of the section. None in 2020.
    pauc_source, pauc_target : float or None
        pAUC over the domain's clips only (official in 2021, a diagnostic later); None in 2020 and
        where a domain lacks normals or anomalies.
    domain_auc_source, domain_auc_target : float or None
        AUC over the domain's clips only (diagnostic; equals ``auc_source``/``auc_target`` in 2021).
    counts : mapping of str to int
        ``"<label>_<domain>"`` -> clip count, e.g. ``normal_source``; ``normal_none`` in 2020.
    decisions : mapping of str to DecisionMetrics
        Keyed ``source``/``target`` (``all`` in 2020); empty when no decisions were given.
    official_keys : tuple of str
        The attribute names whose values enter the year's official score.
    """

    machine: str
    section: str
    auc: float
    pauc: float
    official_keys: tuple[str, ...]
    auc_source: float | None = None
    auc_target: float | None = None
    pauc_source: float | None = None
    pauc_target: float | None = None
    domain_auc_source: float | None = None
    domain_auc_target: float | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    decisions: Mapping[str, DecisionMetrics] = field(default_factory=dict)

    def value(self, key: str) -> float | None:
        """A metric by name: an attribute (``auc_source``) or a decision metric (``precision_source``)."""
        metric, _, domain = key.partition("_")
        if metric in DECISION_FIELDS:
            found = self.decisions.get(domain or "all")
            return None if found is None else getattr(found, metric)
        return getattr(self, key)

    def official_values(self) -> dict[str, float]:
        """The values that enter the official score, by attribute name."""
        return {key: getattr(self, key) for key in self.official_keys}

    def to_dict(self) -> dict[str, object]:
        """JSON-able dict of every field (decisions as nested dicts)."""
        return {
            "machine": self.machine,
            "section": self.section,
            "auc": self.auc,
            "pauc": self.pauc,
            "auc_source": self.auc_source,
            "auc_target": self.auc_target,
            "pauc_source": self.pauc_source,
            "pauc_target": self.pauc_target,
            "domain_auc_source": self.domain_auc_source,
            "domain_auc_target": self.domain_auc_target,
            "official": self.official_values(),
            "counts": dict(self.counts),
            "decisions": {domain: m.to_dict() for domain, m in self.decisions.items()},
        }


@dataclass(frozen=True)
class EvaluationResult:
    """Outcome of :func:`~sslasd.evaluation.evaluate_scores`.

    Attributes
    ----------
    year : int
        The DCASE rule applied.
    official_score : float
        The year's official score (a fraction).
    sections : list of SectionResult
        Sorted by machine, then section.
    machines : dict of str to dict of str to float
        Per machine: ``<metric>_amean`` / ``<metric>_hmean`` over its sections (as the year's evaluator
        prints them; ``auc_*`` pools the source and target AUCs from 2021 on) and ``score``, the year's
        official score restricted to that machine.
    summary : dict of str to float
        The same means over all machines, and ``official_score``.
    clips : list of ScoredClip
        Every scored test clip, so that ROC curves and histograms can be drawn from the JSON alone.
    coverage : {"dev", "eval", "partial"}
        Whether the machine/section pairs are exactly the year's official dev or eval test set.
    floors : list of FloorComparison
        The run's training-free floors scored on the same clips (empty for scores outside a run).
    """

    year: int
    official_score: float
    sections: list[SectionResult]
    machines: dict[str, dict[str, float]]
    summary: dict[str, float]
    clips: list[ScoredClip]
    coverage: str
    floors: list[FloorComparison] = field(default_factory=list)

    @property
    def beats_floors(self) -> bool | None:
        """Whether the official score is above every floor's (None without floors)."""
        return all(f.beaten for f in self.floors) if self.floors else None

    def floors_summary(self) -> str:
        """Lines comparing the run with its floors, and a plain warning when it does not beat them."""
        return format_floors(self.official_score, [f.to_dict() for f in self.floors])

    @property
    def rule(self) -> str:
        """One line describing the year's scoring rule."""
        return RULES[self.year]

    def to_dict(self) -> dict[str, object]:
        """JSON-able dict with every number: year, official_score, rule, coverage, summary,
        machines, sections and clips."""
        return {
            "year": self.year,
            "official_score": self.official_score,
            "rule": self.rule,
            "coverage": self.coverage,
            "summary": dict(self.summary),
            "machines": {m: dict(v) for m, v in self.machines.items()},
            "sections": [s.to_dict() for s in self.sections],
            "clips": [c.to_dict() for c in self.clips],
            "floors": [f.to_dict() for f in self.floors],
            "beats_floors": self.beats_floors,
        }

    def format_table(self) -> str:
        """Plain-text table per machine and section (values in %), the official score on the last line."""
        from sslasd.evaluation.tables import format_table

        return format_table(self)


def floor_verdict(official_score: float, floors: list[dict[str, Any]]) -> str | None:
    """A warning when a run does not beat its best floor (or only within noise); None when it does.

    ``floors`` are :meth:`FloorComparison.to_dict` records, as ``metrics.json`` stores them.
    """
    if not floors:
        return None
    best = max(floors, key=lambda f: f["official_score"])
    if best["difference"]["estimate"] <= 0:
        return (
            f"WARNING: this run ({100 * official_score:.2f} %) does not beat its {best['name']} floor "
            f"({100 * best['official_score']:.2f} %): a detector with no training scores as well or "
            "better on this data"
        )
    if best["difference"]["low"] <= 0:
        return (
            f"note: this run is above its best floor ({best['name']}), but the 95 % interval of the "
            "difference includes zero: the gain may be the luck of the test clips"
        )
    return None


def format_floors(official_score: float, floors: list[dict[str, Any]]) -> str:
    """Plain-text comparison of a run with its floors (``metrics.json`` records), verdict last."""
    if not floors:
        return ""
    lines = ["run vs its floors (official score, %; run - floor with 95 % paired bootstrap interval):"]
    lines.append(f"  {'this run':<10} {100 * official_score:6.2f}")
    for f in floors:
        d = f["difference"]
        interval = f"{100 * d['estimate']:+.2f} [{100 * d['low']:+.2f}, {100 * d['high']:+.2f}]"
        lines.append(
            f"  {f['name']:<10} {100 * f['official_score']:6.2f}   {interval}   ({f['description']})"
        )
    verdict = floor_verdict(official_score, floors)
    return "\n".join([*lines, verdict] if verdict else lines)
