"""Plain-text tables of an :class:`~sslasd.evaluation.result.EvaluationResult` (values in %).

One row per machine/section with the values the year's rule uses, then the machine's arithmetic
and (from 2021) harmonic means, the means over all machines, and the official score on the last line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sslasd.evaluation.rules import OFFICIAL_KEYS, rule_of

if TYPE_CHECKING:
    from sslasd.evaluation.result import EvaluationResult

# the value columns are the rule's official keys (OFFICIAL_KEYS), headed AUC-s, pAUC-t...; decision
# columns are added when decisions were given
_DECISIONS: dict[str, list[tuple[str, str]]] = {
    "2020": [("P", "precision"), ("R", "recall"), ("F1", "f1")],
    "2022": [
        (f"{h}-{d[0]}", f"{k}_{d}")
        for h, k in (("P", "precision"), ("R", "recall"), ("F1", "f1"))
        for d in ("source", "target")
    ],
}


def format_table(result: EvaluationResult) -> str:
    """The table as one string, ending with ``official score (...): NN.NN`` (no trailing newline)."""
    rule = rule_of(result.year)
    columns = [(_header(k), k) for k in OFFICIAL_KEYS[rule]]
    if any(s.decisions for s in result.sections):
        columns += _DECISIONS["2020" if rule == "2020" else "2022"]
    means = ("amean",) if result.year == 2020 else ("amean", "hmean")
    label = "section" if result.year >= 2021 else "id"
    rows: list[list[str]] = [["machine", label, *(h for h, _ in columns), "score"]]
    for machine, summary in result.machines.items():
        for s in (s for s in result.sections if s.machine == machine):
            rows.append([machine, s.section, *(_pct(s.value(k)) for _, k in columns), ""])
        rows += _mean_rows(machine, summary, columns, means, "score")
    rows += _mean_rows("all", result.summary, columns, means, "official_score")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    extent = {"dev": "development set", "eval": "evaluation set"}.get(
        result.coverage, "partial set, not comparable"
    )
    lines.append(f"official score (DCASE {result.year} rule, {extent}): {_pct(result.official_score)}")
    return "\n".join(line.rstrip() for line in lines)


def _mean_rows(
    name: str,
    values: dict[str, float],
    columns: list[tuple[str, str]],
    means: tuple[str, ...],
    score_key: str,
) -> list[list[str]]:
    rows = []
    for i, mean in enumerate(means):
        score = _pct(values.get(score_key)) if i == len(means) - 1 else ""
        label = {"amean": "a-mean", "hmean": "h-mean"}[mean]
        rows.append([name, label, *(_pct(values.get(f"{k}_{mean}")) for _, k in columns), score])
    return rows


def _header(key: str) -> str:
    """``auc_source`` -> ``AUC-s``, ``pauc`` -> ``pAUC``."""
    metric, _, domain = key.partition("_")
    return {"auc": "AUC", "pauc": "pAUC"}[metric] + (f"-{domain[0]}" if domain else "")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100.0 * value:.2f}"
