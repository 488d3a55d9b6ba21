"""One inference path: score, detect, load().score and a bundle give the same number for the same
audio whatever its length; a loaded run never refits its back-ends; configs fail before work starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sslasd.backends.base import BaseScorer
from sslasd.data import index_dataset
from sslasd.errors import ConfigError
from sslasd.evaluation import read_challenge_dir
from sslasd.pipeline.detect import detect
from sslasd.pipeline.export import export
from sslasd.pipeline.fit import fit
from sslasd.pipeline.load import load
from sslasd.pipeline.rundir import RunDir
from sslasd.pipeline.score import score

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]


@pytest.fixture(scope="module")
def odd_lengths(tiny_run: Path, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the tiny set whose first fan test clips are 30 s long (with loud noise after the
    clip length), a quarter of the clip length, and unchanged; scored by ``sslasd score``."""
    root = tmp_path_factory.mktemp("odd") / tiny_dataset.name
    shutil.copytree(tiny_dataset, root)
    index = index_dataset(root)
    tests = [c for c in index.select(split="test") if c.machine == "fan"][:3]
    info = RunDir.at(tiny_run).read_info()
    n = info["num_samples"]
    wave, rate = sf.read(tests[0].path, dtype="float32")
    assert rate == info["sample_rate"] and len(wave) <= n
    noise = np.random.default_rng(0).normal(0, 0.5, 30 * rate - len(wave)).astype(np.float32)
    sf.write(tests[0].path, np.concatenate([wave, noise]), rate)
    short, _ = sf.read(tests[1].path, dtype="float32")
    sf.write(tests[1].path, short[: n // 4], rate)
    scores_dir = score(tiny_run, root, floors=False)
    table = read_challenge_dir(scores_dir, year=index.year)[("fan", tests[0].section)].scores
    return {"clips": tests, "scores": table, "original": wave}


def test_same_audio_same_number_through_every_path(tiny_run: Path, odd_lengths: dict, tmp_path: Path) -> None:
    clips = odd_lengths["clips"]
    expected = np.array([odd_lengths["scores"][c.name] for c in clips])
    paths = [c.path for c in clips]
    by_load = load(tiny_run).score(paths, "fan", clips[0].section)
    by_detect = np.array([r.score for r in detect(tiny_run, paths, machine="fan")])
    by_bundle = load(export(tiny_run, tmp_path / "model.sslasd")).score(paths, "fan", clips[0].section)
    # the challenge CSV holds the score as text; the paths themselves agree to float32 rounding
    for got in (by_load, by_detect, by_bundle):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_score_sees_the_whole_recording(tiny_run: Path, odd_lengths: dict) -> None:
    """Noise appended after the clip length raises the score (``score`` used to read only the start)."""
    clip = odd_lengths["clips"][0]
    det = load(tiny_run)
    original = det.score(odd_lengths["original"], "fan", clip.section, sample_rate=det.sample_rate)[0]
    assert odd_lengths["scores"][clip.name] > original + 0.05
    window_scores, starts = det.score_windows(clip.path, "fan", clip.section)
    assert len(starts) > 10 and window_scores[0] == pytest.approx(original, rel=1e-5, abs=1e-6)


def test_loading_a_run_or_bundle_never_refits(
    tiny_run: Path, tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rd = RunDir.at(tiny_run)
    assert rd.backends_path.is_file()
    clip = index_dataset(tiny_dataset).select(split="test")[0]
    before = load(tiny_run).score(clip.path, clip.machine, clip.section)
    bundle = export(tiny_run, tmp_path / "model.sslasd")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a back-end was refitted on load")

    monkeypatch.setattr(BaseScorer, "fit", refuse)
    for source in (tiny_run, bundle):
        det = load(source)
        np.testing.assert_array_equal(det.score(clip.path, clip.machine, clip.section), before)
        assert det.threshold(clip.machine, clip.section) == pytest.approx(
            rd.read_thresholds()[clip.machine][clip.section]
        )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("backend.params.n_neighbours=3", "unknown parameter"),
        ("backend.params.threshold_q=0.5", "threshold.q"),
        ("backbone.overrides.no_such_field=1", "no_such_field"),
    ],
)
def test_a_bad_setting_fails_before_the_run_folder_exists(
    tiny_dataset: Path, tmp_path: Path, override: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        fit(tiny_dataset, tmp_path / "run", config="tiny", set=[override], progress=False)
    assert not (tmp_path / "run").exists()


def test_detect_streams_a_long_recording_and_scores_it_as_a_whole(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long 44.1-kHz stereo recording is read a few windows at a time (never whole) and its
    window scores equal those of the whole recording passed as an array."""
    import sslasd.pipeline.detector as detector_module
    from sslasd.data import load_audio

    det = load(tiny_run)
    path = tmp_path / "long.wav"
    rng = np.random.default_rng(3)
    sf.write(path, rng.normal(0, 0.1, (44100 * 40, 2)), 44100, subtype="FLOAT")
    reads: list[int] = []
    original_read = sf.SoundFile.read

    def counting_read(self, frames=-1, *args, **kwargs):
        out = original_read(self, frames, *args, **kwargs)
        reads.append(len(out))
        return out

    monkeypatch.setattr(detector_module, "_WINDOWS_PER_READ", 4)
    monkeypatch.setattr(sf.SoundFile, "read", counting_read)
    streamed = detect(det, [path], machine="fan")[0]
    monkeypatch.undo()
    assert len(reads) > 5 and max(reads) < 44100 * 40 / 3
    whole = load_audio(path, det.sample_rate)
    scores, starts = det.score_windows(whole, "fan", streamed.section, sample_rate=det.sample_rate)
    np.testing.assert_allclose([w["score"] for w in streamed.windows], scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([w["start"] for w in streamed.windows], starts)
    assert streamed.score == pytest.approx(float(scores.max()), rel=1e-5)
