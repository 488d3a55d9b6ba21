"""ScoreEnsemble: members on their training scale, weights, threshold, state, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sslasd.backends import ScoreEnsemble, fit_threshold
from sslasd.errors import CheckpointError, ConfigError, DataError, NotFittedError


@pytest.fixture
def members() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.gamma(2.0, 0.01, 80), rng.gamma(3.0, 50.0, 80)]  # unrelated scales


def test_each_member_is_standardised_with_its_training_scores(members) -> None:
    ens = ScoreEnsemble(weights=[1.0, 3.0]).fit(members)
    np.testing.assert_allclose(ens.mean_, [m.mean() for m in members])
    np.testing.assert_allclose(ens.std_, [m.std() for m in members])
    test = [np.array([0.05, 0.0]), np.array([100.0, 400.0])]
    z = [(t - m.mean()) / m.std() for t, m in zip(test, members)]
    np.testing.assert_allclose(ens.combine(test), (1.0 * z[0] + 3.0 * z[1]) / 4.0)
    np.testing.assert_allclose(ens.train_scores_, ens.combine(members))
    assert ens.threshold_ == fit_threshold(ens.train_scores_, "gamma", 0.9)


def test_a_clips_score_does_not_depend_on_the_other_test_clips(members) -> None:
    """Only training statistics are used: scoring a clip alone or among others gives one number."""
    ens = ScoreEnsemble().fit(members)
    rng = np.random.default_rng(1)
    batch = [rng.gamma(2.0, 0.02, 30), rng.gamma(3.0, 80.0, 30)]
    alone = ens.combine([b[:1] for b in batch])
    among = ens.combine(batch)[:1]
    shifted = ens.combine([np.r_[b[:1], b[1:] * 100] for b in batch])[:1]
    np.testing.assert_array_equal(alone, among)
    np.testing.assert_array_equal(alone, shifted)
    assert ens.mean_.tolist() == ScoreEnsemble().fit(members).mean_.tolist()


def test_state_round_trips_through_json(members) -> None:
    ens = ScoreEnsemble(weights=[2.0, 1.0], threshold="percentile", threshold_q=0.8).fit(members)
    back = ScoreEnsemble.from_dict(json.loads(json.dumps(ens.to_dict())))
    test = [np.array([0.01, 0.1]), np.array([10.0, 500.0])]
    np.testing.assert_array_equal(back.combine(test), ens.combine(test))
    assert back.threshold_ == ens.threshold_
    with pytest.raises(CheckpointError, match="mean_"):
        ScoreEnsemble.from_dict({k: v for k, v in ens.to_dict().items() if k != "mean_"})


def test_refusals(members) -> None:
    with pytest.raises(NotFittedError):
        ScoreEnsemble().combine(members)
    with pytest.raises(DataError, match="different training clips"):
        ScoreEnsemble().fit([members[0], members[1][:-1]])
    with pytest.raises(DataError, match="not all finite"):
        ScoreEnsemble().fit([members[0], np.r_[members[1][:-1], np.nan]])
    with pytest.raises(ConfigError, match="one per member"):
        ScoreEnsemble(weights=[1.0]).fit(members)
    with pytest.raises(ConfigError, match="one per member"):
        ScoreEnsemble(weights=[1.0, -1.0]).fit(members)
    with pytest.raises(DataError, match="2 members"):
        ScoreEnsemble().fit(members).combine(members[:1])
