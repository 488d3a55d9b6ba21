"""The paired bootstrap over test clips: weighted metrics, the rule table, intervals that cover."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sslasd.data.clip import Clip
from sslasd.evaluation import evaluate_scores
from sslasd.evaluation.bootstrap import ScoreTable, compare_results, paired_interval
from sslasd.evaluation.join import ScoredClip
from sslasd.evaluation.metrics import weighted_auc, weighted_pauc
from sslasd.evaluation.result import Interval


@pytest.mark.parametrize("seed", range(5))
def test_weighted_metrics_equal_scikit_learn_with_sample_weight(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n = int(rng.integers(4, 120))
        y = np.r_[0, 1, rng.integers(0, 2, n - 2)]
        s = np.round(rng.normal(size=n) + y * rng.uniform(0, 2), int(rng.integers(0, 3)))  # with ties
        w = rng.integers(0, 4, n).astype(float)
        w[:2] = np.maximum(w[:2], 1)
        assert weighted_auc(y, s, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
        assert weighted_pauc(y, s, w) == pytest.approx(
            roc_auc_score(y, s, sample_weight=w, max_fpr=0.1), abs=1e-12
        )


def _clips(year: int, seed: int, sections: int = 3, per_group: int = 12) -> tuple[list[Clip], dict]:
    rng = np.random.default_rng(seed)
    clips, scores = [], {}
    for machine in ("fan", "pump"):
        for sec in range(sections):
            for domain in ("source", "target") if year >= 2021 else ("source",):
                for label in ("normal", "anomaly"):
                    for i in range(per_group):
                        name = f"section_{sec:02d}_{domain}_test_{label}_{i:04d}.wav"
                        if year == 2020:
                            name = f"{label}_id_{sec:02d}_{i:08d}.wav"
                        d = domain if year >= 2021 else "none"
                        clips.append(
                            Clip(f"{machine}/test/{name}", year, machine, f"{sec:02d}", d, "test", label)
                        )
                        scores[f"{machine}/{name}"] = float(rng.normal() + (label == "anomaly") * 0.8)
    return clips, scores


@pytest.mark.parametrize("year", [2020, 2021, 2022, 2024])
def test_table_official_score_equals_the_evaluator(year: int) -> None:
    clips, scores = _clips(year, seed=year)
    result = evaluate_scores(clips, scores, year=year)
    table = ScoreTable.from_result(result)
    assert table.official(table.scores_of(result)) == pytest.approx(result.official_score, abs=1e-12)


def test_resampling_keeps_every_stratum_size() -> None:
    clips, scores = _clips(2022, seed=0)
    table = ScoreTable.from_result(evaluate_scores(clips, scores, year=2022))
    w = table.draw(np.random.default_rng(0))
    ordered = sorted(clips, key=lambda c: (c.machine, c.section, c.name))
    assert [f"{c.machine}/{c.name}" for c in ordered] == table.keys
    drawn: dict[tuple[str, str, str, str], float] = {}
    sizes: dict[tuple[str, str, str, str], int] = {}
    for c, weight in zip(ordered, w):
        stratum = (c.machine, c.section, c.domain, c.label)
        drawn[stratum] = drawn.get(stratum, 0.0) + weight
        sizes[stratum] = sizes.get(stratum, 0) + 1
    assert drawn == {k: float(v) for k, v in sizes.items()}
    assert len(np.unique(w)) > 2  # some clips drawn twice or more, some not at all


def test_identical_systems_differ_by_exactly_zero() -> None:
    clips, scores = _clips(2022, seed=1)
    result = evaluate_scores(clips, scores, year=2022)
    interval = compare_results(result, result, n_boot=50)
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert not interval.excludes_zero


def test_a_known_large_difference_is_found_and_bracketed() -> None:
    clips, scores = _clips(2022, seed=2)
    result = evaluate_scores(clips, scores, year=2022)
    table = ScoreTable.from_result(result)
    perfect = table.y.astype(float)
    interval = paired_interval(table, perfect, table.scores_of(result), n_boot=300)
    assert interval.estimate == pytest.approx(1.0 - result.official_score, abs=1e-12)
    assert interval.excludes_zero and interval.low < interval.estimate < interval.high


def _population_official(effect: float, table: ScoreTable, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=len(table)) + effect * table.y


def test_interval_covers_the_true_difference_of_two_score_models() -> None:
    """Two detectors whose anomalies stand out by 1.0 and 0.6 standard deviations: the true
    difference of official scores is taken from a very large test set; 95 % intervals from small
    test sets must cover it in most repetitions (and a test with 15 clips per group is wide)."""
    big_clips, _ = _clips(2022, seed=3, sections=2, per_group=400)
    big = ScoreTable(
        2022, [ScoredClip(c.name, c.machine, c.section, c.domain, c.label, 0.0, None) for c in big_clips]
    )
    rng = np.random.default_rng(0)
    truth = big.official(_population_official(1.0, big, rng)) - big.official(
        _population_official(0.6, big, rng)
    )
    covered, widths = 0, []
    for rep in range(12):
        small_clips, _ = _clips(2022, seed=100 + rep, sections=2, per_group=15)
        small = ScoreTable(
            2022,
            [ScoredClip(c.name, c.machine, c.section, c.domain, c.label, 0.0, None) for c in small_clips],
        )
        a, b = _population_official(1.0, small, rng), _population_official(0.6, small, rng)
        interval = paired_interval(small, a, b, n_boot=120, seed=rep)
        covered += interval.low <= truth <= interval.high
        widths.append(interval.high - interval.low)
    assert covered >= 10
    assert np.median(widths) > 0.05  # 15 clips per group cannot resolve a few points


def test_a_negated_interval_is_the_difference_taken_the_other_way() -> None:
    d = Interval(0.012, -0.004, 0.03, level=0.9, n_boot=50)
    assert d.negated() == Interval(-0.012, -0.03, 0.004, level=0.9, n_boot=50)
    assert d.negated().format() == "-1.20 [-3.00, +0.40]" and d.negated().negated() == d
