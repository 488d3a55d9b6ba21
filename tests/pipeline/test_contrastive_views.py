"""A run trained with ``contrastive.form=views`` saves its projection head with the other trainable
weights, and loads and scores through the ordinary inference path, which never uses that head."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch

from sslasd.data import index_dataset
from sslasd.evaluation import read_challenge_dir
from sslasd.pipeline.detector import Detector
from sslasd.pipeline.export import export
from sslasd.pipeline.fit import fit
from sslasd.pipeline.load import load
from sslasd.pipeline.rundir import RunDir
from sslasd.pipeline.score import score

pytestmark = pytest.mark.slow

FAST = [
    "train.steps=4",
    "train.warmup_steps=1",
    "train.checkpoint_every=2",
    "train.log_every=2",
    "train.batch_size=8",
    "train.sampler=grouped",
    "vq.refresh=false",
    "vq.update=ema",
    "contrastive.form=views",
]


@pytest.fixture(scope="module")
def views_run(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit(
        tiny_dataset, tmp_path_factory.mktemp("views") / "run", config="tiny", set=FAST, progress=False
    )


def test_views_run_saves_its_projection_head_and_logs_both_levels(views_run: Path) -> None:
    rd = RunDir.at(views_run)
    assert rd.read_config().contrastive.form == "views"
    saved = safetensors.torch.load_file(str(rd.weights_path))
    assert any(name.startswith("contrastive.projection.") for name in saved)
    rows = list(csv.DictReader((rd.fit_dir / "metrics.csv").open()))
    assert rows and all(np.isfinite(float(r["loss_contrastive"])) for r in rows)


def test_views_run_scores_through_the_normal_inference_path(
    views_run: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    scores_dir = score(views_run, tiny_dataset, floors=False)
    index = index_dataset(tiny_dataset)
    clip = index.select(split="test")[0]
    expected = read_challenge_dir(scores_dir, year=index.year)[(clip.machine, clip.section)].scores[clip.name]
    detector = Detector.from_run(views_run)
    assert not any("projection" in name for name in detector.embedder.state_dict())
    by_bundle = load(export(views_run, tmp_path / "views.sslasd"))  # the bundle holds the embedder only
    for got in (detector, load(views_run), by_bundle):
        value = got.score([clip.path], machine=clip.machine, section=clip.section)[0]
        assert np.isfinite(value) and value == pytest.approx(expected, rel=1e-4, abs=1e-5)
