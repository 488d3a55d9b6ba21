"""ROC curves of the report: the clip sets of each year's rule, AUC and pAUC against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from sslasd.report.roc import domains_of, group_clips, roc_curves


def brute_auc(normal: np.ndarray, anomaly: np.ndarray) -> float:
    """P(anomaly score > normal score) + half the ties, by counting every pair."""
    diff = anomaly[:, None] - normal[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def brute_pauc(normal: np.ndarray, anomaly: np.ndarray, max_fpr: float = 0.1) -> float:
    """Trapezoid under the ROC up to ``max_fpr`` (interpolated), McClish-standardised."""
    thresholds = np.sort(np.unique(np.concatenate([normal, anomaly])))[::-1]
    fpr = np.array([0.0, *[(normal >= t).mean() for t in thresholds]])
    tpr = np.array([0.0, *[(anomaly >= t).mean() for t in thresholds]])
    stop = np.searchsorted(fpr, max_fpr, side="right")
    x = np.append(fpr[:stop], max_fpr)
    y = np.append(tpr[:stop], np.interp(max_fpr, fpr, tpr))
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
    lo, hi = max_fpr**2 / 2, max_fpr
    return 0.5 * (1 + (area - lo) / (hi - lo))


def random_clips(rng: np.random.Generator, *, domains=("source", "target")) -> list[dict]:
    clips = []
    for machine, section in [("fan", "00"), ("fan", "01"), ("pump", "00")]:
        for domain in domains:
            for label, n, mean in (("normal", 30, 0.0), ("anomaly", 12, 0.8)):
                for i in range(n):
                    score = round(float(rng.normal(mean + (0.3 if domain == "target" else 0.0))), 1)  # ties
                    clips.append(
                        dict(
                            name=f"{machine}_{section}_{domain}_{label}_{i}.wav",
                            machine=machine,
                            section=section,
                            domain=domain,
                            label=label,
                            score=score,
                        )
                    )
    return clips


def _scores(clips: list[dict], **match) -> np.ndarray:
    return np.array([c["score"] for c in clips if all(c[k] == v for k, v in match.items())])


@pytest.mark.parametrize("year", [2021, 2022, 2024, 2025])
def test_domain_curves_follow_the_year_rule(year: int) -> None:
    clips = random_clips(np.random.default_rng(year))
    curves = roc_curves(clips, year)
    assert [(c.machine, c.section, c.domain) for c in curves] == [
        (m, s, d) for m, s in [("fan", "00"), ("fan", "01"), ("pump", "00")] for d in ("source", "target")
    ]
    for c in curves:
        group = dict(machine=c.machine, section=c.section)
        normal = _scores(clips, **group, domain=c.domain, label="normal")
        anomaly = _scores(clips, **group, label="anomaly", **({"domain": c.domain} if year == 2021 else {}))
        assert (c.n_normal, c.n_anomaly) == (len(normal), len(anomaly))
        assert c.auc == pytest.approx(brute_auc(normal, anomaly), abs=1e-12)
        assert c.pauc == pytest.approx(brute_pauc(normal, anomaly), abs=1e-9)
        assert c.fpr[0] == 0 and c.fpr[-1] == 1 and np.all(np.diff(c.fpr) >= 0)


def test_2020_uses_all_clips_of_the_machine_id() -> None:
    clips = random_clips(np.random.default_rng(0), domains=("none",))
    curves = roc_curves(clips, 2020)
    assert {c.domain for c in curves} == {"all"} and len(curves) == 3
    c = curves[0]
    normal = _scores(clips, machine=c.machine, section=c.section, label="normal")
    anomaly = _scores(clips, machine=c.machine, section=c.section, label="anomaly")
    assert c.auc == pytest.approx(brute_auc(normal, anomaly), abs=1e-12)


def test_sets_without_both_labels_are_left_out() -> None:
    clips = [
        dict(machine="fan", section="00", domain="source", label="normal", score=0.1),
        dict(machine="fan", section="00", domain="source", label="unknown", score=0.9),
    ]
    assert roc_curves(clips, 2024) == []


def test_curves_match_the_score_table_of_the_fake_run(fake_run) -> None:
    metrics = fake_run.metrics
    by_section = {(s["machine"], s["section"]): s for s in metrics["sections"]}
    curves = roc_curves(metrics["clips"], metrics["year"])
    assert len(curves) == 2 * len(by_section)
    for c in curves:
        assert c.auc == pytest.approx(by_section[(c.machine, c.section)][f"auc_{c.domain}"], abs=1e-12)


def test_grouping_and_domain_order() -> None:
    clips = [
        dict(machine=m, section=s, domain=d)
        for m, s, d in [
            ("valve", "00", "target"),
            ("fan", "01", "source"),
            ("fan", "00", "target"),
            ("fan", "00", "source"),
        ]
    ]
    assert list(group_clips(clips)) == [("fan", "00"), ("fan", "01"), ("valve", "00")]
    assert domains_of(clips) == ["source", "target"]
