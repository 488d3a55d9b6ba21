"""Every registered back-end: the estimator contract, the sign, the decision and the state round trip."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from sklearn.base import clone

from sslasd.backends import (
    BACKENDS,
    backend_from_state,
    load_backends,
    make_backend,
    save_backend_state,
    save_backends,
)
from sslasd.errors import CheckpointError, ConfigError, NotFittedError

# one non-default parameter per back-end, to see it survive clone / set_params / state
CHANGED = {
    "knn": ("n_neighbors", 2),
    "kmeans": ("n_clusters", 4),
    "smote": ("k_smote", 2),
    "mahalanobis": ("shrinkage", 0.2),
}


@pytest.fixture(params=sorted(BACKENDS))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_clone_and_params(name: str) -> None:
    key, value = CHANGED[name]
    est = make_backend(name, **{key: value})
    assert isinstance(est, BACKENDS[name])
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert twin.set_params(**{key: BACKENDS[name]().get_params()[key]}) is twin
    assert twin.get_params()[key] != value and est.get_params()[key] == value


def test_fit_returns_self_and_clone_drops_the_fit(name: str, toy) -> None:
    train, domains, _ = toy
    est = make_backend(name)
    assert est.fit(train, domains=domains) is est
    assert not hasattr(clone(est), "threshold_")


@pytest.mark.parametrize("method", ["score_samples", "decision_function", "predict"])
def test_not_fitted_error_before_fit(name: str, method: str, toy) -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(make_backend(name), method)(toy[2])
    with pytest.raises(NotFittedError):
        save_backend_state(make_backend(name))


def test_higher_score_means_more_anomalous(name: str, toy) -> None:
    train, domains, _ = toy
    est = make_backend(name).fit(train, domains=domains)
    inlier = train[:1] + 0.01
    outlier = -10.0 * (train[:30].mean(axis=0) + train[30:].mean(axis=0))[None]  # far, and away from both
    low, high = est.score_samples(np.concatenate([inlier, outlier]))
    assert high > low
    assert est.predict(outlier).tolist() == [1]
    assert est.decision_function(outlier)[0] == pytest.approx(high - est.threshold_)


def test_decision_matches_threshold(name: str, toy) -> None:
    train, domains, test = toy
    est = make_backend(name).fit(train, domains=domains)
    scores = est.score_samples(test)
    np.testing.assert_allclose(est.decision_function(test), scores - est.threshold_, atol=0)
    pred = est.predict(test)
    assert pred.dtype == np.int64
    np.testing.assert_array_equal(pred, (scores > est.threshold_).astype(np.int64))


def test_state_round_trip_through_json_and_npz(name: str, toy) -> None:
    train, domains, test = toy
    key, value = CHANGED[name]
    est = make_backend(name, **{key: value}).fit(train, domains=domains)
    state = save_backend_state(est)
    text = json.dumps({k: state[k] for k in ("backend", "params", "attributes")})
    buffer = io.BytesIO()
    np.savez(buffer, **state["arrays"])
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        loaded = backend_from_state({**json.loads(text), "arrays": {k: npz[k] for k in npz.files}})
    assert type(loaded) is type(est) and loaded.get_params() == est.get_params()
    assert loaded.threshold_ == est.threshold_
    np.testing.assert_array_equal(loaded.score_samples(test), est.score_samples(test))
    np.testing.assert_array_equal(loaded.predict(test), est.predict(test))


def test_state_errors(toy) -> None:
    train, domains, _ = toy
    state = save_backend_state(make_backend("knn").fit(train, domains=domains))
    with pytest.raises(CheckpointError, match=r"missing key\(s\) \['arrays'\]"):
        backend_from_state({k: v for k, v in state.items() if k != "arrays"})
    with pytest.raises(CheckpointError, match=r"arrays \['bank_target_'\] missing"):
        backend_from_state(
            {**state, "arrays": {k: v for k, v in state["arrays"].items() if k != "bank_target_"}}
        )
    with pytest.raises(ConfigError, match="'lof' is not known"):
        backend_from_state({**state, "backend": "lof"})
    assert backend_from_state(state, batch_size=7).batch_size == 7


def test_make_backend_names_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match="'lof' is not known; known back-ends: knn, kmeans, smote, mahalanobis"
    ):
        make_backend("lof")
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['k'\]; known: .*n_neighbors"):
        make_backend("knn", k=3)


def test_a_file_of_several_backends_round_trips_and_refuses_damage(toy, tmp_path) -> None:
    train, domains, test = toy
    fitted = {
        f"{name}/{i:02d}": make_backend(name, **dict([CHANGED[name]])).fit(train[i:], domains=domains[i:])
        for i, name in enumerate(sorted(BACKENDS))
    }
    path = tmp_path / "backends.safetensors"
    save_backends(path, fitted)
    loaded = load_backends(path)
    assert list(loaded) == list(fitted)
    for key, est in fitted.items():
        assert type(loaded[key]) is type(est) and loaded[key].get_params() == est.get_params()
        np.testing.assert_array_equal(loaded[key].score_samples(test), est.score_samples(test))
        assert loaded[key].threshold_ == est.threshold_
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a back-ends file"):
        load_backends(path)
    with pytest.raises(CheckpointError, match="not a back-ends file"):
        load_backends(tmp_path / "absent.safetensors")
