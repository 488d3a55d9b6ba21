"""Every run knows its floors: fitted by fit, scored by score, compared by evaluate and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sslasd.backends import KNNScorer
from sslasd.data import index_dataset, load_audio
from sslasd.evaluation import read_challenge_dir
from sslasd.models.backbones import load_backbone
from sslasd.models.stats_embedder import StatsEmbedder
from sslasd.pipeline.embedding import embed_clips, read_embeddings
from sslasd.pipeline.evaluate import evaluate
from sslasd.pipeline.fit import fit
from sslasd.pipeline.floors import floor_detector, floor_scores_dir, floors_of_scores
from sslasd.pipeline.report import report
from sslasd.pipeline.rundir import RunDir
from sslasd.training.labels import LabelVocabulary

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]


def test_fit_writes_both_floors(tiny_run: Path) -> None:
    rd = RunDir.at(tiny_run)
    for name, backbone in (("logmel", "logmel"), ("frozen", "beats")):
        folder = rd.floor_dir(name)
        assert (folder / "banks" / "DONE").is_file()
        meta = json.loads((folder / "floor.json").read_text())
        assert meta["backbone"]["name"] == backbone
        assert meta["backend"] == {"name": "knn", "params": {"standardize": True}}


def test_a_random_weight_frozen_floor_scores_with_the_weights_it_was_fitted_with(
    tiny_run: Path, tiny_dataset: Path
) -> None:
    """The tiny run has no checkpoint: its frozen floor keeps its random weights, so that scoring
    (another process, another random state) embeds with the same network as the banks."""
    rd = RunDir.at(tiny_run)
    assert (rd.floor_dir("frozen") / "backbone.safetensors").is_file()
    assert not (rd.floor_dir("logmel") / "backbone.safetensors").exists()
    torch.manual_seed(12345)  # another random state than fit had
    config, info = rd.read_config(), rd.read_info()
    vocab = LabelVocabulary.from_dict(info["labels"])
    seconds = info["num_samples"] / info["sample_rate"]
    det = floor_detector(rd, "frozen", config, vocab, seconds=seconds, device="cpu")
    bank = read_embeddings(rd.floor_dir("frozen") / "banks" / "embeddings.npz")
    clips = {c.name: c for c in index_dataset(tiny_dataset).select(split="train")}
    first = [clips[str(n)] for n in bank["names"][:3]]
    ids = np.array([vocab.machine_id(c.machine) for c in first])
    again = embed_clips(
        det.embedder, first, ids, num_samples=info["num_samples"], device=det.device
    ).per_clip()
    np.testing.assert_allclose(again, bank["embeddings"][:3], rtol=1e-4, atol=1e-5)


def test_score_writes_floor_scores_like_the_run(tiny_scores: Path) -> None:
    rd = RunDir.at(tiny_scores.parents[1])
    run_files = {p.name for p in tiny_scores.iterdir()}
    for name in ("logmel", "frozen"):
        folder = floor_scores_dir(rd, tiny_scores, name)
        assert folder == rd.floor_dir(name) / "scores" / tiny_scores.name
        assert (folder / "DONE").is_file()
        assert {p.name for p in folder.iterdir()} >= run_files - {"metrics.json"}
    assert set(floors_of_scores(tiny_scores)) == {"logmel", "frozen"}


def test_logmel_floor_is_the_plain_log_mel_detector(tiny_scores: Path, tiny_dataset: Path) -> None:
    """Recomputed here from its definition: dB log-mel, mean and std per band, cosine 1-NN with
    source and target banks, each bank's distances standardised by its leave-one-out training
    distances, min of the two."""
    rd = RunDir.at(tiny_scores.parents[1])
    index = index_dataset(tiny_dataset)
    embedder = StatsEmbedder(load_backbone("logmel"))
    num_samples = rd.read_info()["num_samples"]

    def features(clips):
        waves = [load_audio(c.path)[:num_samples] for c in clips]
        with torch.inference_mode():
            return np.stack([embedder(torch.from_numpy(w)[None])[0].numpy() for w in waves])

    files = read_challenge_dir(floor_scores_dir(rd, tiny_scores, "logmel"), year=index.year)
    for (machine, section), got in files.items():
        train = index.select(machine=machine, section=section, split="train")
        test = index.select(machine=machine, section=section, split="test")
        knn = KNNScorer(standardize=True).fit(features(train), domains=[c.domain for c in train])
        expected = dict(zip((c.name for c in test), knn.score_samples(features(test))))
        assert got.scores.keys() == expected.keys()
        np.testing.assert_allclose(
            [got.scores[k] for k in expected], list(expected.values()), rtol=1e-4, atol=1e-6
        )


def test_evaluate_compares_the_run_with_each_floor(
    tiny_scores: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    out = tiny_scores / "metrics.json"
    result = evaluate(tiny_scores, tiny_dataset, json=out, n_boot=100)
    assert [f.name for f in result.floors] == ["logmel", "frozen"]
    rd = RunDir.at(tiny_scores.parents[1])
    for floor in result.floors:
        alone = evaluate(floor_scores_dir(rd, tiny_scores, floor.name), tiny_dataset)
        assert alone.floors == []  # a floor's own scores have no floors
        assert floor.official_score == pytest.approx(alone.official_score)
        assert floor.difference.estimate == pytest.approx(result.official_score - alone.official_score)
        assert floor.difference.low <= floor.difference.estimate <= floor.difference.high
        written = json.loads((floor_scores_dir(rd, tiny_scores, floor.name) / "metrics.json").read_text())
        assert written["official_score"] == pytest.approx(alone.official_score)
    saved = json.loads(out.read_text())
    assert [f["name"] for f in saved["floors"]] == ["logmel", "frozen"]
    assert saved["beats_floors"] == result.beats_floors
    assert "run vs its floors" in result.floors_summary()
    page = Path(report(rd.root, scores=tiny_scores, out=tmp_path / "report.html")).read_text()
    assert 'id="floors"' in page and "log-mel statistics" in page


def test_no_floors_then_floors_later_without_retraining(tiny_dataset: Path, tmp_path: Path) -> None:
    overrides = ["train.steps=12", "train.warmup_steps=2", "mga.mode=none"]
    run = fit(tiny_dataset, tmp_path / "r", config="tiny", set=overrides, floors=False, progress=False)
    assert not (run / "floors").exists()
    weights = (run / "fit" / "model.safetensors").stat().st_mtime_ns
    fit(tiny_dataset, run, floors=True, progress=False)
    assert (run / "floors" / "logmel" / "banks" / "DONE").is_file()
    assert (run / "fit" / "model.safetensors").stat().st_mtime_ns == weights
