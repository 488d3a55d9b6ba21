"""fit -> score -> evaluate -> detect -> export -> load on the tiny synthetic set."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly
from sklearn.metrics import roc_auc_score

import sslasd
from sslasd.data import index_dataset
from sslasd.errors import ConfigError, DataError, RunError
from sslasd.evaluation import read_challenge_dir
from sslasd.pipeline.detect import detect
from sslasd.pipeline.detector import Detector
from sslasd.pipeline.export import export
from sslasd.pipeline.fit import fit
from sslasd.pipeline.load import load
from sslasd.pipeline.rundir import RunDir
from sslasd.pipeline.score import score

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]  # share one fitted run


def test_run_folder_contents(tiny_run: Path) -> None:
    rd = RunDir.at(tiny_run)
    assert rd.done("fit") and rd.done("banks")
    info = rd.read_info()
    assert info["seed"] == 0 and info["sample_rate"] == 16000 and info["machines"]
    thresholds = rd.read_thresholds()
    assert set(thresholds) == set(info["machines"])
    assert all(np.isfinite(v) for sections in thresholds.values() for v in sections.values())
    header = (rd.fit_dir / "metrics.csv").read_text().splitlines()[0]
    assert header.startswith("step,epoch,lr,loss")


def test_fit_again_is_a_noop_and_other_config_is_refused(tiny_run: Path, tiny_dataset: Path, capsys) -> None:
    before = (tiny_run / "fit" / "model.safetensors").stat().st_mtime_ns
    fit(tiny_dataset, tiny_run, progress=False)
    assert "already fitted" in capsys.readouterr().out
    assert (tiny_run / "fit" / "model.safetensors").stat().st_mtime_ns == before
    with pytest.raises(RunError, match="lora.rank"):
        fit(tiny_dataset, tiny_run, config="tiny", set=["lora.rank=7"], progress=False)


def test_fit_refuses_a_foreign_folder(tiny_dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(RunError, match="not an sslasd run"):
        fit(tiny_dataset, tmp_path, progress=False)
    assert (tmp_path / "mine.txt").read_text() == "user data"


def test_challenge_files_match_the_test_set(tiny_scores: Path, tiny_dataset: Path) -> None:
    index = index_dataset(tiny_dataset)
    test = index.select(split="test")
    files = read_challenge_dir(tiny_scores, year=index.year)
    assert set(files) == {(c.machine, c.section) for c in test}
    for (machine, section), got in files.items():
        expected = {c.name for c in test if (c.machine, c.section) == (machine, section)}
        assert set(got.scores) == expected
        assert set(got.decisions) == expected
    assert score(RunDir.at(tiny_scores.parents[1]).root, tiny_dataset) == tiny_scores  # no-op


def test_evaluate_writes_the_official_score(tiny_scores: Path, tiny_dataset: Path) -> None:
    result = sslasd.evaluate(tiny_scores, tiny_dataset, json=tiny_scores / "metrics.json")
    # Every test section is evaluated on all its clips, and its AUC is the one of its score file
    # against the labels in the clip names (sklearn, independently of sslasd.evaluation).
    index = index_dataset(tiny_dataset)
    test = index.select(split="test")
    files = read_challenge_dir(tiny_scores, year=index.year)
    assert {(s.machine, s.section) for s in result.sections} == set(files)
    for section in result.sections:
        clips = [c for c in test if (c.machine, c.section) == (section.machine, section.section)]
        assert sum(section.counts.values()) == len(clips)
        labels = [c.label == "anomaly" for c in clips]
        scores = [files[(section.machine, section.section)].scores[c.name] for c in clips]
        assert section.auc == pytest.approx(roc_auc_score(labels, scores))
    saved = json.loads((tiny_scores / "metrics.json").read_text())
    assert saved["official_score"] == pytest.approx(result.official_score)


def test_bf16_scores_stay_close_to_float32(tiny_run: Path, tiny_dataset: Path) -> None:
    """CPU bf16 autocast (emulated where the CPU lacks AMX / AVX512-BF16: slower, same numbers)
    moves the tiny model's scores by bf16 rounding only; the detector keeps the precision."""
    clips = index_dataset(tiny_dataset).select(split="test")[:6]
    fp32 = Detector.from_run(tiny_run, device="cpu", precision="32")
    bf16 = load(tiny_run, device="cpu", precision="bf16")
    assert (fp32.precision, bf16.precision) == ("32", "bf16")
    a = np.concatenate([fp32.score(c.path, c.machine, c.section) for c in clips])
    b = np.concatenate([bf16.score(c.path, c.machine, c.section) for c in clips])
    assert not np.array_equal(a, b)  # bf16 did run
    np.testing.assert_allclose(b, a, rtol=0, atol=0.05 * np.abs(a).max())


def test_training_lowers_the_loss(tiny_run: Path) -> None:
    rows = list(csv.DictReader((tiny_run / "fit" / "metrics.csv").open()))
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])


@pytest.mark.real_data
def test_pretrained_cpu_preset_scores_well_above_chance(
    tiny_dataset: Path, mn04_weights: Path, tmp_path: Path
) -> None:
    """The CPU preset (real EfficientAT mn04 + FC-LoRA + group adapter + VQ + contrastive) on the
    tiny set. A plain log-mel-statistics kNN scores about 0.64 here; the tiny model trained from
    scratch about 0.6."""
    run = fit(
        tiny_dataset,
        tmp_path / "cpu",
        config="cpu",
        set=[f"backbone.checkpoint={mn04_weights}", "train.steps=60"],
        progress=False,
    )
    result = sslasd.evaluate(score(run, tiny_dataset), tiny_dataset)
    aucs = [s.auc_source for s in result.sections] + [s.auc_target for s in result.sections]
    assert result.official_score > 0.7 and np.mean(aucs) > 0.75, result.format_table()


def test_detector_matches_challenge_scores(tiny_run: Path, tiny_scores: Path, tiny_dataset: Path) -> None:
    det = load(tiny_run)
    index = index_dataset(tiny_dataset)
    clip = index.select(split="test")[0]
    expected = read_challenge_dir(tiny_scores, year=index.year)[(clip.machine, clip.section)].scores[
        clip.name
    ]
    got = det.score([clip.path], machine=clip.machine, section=clip.section)
    assert got[0] == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert det.predict(clip.path, clip.machine, clip.section)[0] == int(
        got[0] > det.threshold(clip.machine, clip.section)
    )


def test_detect_any_rate_and_channels_and_errors(tiny_run: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    index = index_dataset(tiny_dataset)
    clip = index.select(split="test")[0]
    wave, sr = sf.read(clip.path, dtype="float32")
    stereo = np.stack([resample_poly(wave, 441, 160)] * 2, axis=1)
    machine_dir = tmp_path / clip.machine
    machine_dir.mkdir()
    sf.write(machine_dir / "stereo44k.wav", stereo, 44100)
    long = np.concatenate([wave] * 4)
    sf.write(machine_dir / "long.wav", long, sr)
    (machine_dir / "broken.wav").write_bytes(b"RIFF....not audio")
    results = {Path(r.file).name: r for r in detect(tiny_run, [machine_dir], json=tmp_path / "out.json")}
    assert results["broken.wav"].error and "broken.wav" in results["broken.wav"].error
    assert results["stereo44k.wav"].error is None and np.isfinite(results["stereo44k.wav"].score)
    direct = detect(tiny_run, [clip.path])[0].score
    assert results["stereo44k.wav"].score == pytest.approx(direct, abs=0.05)
    assert len(results["long.wav"].windows) > 1
    assert results["long.wav"].score == pytest.approx(max(w["score"] for w in results["long.wav"].windows))
    saved = json.loads((tmp_path / "out.json").read_text())["results"]
    assert len(saved) == 3
    unknown = detect(tiny_run, [clip.path], machine="submarine")[0]
    assert unknown.error and "submarine" in unknown.error


def test_bundle_round_trip_gives_identical_scores(tiny_run: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    bundle = export(tiny_run, tmp_path / "model.sslasd")
    with pytest.raises(RunError, match="--overwrite"):
        export(tiny_run, bundle)
    moved = tmp_path / "elsewhere.sslasd"
    shutil.copy(bundle, moved)
    clips = index_dataset(tiny_dataset).select(split="test")[:4]
    run_det, bundle_det = Detector.from_run(tiny_run, device="cpu"), load(moved, device="cpu")
    for clip in clips:
        a = run_det.score(clip.path, clip.machine, clip.section)
        b = bundle_det.score(clip.path, clip.machine, clip.section)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        assert run_det.threshold(clip.machine, clip.section) == pytest.approx(
            bundle_det.threshold(clip.machine, clip.section)
        )
    with pytest.raises(ConfigError, match="known"):
        bundle_det.score(clips[0].path, "submarine")


@pytest.mark.real_data
def test_detect_on_real_dcase_clips(tiny_run: Path, real_clips_dir: Path, tmp_path: Path) -> None:
    """Real DCASE 2020 recordings of machine types the run knows (fan, pump, slider, valve), their
    44.1-kHz stereo copies, and a machine type it does not know (ToyCar): an error for that file only."""
    originals = sorted((real_clips_dir / "fan" / "test").glob("*.wav"))[:2]
    copies = tmp_path / "fan"
    copies.mkdir()
    for path in originals:
        wave, _ = sf.read(path, dtype="float32")
        sf.write(copies / path.name, np.stack([resample_poly(wave, 441, 160)] * 2, axis=1), 44100)
    toycar = sorted((real_clips_dir / "ToyCar" / "test").glob("*.wav"))[0]
    results = detect(tiny_run, [*originals, copies, toycar])
    by_file = {(Path(r.file).parent.name, Path(r.file).name): r for r in results}
    for path in originals:
        original, copy = by_file[("test", path.name)], by_file[("fan", path.name)]
        assert original.error is None and original.machine == "fan" and np.isfinite(original.score)
        assert len(original.windows) > 1  # 10-s recordings, 2-s model: scored window by window
        assert copy.score == pytest.approx(original.score, rel=0.1, abs=0.02)
    assert "ToyCar" not in {r.machine for r in results if r.error is None}
    toy = by_file[("test", toycar.name)]
    assert toy.error is not None and "pass --machine" in toy.error


def test_detect_refuses_a_folder_without_audio_and_scores_each_file_once(
    tiny_run: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        detect(tiny_run, [tmp_path / "empty"], machine="fan")
    wav = sorted((tiny_dataset / "fan" / "test").glob("*.wav"))[0]
    results = detect(tiny_run, [wav, wav, wav.parent / ".." / "test" / wav.name], machine="fan")
    assert len(results) == 1 and results[0].error is None
