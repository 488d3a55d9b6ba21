"""A run that scores with an ensemble of itself and its log-mel floor: fit, score, load, bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from sslasd.backends import ScoreEnsemble
from sslasd.data import index_dataset
from sslasd.errors import ConfigError
from sslasd.evaluation import read_challenge_dir
from sslasd.pipeline.config import load_config
from sslasd.pipeline.detect import detect
from sslasd.pipeline.ensemble import EnsembleDetector, aligned_windows
from sslasd.pipeline.export import export
from sslasd.pipeline.fit import fit
from sslasd.pipeline.load import load
from sslasd.pipeline.rundir import RunDir
from sslasd.pipeline.score import score

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]


@pytest.fixture(scope="module")
def ensemble_run(tiny_run: Path, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run with ``ensemble.members: [run, logmel]``: fitting again only fits the combiners."""
    run = tmp_path_factory.mktemp("ens") / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("scores", "report.html"))
    for floor_scores in run.glob("floors/*/scores"):
        shutil.rmtree(floor_scores)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["ensemble"] = {"members": ["run", "logmel"], "weights": [2.0, 1.0]}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    fit(tiny_dataset, run, progress=False)
    return run


def test_the_combiners_are_fitted_on_the_members_training_scores(ensemble_run: Path) -> None:
    det = load(ensemble_run)
    assert isinstance(det, EnsembleDetector) and list(det.members) == ["run", "logmel"]
    saved = json.loads(RunDir.at(ensemble_run).ensemble_path.read_text())
    assert saved["members"] == ["run", "logmel"]
    for key, combiner in det.combiners.items():
        train = [m.backends[key].train_scores_ for m in det.members.values()]
        expected = ScoreEnsemble([2.0, 1.0]).fit(train)
        np.testing.assert_allclose(combiner.train_scores_, expected.train_scores_)
        assert det.threshold(*key) == pytest.approx(expected.threshold_)
        assert RunDir.at(ensemble_run).read_thresholds()[key[0]][key[1]] == pytest.approx(expected.threshold_)


def test_score_detect_and_bundle_give_the_ensembles_number(
    ensemble_run: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    scores_dir = score(ensemble_run, tiny_dataset)
    index = index_dataset(tiny_dataset)
    clips = index.select(split="test")[:6]
    table = read_challenge_dir(scores_dir, year=index.year)
    det = load(ensemble_run)
    bundle = load(export(ensemble_run, tmp_path / "ens.sslasd"))
    assert isinstance(bundle, EnsembleDetector)
    for clip in clips:
        expected = table[(clip.machine, clip.section)].scores[clip.name]
        by_run = det.score(clip.path, clip.machine, clip.section)[0]
        run_part, _ = det.members["run"].score_windows(clip.path, clip.machine, clip.section)
        floor_part, _ = det.members["logmel"].score_windows(clip.path, clip.machine, clip.section)
        by_hand = det.combiners[(clip.machine, clip.section)].combine([run_part, floor_part]).max()
        for got in (by_run, by_hand, bundle.score(clip.path, clip.machine, clip.section)[0]):
            assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)
        assert bundle.threshold(clip.machine, clip.section) == pytest.approx(
            det.threshold(clip.machine, clip.section)
        )


def test_bad_ensemble_settings_are_refused_before_any_work(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="each at most once"):
        load_config("tiny", ["ensemble.members=[run, run]"])
    with pytest.raises(ConfigError, match="one per member"):
        load_config("tiny", ["ensemble.members=[run, logmel]", "ensemble.weights=[1]"])
    with pytest.raises(ConfigError, match="not a floor"):
        fit(
            tiny_dataset,
            tmp_path / "r",
            config="tiny",
            set=["backbone.name=logmel", "ensemble.members=[run, frozen]"],
        )
    assert not (tmp_path / "r").exists()


def test_aligned_windows_map_each_window_to_the_same_place_in_its_clip() -> None:
    same = np.array([0, 0, 1, 1, 1])
    assert aligned_windows(same, same).tolist() == [0, 1, 2, 3, 4]
    # clip 1 has one window more at the member's rate: its ends still meet the ends
    assert aligned_windows(np.array([0, 1, 1, 1]), np.array([0, 1, 1, 1, 1])).tolist() == [0, 1, 3, 4]


def test_members_at_other_rates_score_the_same_seconds(tiny_dataset: Path, tmp_path: Path) -> None:
    """A 32-kHz backbone with the 16-kHz log-mel floor: the floor's windows have the run's length in
    seconds, and a long recording is scored alike by score, load().score and detect."""
    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root)
    clip = sorted((root / "fan" / "test").glob("*.wav"))[0]
    wave, rate = sf.read(clip, dtype="float32")
    sf.write(clip, np.concatenate([wave] * 7 + [wave[: len(wave) // 3]]), rate)  # 7.3 clip lengths
    settings = ["backbone.name=efficientat", "train.steps=8", "train.warmup_steps=2", "mga.mode=none"]
    run = fit(
        root,
        tmp_path / "run",
        config="tiny",
        set=[*settings, "ensemble.members=[run, logmel]"],
        progress=False,
    )
    det = load(run)
    run_member, floor = det.members["run"], det.members["logmel"]
    assert run_member.sample_rate != floor.sample_rate
    assert run_member.num_samples / run_member.sample_rate == floor.num_samples / floor.sample_rate
    expected = read_challenge_dir(score(run, root), year=index_dataset(root).year)[("fan", "00")].scores
    by_load = det.score(clip, "fan", "00")[0]
    (found,) = detect(run, [clip], machine="fan")
    assert len(found.windows) > 10
    for got in (by_load, found.score):
        assert got == pytest.approx(expected[clip.name], rel=1e-5, abs=1e-6)
