"""The embedding map: projections against references, and how clips are gathered per machine."""

from __future__ import annotations

import numpy as np
import pytest

from sslasd.errors import ConfigError
from sslasd.report.embedding_map import (
    TSNE_MAX_POINTS,
    choose_projection,
    machine_points,
    pca_2d,
    plot_embedding_map,
    tsne_2d,
)
from sslasd.report.run_files import read_run_files


def test_pca_matches_the_covariance_eigenvectors() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1]) + 7.0
    xy = pca_2d(x)
    eigval, eigvec = np.linalg.eigh(np.cov(x, rowvar=False))
    top = eigvec[:, ::-1][:, :2]
    reference = (x - x.mean(axis=0)) @ top
    for k in range(2):  # equal up to the sign of each axis
        assert min(np.abs(xy[:, k] - reference[:, k]).max(), np.abs(xy[:, k] + reference[:, k]).max()) < 1e-8
    np.testing.assert_allclose(xy.var(axis=0, ddof=1), eigval[::-1][:2], rtol=1e-10)


@pytest.mark.parametrize(
    ("x", "expected"), [(np.zeros((1, 3)), [[0, 0]]), (np.array([[1.0], [3.0]]), [[-1, 0], [1, 0]])]
)
def test_pca_degenerate_inputs(x: np.ndarray, expected: list) -> None:
    np.testing.assert_allclose(pca_2d(x), expected, atol=1e-12)


def test_pca_sign_is_fixed() -> None:
    x = np.random.default_rng(1).normal(size=(50, 4))
    np.testing.assert_allclose(pca_2d(x), pca_2d(x[::-1])[::-1], atol=1e-10)


@pytest.mark.parametrize(
    ("n", "method", "expected"),
    [
        (10, "auto", "tsne"),
        (TSNE_MAX_POINTS, "auto", "tsne"),
        (TSNE_MAX_POINTS + 1, "auto", "pca"),
        (10, "pca", "pca"),
        (10_000, "tsne", "tsne"),
    ],
)
def test_choose_projection(n: int, method: str, expected: str) -> None:
    assert choose_projection(n, method) == expected


def test_choose_projection_rejects_unknown() -> None:
    with pytest.raises(ConfigError, match="'umap' is not one of auto, pca, tsne"):
        choose_projection(10, "umap")


def test_tsne_is_deterministic_and_separates_clusters() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (20, 8)), rng.normal(3, 0.1, (20, 8))])
    a, b = tsne_2d(x, seed=1), tsne_2d(x, seed=1)
    np.testing.assert_array_equal(a, b)
    centre = a[:20].mean(axis=0), a[20:].mean(axis=0)
    spread = max(
        np.linalg.norm(a[:20] - centre[0], axis=1).max(), np.linalg.norm(a[20:] - centre[1], axis=1).max()
    )
    assert np.linalg.norm(centre[0] - centre[1]) > 2 * spread


def test_machine_points_gather_train_and_test_per_machine(fake_run) -> None:
    files = read_run_files(fake_run.root)
    train, test = files.train_embeddings, files.test_embeddings
    points, used = machine_points(train, test, method="pca")
    assert used == "pca" and [p.machine for p in points] == ["fan", "valve"]
    for p in points:
        n_train, n_test = int((train.machines == p.machine).sum()), int((test.machines == p.machine).sum())
        assert p.xy.shape == (n_train + n_test, 2)
        assert p.is_test.sum() == n_test
        assert p.is_anomaly.sum() == int(((test.machines == p.machine) & (test.labels == "anomaly")).sum())
        assert (p.pseudo_labels >= 0).any() == (p.machine == "valve")
        np.testing.assert_allclose(
            p.xy,
            pca_2d(
                np.concatenate(
                    [
                        train.embeddings[train.machines == p.machine],
                        test.embeddings[test.machines == p.machine],
                    ]
                )
            ),
        )


def test_labels_from_metrics_fill_unlabelled_test_embeddings(fake_run) -> None:
    files = read_run_files(fake_run.root)
    test = files.test_embeddings
    blank = type(test)(**{**test.__dict__, "labels": np.full(len(test), "unknown")})
    labels = {c["name"]: c["label"] for c in fake_run.metrics["clips"]}
    without, _ = machine_points(None, blank, method="pca")
    with_labels, _ = machine_points(None, blank, method="pca", test_labels=labels)
    assert sum(p.is_anomaly.sum() for p in without) == 0
    assert sum(p.is_anomaly.sum() for p in with_labels) == sum(
        c["label"] == "anomaly" for c in fake_run.metrics["clips"]
    )


def test_plot_has_three_panels_per_machine(fake_run) -> None:
    files = read_run_files(fake_run.root)
    points, _ = machine_points(files.train_embeddings, None, method="pca")
    fig = plot_embedding_map(points)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles.count("fan · domain") == 1 and titles.count("valve · pseudo-label") == 1
    assert "fan · pseudo-label" not in titles  # fan has attributes, no pseudo-labels: a note panel instead
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("no pseudo-labels" in t for t in texts) and any("no attributes" in t for t in texts)
