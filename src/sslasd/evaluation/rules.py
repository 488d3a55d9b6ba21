"""The per-year DCASE Task 2 scoring rules, applied to scores joined to labelled test clips.

- 2020 (``dcase2020_task2_evaluator``): AUC and pAUC over all test clips of each machine ID. The
  script prints per-machine means only; the official score here is the arithmetic mean over
  machines of each machine's mean of its AUCs and pAUCs, as papers (and ASDKit) report it.
- 2021 (``dcase2021_task2_evaluator``): AUC and pAUC per section and domain, each over that
  domain's normals and anomalies; official score = harmonic mean of all of them.
- 2022-2026 (``dcase2022_evaluator``, nttcslab ``dcase2023/2024/2025_task2_evaluator``; 2026 keeps
  the 2024 rule, as its task description says):
  AUC_source over source normals + all anomalies of the section, AUC_target over target normals +
  all anomalies, pAUC over all clips of the section; official score = harmonic mean of all
  AUC_source, AUC_target and pAUC values of all sections and machines.

Harmonic means floor values at machine epsilon, as the evaluators do. Where the evaluators differ
from each other in a printed diagnostic (the 2022 script's per-machine "source harmonic mean" uses
only the first section, a bug fixed in 2023), the fixed definition is used.

Example
-------
>>> from sslasd.data.clip import Clip
>>> clips = [Clip(f"fan/test/{n}", 2020, "fan", "00", "none", "test", lab)
...          for n, lab in [("a.wav", "normal"), ("b.wav", "normal"), ("c.wav", "anomaly")]]
>>> r = evaluate_scores(clips, {"a.wav": 0.1, "b.wav": 0.7, "c.wav": 0.5}, year=2020)
>>> s = r.sections[0]  # the anomaly beats one normal of two; it is below the top normal
>>> s.auc, round(s.pauc, 4), round(r.official_score, 4)  # pAUC 9/19; mean of the two
(0.5, 0.4737, 0.4868)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from sslasd.data.clip import Clip
from sslasd.evaluation.join import ScoredClip, join_scores
from sslasd.evaluation.metrics import (
    arithmetic_mean,
    auc,
    decision_metrics,
    harmonic_mean,
    pauc,
)
from sslasd.evaluation.result import DECISION_FIELDS, EvaluationResult, SectionResult
from sslasd.evaluation.years import check_year, coverage

DOMAINS = ("source", "target")

#: the section values each rule family's official score averages (see :func:`official_subsets`)
OFFICIAL_KEYS: dict[str, tuple[str, ...]] = {
    "2020": ("auc", "pauc"),
    "2021": ("auc_source", "auc_target", "pauc_source", "pauc_target"),
    "2022": ("auc_source", "auc_target", "pauc"),
}


def rule_of(year: int) -> str:
    """The rule family of a DCASE year: ``2020``, ``2021`` or ``2022`` (2022-2026 share one rule).

    The one place that maps a year to its rule; the tables and the report read it from here.
    """
    return "2020" if year <= 2020 else "2021" if year == 2021 else "2022"


def evaluate_scores(
    clips: Sequence[Clip],
    scores: Mapping[str, float],
    *,
    year: int,
    decisions: Mapping[str, int] | None = None,
) -> EvaluationResult:
    """Score anomaly scores of labelled test clips with the official rule of DCASE ``year``.

    Parameters
    ----------
    clips : sequence of Clip
        Labelled clips (``label`` normal/anomaly; ``domain`` source/target from 2021 on). Training
        clips (``split == "train"``) are ignored, so a whole data-set index can be passed.
    scores : mapping of str to float
        Anomaly score per test clip (higher = more anomalous), keyed by file name, or by
        ``"<machine>/<file name>"`` where names repeat across machines.
    year : int
        2020-2026: which edition's rule to apply.
    decisions : mapping of str to int, optional
        0/1 decision per test clip (1 = anomaly), keyed like ``scores``; adds precision, recall and
        F1 per domain, as the 2021-2026 evaluators report them.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    ConfigError
        When ``year`` is not 2020-2026.
    DataError
        When scores and clips do not match one to one, a value is not finite, a clip is unlabelled,
        or a section lacks the normals or anomalies a metric of the rule needs.
    """
    year = check_year(year)
    test_clips = [c for c in clips if c.split == "test"]
    joined = join_scores(test_clips, scores, decisions, need_domain=year >= 2021)
    groups: dict[tuple[str, str], list[ScoredClip]] = {}
    for item in joined:
        groups.setdefault((item.machine, item.section), []).append(item)
    with_decisions = decisions is not None
    sections = [_section(year, m, s, groups[(m, s)], with_decisions) for m, s in sorted(groups)]
    machines = {
        m: _means(year, [s for s in sections if s.machine == m])
        for m in sorted({s.machine for s in sections})
    }
    summary = _summary(year, sections, machines)
    return EvaluationResult(
        year=year,
        official_score=summary["official_score"],
        sections=sections,
        machines=machines,
        summary=summary,
        clips=sorted(joined, key=lambda c: (c.machine, c.section, c.name)),
        coverage=coverage(year, groups),
    )


def _section(
    year: int, machine: str, section: str, items: list[ScoredClip], with_decisions: bool
) -> SectionResult:
    where = f"{machine} section {section}"
    y = np.array([c.label == "anomaly" for c in items], dtype=int)
    s = np.array([c.score for c in items], dtype=float)
    d = np.array([-1 if c.decision is None else c.decision for c in items], dtype=int)
    domain = np.array([c.domain for c in items])
    counts = {f"{label}_{dom}": 0 for label in ("normal", "anomaly") for dom in sorted(set(domain))}
    for c in items:
        counts[f"{c.label}_{c.domain}"] += 1
    common = {"machine": machine, "section": section, "counts": counts}
    if year == 2020:
        decisions = {"all": decision_metrics(y, d)} if with_decisions else {}
        return SectionResult(
            auc=auc(y, s, what=f"{where}: AUC"),
            pauc=pauc(y, s, what=f"{where}: pAUC"),
            official_keys=("auc", "pauc"),
            decisions=decisions,
            **common,
        )
    in_domain = {dom: domain == dom for dom in DOMAINS}
    decisions = {}
    if with_decisions:
        decisions = {dom: decision_metrics(y[m], d[m]) for dom, m in in_domain.items()}
    required = year == 2021
    domain_auc = {
        dom: _optional(auc, y[m], s[m], f"{where}: AUC ({dom} clips)", required)
        for dom, m in in_domain.items()
    }
    domain_pauc = {
        dom: _optional(pauc, y[m], s[m], f"{where}: pAUC ({dom} clips)", required)
        for dom, m in in_domain.items()
    }
    if year == 2021:
        rule_auc = domain_auc
        official = ("auc_source", "auc_target", "pauc_source", "pauc_target")
    else:
        mixed = {dom: m | (y == 1) for dom, m in in_domain.items()}
        rule_auc = {
            dom: auc(y[m], s[m], what=f"{where}: AUC ({dom} normals + all anomalies)")
            for dom, m in mixed.items()
        }
        official = ("auc_source", "auc_target", "pauc")
    return SectionResult(
        auc=auc(y, s, what=f"{where}: AUC"),
        pauc=pauc(y, s, what=f"{where}: pAUC"),
        official_keys=official,
        auc_source=rule_auc["source"],
        auc_target=rule_auc["target"],
        pauc_source=domain_pauc["source"],
        pauc_target=domain_pauc["target"],
        domain_auc_source=domain_auc["source"],
        domain_auc_target=domain_auc["target"],
        decisions=decisions,
        **common,
    )


def official_subsets(year: int, y: np.ndarray, domain: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    """Each official value of a section as ``key -> (metric, mask of the clips it is computed on)``.

    ``metric`` is ``"auc"`` or ``"pauc"``; ``y`` is 1 for anomalies. The table the bootstrap of
    :mod:`sslasd.evaluation.bootstrap` uses; :func:`evaluate_scores` computes the same sets (a test
    checks that both give the same official score).
    """
    everything = np.ones(len(y), dtype=bool)
    rule = rule_of(year)
    if rule == "2020":
        subsets = {"auc": ("auc", everything), "pauc": ("pauc", everything)}
    elif rule == "2021":
        source, target = domain == "source", domain == "target"
        subsets = {
            "auc_source": ("auc", source),
            "auc_target": ("auc", target),
            "pauc_source": ("pauc", source),
            "pauc_target": ("pauc", target),
        }
    else:
        source, target, anomalies = domain == "source", domain == "target", y == 1
        subsets = {
            "auc_source": ("auc", source | anomalies),
            "auc_target": ("auc", target | anomalies),
            "pauc": ("pauc", everything),
        }
    return {key: subsets[key] for key in OFFICIAL_KEYS[rule]}


def combine_official(year: int, values: Mapping[str, Sequence[float]]) -> float:
    """The official score from each machine's official section values (``machine -> values``).

    2020: arithmetic mean over machines of each machine's mean; 2021-2026: harmonic mean of all.
    """
    if year == 2020:
        return arithmetic_mean([arithmetic_mean(v) for v in values.values()])
    return harmonic_mean([x for v in values.values() for x in v])


def _optional(
    metric: Callable[..., float], y: np.ndarray, s: np.ndarray, what: str, required: bool
) -> float | None:
    """``metric(y, s)``, or None when the set lacks a class and the rule does not need it."""
    if not required and (np.all(y == 1) or np.all(y == 0)):
        return None
    return metric(y, s, what=what)


def _pooled(year: int) -> dict[str, tuple[str, ...]]:
    """Per aggregate name, the section values it pools (the columns the year's evaluator averages)."""
    if year == 2020:
        return {"auc": ("auc",), "pauc": ("pauc",), **{f: (f,) for f in DECISION_FIELDS}}
    pooled: dict[str, tuple[str, ...]] = {
        "auc_source": ("auc_source",),
        "auc_target": ("auc_target",),
        "auc": ("auc_source", "auc_target"),
    }
    if year == 2021:
        pooled |= {"pauc_source": ("pauc_source",), "pauc_target": ("pauc_target",)}
        pooled["pauc"] = ("pauc_source", "pauc_target")
    else:
        pooled["pauc"] = ("pauc",)
    for f in DECISION_FIELDS:
        pooled |= {f"{f}_{dom}": (f"{f}_{dom}",) for dom in DOMAINS}
        pooled[f] = tuple(f"{f}_{dom}" for dom in DOMAINS)
    return pooled


def _means(year: int, sections: list[SectionResult]) -> dict[str, float]:
    """Arithmetic (and, from 2021, harmonic) means of each pooled column, plus ``score``."""
    out: dict[str, float] = {}
    for name, keys in _pooled(year).items():
        values = [v for s in sections for k in keys if (v := s.value(k)) is not None]
        if not values:
            continue
        out[f"{name}_amean"] = arithmetic_mean(values)
        if year >= 2021:
            out[f"{name}_hmean"] = harmonic_mean(values)
    official = [v for s in sections for v in s.official_values().values()]
    out["score"] = arithmetic_mean(official) if year == 2020 else harmonic_mean(official)
    return out


def _summary(
    year: int, sections: list[SectionResult], machines: dict[str, dict[str, float]]
) -> dict[str, float]:
    """Over-all means: 2020 averages the per-machine means; later years pool all sections."""
    if year == 2020:
        keys = sorted({k for m in machines.values() for k in m})
        summary = {k: arithmetic_mean([m[k] for m in machines.values()]) for k in keys if k != "score"}
        summary["official_score"] = arithmetic_mean([m["score"] for m in machines.values()])
        return summary
    summary = _means(year, sections)
    summary["official_score"] = summary.pop("score")
    return summary
