"""Score tables of ``metrics.json``: the official numbers per machine/section, then per domain.

The first table has the columns that the year's rule averages (bold) and the diagnostics that
it does not (grey), a mean row per machine with the machine's score, and the official score
on the last row. The second table breaks each section down by domain: clip counts, AUCs,
pAUC, and the precision / recall / F1 of the decisions when they were evaluated.
Values are fractions in the JSON and percentages on the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sslasd.evaluation.rules import OFFICIAL_KEYS, rule_of
from sslasd.report.html import Cell, table

# (header, key) of the per-section columns, by rule; the official ones are listed per section
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "2020": [("AUC", "auc"), ("pAUC", "pauc")],
    "2021": [
        ("AUC source", "auc_source"),
        ("AUC target", "auc_target"),
        ("pAUC source", "pauc_source"),
        ("pAUC target", "pauc_target"),
        ("AUC all", "auc"),
        ("pAUC all", "pauc"),
    ],
    "2022": [
        ("AUC source", "auc_source"),
        ("AUC target", "auc_target"),
        ("pAUC", "pauc"),
        ("pAUC source", "pauc_source"),
        ("pAUC target", "pauc_target"),
        ("AUC all", "auc"),
    ],
}
DOMAINS = ("source", "target", "none", "all")


def pct(value: Any) -> str:
    """A fraction as a percentage with two decimals; ``–`` when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return f"{100.0 * value:.2f}"


def official_table(metrics: Mapping[str, Any]) -> str:
    """HTML table of every section's official values and diagnostics, machine means, official score.

    Example
    -------
    >>> m = {"year": 2024, "official_score": 0.8, "machines": {"fan": {"score": 0.8}},
    ...      "sections": [{"machine": "fan", "section": "00", "auc_source": 0.9}], "clips": []}
    >>> "90.00" in official_table(m)
    True
    """
    rule = rule_of(int(metrics["year"]))
    columns = COLUMNS[rule]
    mean = "amean" if rule == "2020" else "hmean"
    headers = [Cell("machine", "l"), Cell("section" if rule != "2020" else "ID", "l")]
    headers += [Cell(h) for h, _ in columns] + [Cell("score")]
    machines: Mapping[str, Mapping[str, Any]] = metrics.get("machines") or {}
    rows: list[tuple[str, list[Cell]]] = []
    by_machine: dict[str, list[Mapping[str, Any]]] = {}
    for s in metrics["sections"]:
        by_machine.setdefault(str(s.get("machine")), []).append(s)
    for machine, sections in by_machine.items():
        for s in sections:
            official = set(s.get("official") or OFFICIAL_KEYS[rule])
            cells = [Cell(machine, "l"), Cell(str(s.get("section", "")), "l")]
            cells += [Cell(pct(s.get(k)), "official" if k in official else "diag") for _, k in columns]
            rows.append(("", [*cells, Cell("")]))
        means = _means(machines.get(machine, {}), columns, OFFICIAL_KEYS[rule], mean)
        score = Cell(pct(machines.get(machine, {}).get("score")))
        rows.append(("mean", [Cell(machine, "l"), Cell(_mean_label(mean), "l"), *means, score]))
    means = _means(metrics.get("summary") or {}, columns, OFFICIAL_KEYS[rule], mean)
    rows.append(
        (
            "total",
            [
                Cell("all machines", "l"),
                Cell(_mean_label(mean), "l"),
                *means,
                Cell(pct(metrics.get("official_score"))),
            ],
        )
    )
    return table(headers, rows)


def _means(
    values: Mapping[str, Any], columns: Sequence[tuple[str, str]], official: Sequence[str], mean: str
) -> list[Cell]:
    """Mean cells of the official columns (``<key>_<mean>``); diagnostics have no mean (blank)."""
    return [Cell(pct(values.get(f"{k}_{mean}")) if k in official else "") for _, k in columns]


def _mean_label(mean: str) -> str:
    return {"amean": "arith. mean", "hmean": "harm. mean"}[mean]


def domain_table(metrics: Mapping[str, Any]) -> str:
    """HTML table with one row per machine, section and domain: counts, AUCs, pAUC, decisions."""
    headers = [Cell(h, "l") for h in ("machine", "section", "domain")]
    headers += [
        Cell(h)
        for h in (
            "normal",
            "anomalous",
            "AUC (rule)",
            "AUC (domain)",
            "pAUC (domain)",
            "precision",
            "recall",
            "F1",
        )
    ]
    rows = []
    for s in metrics["sections"]:
        for domain in _domains(s):
            counts = s.get("counts") or {}
            all_decisions = s.get("decisions") or {}
            decisions = (
                all_decisions.get(domain) or (all_decisions.get("all") if domain == "none" else None) or {}
            )
            if domain in ("source", "target"):
                values = [s.get(f"auc_{domain}"), s.get(f"domain_auc_{domain}"), s.get(f"pauc_{domain}")]
            else:
                values = [s.get("auc"), s.get("auc"), s.get("pauc")]
            cells = [
                Cell(str(s.get("machine", "")), "l"),
                Cell(str(s.get("section", "")), "l"),
                Cell(domain, "l"),
            ]
            cells += [
                Cell(_count(counts.get(f"normal_{domain}"))),
                Cell(_count(counts.get(f"anomaly_{domain}"))),
            ]
            cells += [Cell(pct(v)) for v in values]
            cells += [Cell(pct(decisions.get(k))) for k in ("precision", "recall", "f1")]
            rows.append(("", cells))
    return table(headers, rows)


def _domains(section: Mapping[str, Any]) -> Sequence[str]:
    """Domains of a section, from its counts (``normal_source``...) or its decision metrics."""
    seen = {key.rpartition("_")[2] for key in (section.get("counts") or {})}
    seen |= set(section.get("decisions") or {}) - ({"all"} if "none" in seen else set())
    found = [d for d in DOMAINS if d in seen]
    return found or ["all"]


def _count(value: Any) -> str:
    return str(value) if isinstance(value, int) else "–"
