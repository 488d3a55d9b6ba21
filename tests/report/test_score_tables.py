"""Score tables: every number of metrics.json in %, means of the official columns, one row per domain."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from sslasd.evaluation.rules import rule_of
from sslasd.report.score_tables import domain_table, official_table, pct


class _Rows(HTMLParser):
    """Table rows as lists of cell texts, with each row's class."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append((dict(attrs).get("class", ""), []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def rows_of(html: str) -> list[tuple[str, list[str]]]:
    parser = _Rows()
    parser.feed(html)
    return parser.rows


@pytest.mark.parametrize(
    ("value", "text"), [(0.91346, "91.35"), (1, "100.00"), (None, "–"), ("x", "–"), (True, "–")]
)
def test_pct(value, text: str) -> None:
    assert pct(value) == text


@pytest.mark.parametrize(("year", "rule"), [(2020, "2020"), (2021, "2021"), (2022, "2022"), (2025, "2022")])
def test_rule_of(year: int, rule: str) -> None:
    assert rule_of(year) == rule


def test_official_table_shows_every_section_value_and_the_means(fake_run) -> None:
    m = fake_run.metrics
    rows = rows_of(official_table(m))
    header = rows[0][1]
    by_key = {
        "AUC source": "auc_source",
        "AUC target": "auc_target",
        "pAUC": "pauc",
        "pAUC source": "pauc_source",
        "pAUC target": "pauc_target",
        "AUC all": "auc",
    }
    sections = [r for cls, r in rows[1:] if cls == ""]
    assert len(sections) == len(m["sections"])
    for cells, s in zip(sections, m["sections"]):
        assert cells[:2] == [s["machine"], s["section"]]
        for name, key in by_key.items():
            assert cells[header.index(name)] == f"{100 * s[key]:.2f}"
    means = {r[0]: r for cls, r in rows if cls == "mean"}
    for machine, values in m["machines"].items():
        assert means[machine][-1] == f"{100 * values['score']:.2f}"
        assert means[machine][header.index("AUC source")] == f"{100 * values['auc_source_hmean']:.2f}"
        assert means[machine][header.index("AUC all")] == ""  # a diagnostic has no mean
    total = [r for cls, r in rows if cls == "total"]
    assert total[0][-1] == f"{100 * m['official_score']:.2f}"


def test_domain_table_has_a_row_per_machine_section_domain(fake_run) -> None:
    m = fake_run.metrics
    rows = [r for _, r in rows_of(domain_table(m))[1:]]
    assert [tuple(r[:3]) for r in rows] == [
        (s["machine"], s["section"], d) for s in m["sections"] for d in ("source", "target")
    ]
    for r in rows:
        s = next(s for s in m["sections"] if (s["machine"], s["section"]) == tuple(r[:2]))
        d = r[2]
        assert r[3:5] == [str(s["counts"][f"normal_{d}"]), str(s["counts"][f"anomaly_{d}"])]
        assert r[5] == f"{100 * s[f'auc_{d}']:.2f}" and r[7] == f"{100 * s[f'pauc_{d}']:.2f}"
        assert r[10] == f"{100 * s['decisions'][d]['f1']:.2f}"


def test_2020_metrics_render_one_domain_row_and_arithmetic_means() -> None:
    section = {
        "machine": "fan",
        "section": "00",
        "auc": 0.8,
        "pauc": 0.6,
        "counts": {"normal_none": 5, "anomaly_none": 3},
        "decisions": {"all": {"precision": 0.5, "recall": 1.0, "f1": 2 / 3}},
    }
    m = {
        "year": 2020,
        "official_score": 0.7,
        "sections": [section],
        "clips": [],
        "machines": {"fan": {"auc_amean": 0.8, "pauc_amean": 0.6, "score": 0.7}},
    }
    rows = rows_of(official_table(m))
    assert rows[0][1][:4] == ["machine", "ID", "AUC", "pAUC"]
    assert rows[2][1][1:] == ["arith. mean", "80.00", "60.00", "70.00"]
    domain_rows = rows_of(domain_table(m))[1:]
    assert [r[:5] for _, r in domain_rows] == [["fan", "00", "none", "5", "3"]]
    assert domain_rows[0][1][-1] == "66.67"


def test_cells_are_escaped() -> None:
    m = {
        "year": 2024,
        "official_score": 0.5,
        "sections": [{"machine": "<b>fan</b>", "section": "00"}],
        "clips": [],
    }
    assert "<b>fan" not in official_table(m) and "&lt;b&gt;fan" in official_table(m)
