"""Decision thresholds: a gamma fit that cannot diverge, the plain percentile, and their refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sslasd.backends.threshold import (
    apply_threshold,
    fit_gamma_threshold,
    fit_percentile_threshold,
    fit_threshold,
    fit_thresholds,
)
from sslasd.errors import ConfigError, DataError


@pytest.mark.parametrize(("shape", "scale"), [(4.0, 0.5), (2.0, 3.0), (1.2, 0.01)])
def test_gamma_threshold_is_the_location_zero_fit_and_the_true_quantile(shape, scale) -> None:
    rng = np.random.default_rng(0)
    train = rng.gamma(shape, scale, size=2000)
    threshold = fit_gamma_threshold(train, 0.9)
    a, _, fitted_scale = stats.gamma.fit(train, floc=0)  # positive scores: location fixed at 0
    assert threshold == pytest.approx(stats.gamma.ppf(q=0.9, a=a, scale=fitted_scale), rel=1e-12)
    assert threshold == pytest.approx(stats.gamma.ppf(0.9, shape, scale=scale), rel=0.05)
    assert np.mean(train > threshold) == pytest.approx(0.1, abs=0.02)


@pytest.mark.parametrize(
    "train",
    [
        np.random.default_rng(1).lognormal(-3, 1.5, size=200),  # heavy right tail
        0.01 * (np.random.default_rng(2).pareto(1.5, size=200) + 1),  # heavier still
        np.concatenate(  # most distances tiny, a tenth far: skewed leave-one-out distances
            [np.random.default_rng(3).gamma(1.2, 0.01, size=180), np.random.default_rng(4).gamma(8, 0.05, 20)]
        ),
        np.random.default_rng(5).standard_t(3, size=300),  # negative scores (standardised distances)
        5.0 + np.random.default_rng(6).gamma(9.0, 0.1, size=500),  # far from 0
    ],
    ids=["lognormal", "pareto", "skewed", "t3-negative", "shifted"],
)
def test_gamma_threshold_flags_about_one_in_ten_whatever_the_shape(train: np.ndarray) -> None:
    threshold = fit_gamma_threshold(train, 0.9)
    assert 0.02 <= np.mean(train > threshold) <= 0.18


def test_where_the_free_location_fit_flags_almost_nothing_the_fixed_one_does_not() -> None:
    """Skewed leave-one-out-like distances on which scipy's free-location fit (the DCASE baselines'
    call) puts the 0.9 quantile above 98 % of the training scores."""
    rng = np.random.default_rng(43)
    train = np.concatenate([rng.gamma(0.8, 0.01, size=50), rng.gamma(5, 0.1, size=10)])
    a, loc, scale = stats.gamma.fit(train)
    assert np.mean(train > stats.gamma.ppf(0.9, a, loc=loc, scale=scale)) < 0.02
    assert 0.05 <= np.mean(train > fit_gamma_threshold(train, 0.9)) <= 0.18


def test_a_fit_that_disagrees_with_the_scores_falls_back_to_the_empirical_quantile(caplog) -> None:
    train = 0.3 + 1e-9 * np.random.default_rng(7).normal(size=100)  # near-constant: no gamma fits
    with caplog.at_level("WARNING"):
        threshold = fit_gamma_threshold(train, 0.9)
    assert threshold == np.quantile(train, 0.9)
    assert "using the empirical 0.90 quantile" in caplog.text


def test_higher_quantile_gives_higher_threshold() -> None:
    train = np.random.default_rng(1).gamma(3.0, 1.0, size=300)
    assert (
        fit_gamma_threshold(train, 0.5) < fit_gamma_threshold(train, 0.9) < fit_gamma_threshold(train, 0.99)
    )


@pytest.mark.parametrize("percentile", [0.0, 12.5, 50.0, 90.0, 100.0])
def test_percentile_equals_linear_interpolation_by_hand(percentile: float) -> None:
    values = np.random.default_rng(2).normal(size=37)
    ordered = np.sort(values)
    position = percentile / 100 * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    expected = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    assert fit_percentile_threshold(values, percentile) == pytest.approx(expected, abs=1e-12)


def test_fit_threshold_dispatches() -> None:
    train = np.random.default_rng(3).gamma(2.0, 1.0, size=100)
    assert fit_threshold(train) == fit_gamma_threshold(train, 0.9)
    assert fit_threshold(train, "gamma", q=0.8) == fit_gamma_threshold(train, 0.8)
    assert fit_threshold(train, "percentile", q=0.75) == fit_percentile_threshold(train, 75.0)


def test_per_group_thresholds_name_the_failing_group() -> None:
    groups = {("fan", "00"): [1.0, 2.0, 3.0], ("fan", "01"): [4.0, 5.0]}
    assert fit_thresholds(groups, "percentile", q=0.5) == {("fan", "00"): 2.0, ("fan", "01"): 4.5}
    with pytest.raises(DataError, match=r"\('valve', '00'\): training scores: got 1, need at least 2"):
        fit_thresholds({("valve", "00"): [1.0]})


def test_constant_scores_give_that_value() -> None:
    assert fit_gamma_threshold([0.3, 0.3, 0.3]) == 0.3


def test_decisions_are_strictly_above_the_threshold() -> None:
    assert apply_threshold([0.1, 0.5, 0.50001, 2.0], 0.5).tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ([], "got 0, need at least 2"),
        ([1.0], "got 1, need at least 2"),
        ([1.0, float("nan"), 2.0], r"1 of 3 are not finite: \[1\]=nan"),
        ([1.0, float("inf")], "are not finite"),
        (["a", "b"], "expected numbers"),
    ],
)
@pytest.mark.parametrize("method", ["gamma", "percentile"])
def test_bad_scores_are_refused(scores, message, method) -> None:
    with pytest.raises(DataError, match=message):
        fit_threshold(scores, method)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "median"}, "threshold method: got 'median'"),
        ({"q": 0.0}, "q: got 0.0, expected a number in \\(0, 1\\)"),
        ({"q": 1.0}, "q: got 1.0"),
        ({"q": 90}, "q: got 90"),
    ],
)
def test_bad_settings_are_refused(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        fit_threshold([1.0, 2.0, 3.0], **kwargs)
    with pytest.raises(ConfigError, match="percentile: got 101"):
        fit_percentile_threshold([1.0, 2.0], 101)
