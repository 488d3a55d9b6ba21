"""Reading a run folder for the report: every piece optional, notes instead of crashes."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from sslasd.errors import RunError
from sslasd.report.run_files import read_embedding_set, read_metrics, read_run_files, read_training_log

PIECES = [
    "config_text",
    "info",
    "metrics",
    "training",
    "train_embeddings",
    "test_embeddings",
    "thresholds",
    "backend",
]


def test_complete_run_has_every_piece(fake_run) -> None:
    files = read_run_files(fake_run.root)
    assert files.notes == {}
    assert files.scores_dir == fake_run.scores
    assert all(getattr(files, p) is not None for p in PIECES)
    assert files.metrics["official_score"] == fake_run.metrics["official_score"]
    assert files.training.finished and len(files.training) == 40
    assert np.isnan(files.training.columns["loss_vq"]).all()
    assert len(files.test_embeddings) == len(fake_run.metrics["clips"])


# piece that breaks -> (file to damage relative to the run, how) -> note key
DAMAGE = [
    ("config.yaml", "delete", "config"),
    ("run.json", "garbage", "info"),
    ("fit/metrics.csv", "delete", "training"),
    ("fit/metrics.csv", "garbage", "training"),
    ("banks/embeddings.npz", "delete", "train_embeddings"),
    ("banks/embeddings.npz", "garbage", "train_embeddings"),
    ("banks/embeddings.npz", "truncate", "train_embeddings"),
    ("scores/synth/embeddings.npz", "delete", "test_embeddings"),
    ("scores/synth/metrics.json", "garbage", "metrics"),
    ("thresholds.json", "delete", "thresholds"),
    ("backend.json", "garbage", "backend"),
]


@pytest.mark.parametrize(("path", "how", "note"), DAMAGE, ids=[f"{p}-{h}" for p, h, _ in DAMAGE])
def test_a_damaged_piece_becomes_a_note(fake_run, path: str, how: str, note: str) -> None:
    target = fake_run.root / path
    if how == "delete":
        target.unlink()
    elif how == "truncate":
        target.write_bytes(target.read_bytes()[:200])
    else:
        target.write_text("step;loss\n1;x\n" if target.suffix == ".csv" else "{not json")
    files = read_run_files(fake_run.root)
    assert set(files.notes) == {note}
    assert str(target) in files.notes[note]


def test_not_evaluated_scores_say_which_command_to_run(fake_run) -> None:
    (fake_run.scores / "metrics.json").unlink()
    files = read_run_files(fake_run.root)
    assert files.metrics is None and files.test_embeddings is not None
    assert "sslasd evaluate" in files.notes["metrics"]


def test_no_scores_folder_says_which_command_to_run(fake_run) -> None:
    shutil.rmtree(fake_run.root / "scores")
    files = read_run_files(fake_run.root)
    assert files.scores_dir is None
    assert "sslasd score" in files.notes["metrics"] and "test_embeddings" in files.notes


def _age(path: Path, seconds_ago: float) -> None:
    stamp = path.stat().st_mtime - seconds_ago
    os.utime(path, (stamp, stamp))


def test_default_scores_is_the_latest_evaluated(fake_run) -> None:
    newer = fake_run.root / "scores" / "other"
    shutil.copytree(fake_run.scores, newer)
    _age(fake_run.scores / "metrics.json", 100)
    (fake_run.root / "scores" / "unevaluated").mkdir()  # newest folder, but without metrics.json
    assert read_run_files(fake_run.root).scores_dir == newer
    _age(newer / "metrics.json", 200)
    assert read_run_files(fake_run.root).scores_dir == fake_run.scores


def test_scores_by_tag_or_path(fake_run) -> None:
    assert read_run_files(fake_run.root, "synth").scores_dir == fake_run.scores
    assert read_run_files(fake_run.root, fake_run.scores).scores_dir == fake_run.scores
    with pytest.raises(RunError, match="--scores nowhere"):
        read_run_files(fake_run.root, "nowhere")


def test_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no such run folder"):
        read_run_files(tmp_path / "absent")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(RunError, match="not a run folder"):
        read_run_files(tmp_path)


def test_training_log_empty_cells_are_nan(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("step,lr,loss,loss_vq\n10,0.001,2.5,\n20,0.0005,,0.25\n")
    log = read_training_log(path)
    np.testing.assert_array_equal(log.columns["step"], [10, 20])
    np.testing.assert_array_equal(log.columns["loss"], [2.5, np.nan])
    np.testing.assert_array_equal(log.columns["loss_vq"], [np.nan, 0.25])
    assert not log.finished
    path.write_text("lr,loss\n0.1,1\n")
    with pytest.raises(ValueError, match="no 'step' column"):
        read_training_log(path)


def _npz(path: Path, **arrays) -> Path:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return path


def test_embedding_set_fills_optional_arrays_and_checks_lengths(tmp_path: Path) -> None:
    base = dict(
        embeddings=np.zeros((3, 4)),
        names=np.array(["a", "b", "c"]),
        machines=np.array(["fan"] * 3),
        sections=np.array(["00"] * 3),
        domains=np.array(["source"] * 3),
    )
    s = read_embedding_set(_npz(tmp_path / "a.npz", **base))
    assert s.pseudo_labels.tolist() == [-1, -1, -1] and s.attributes.tolist() == ["", "", ""]
    with pytest.raises(ValueError, match="another length"):
        read_embedding_set(_npz(tmp_path / "b.npz", **base | {"labels": np.array(["normal"])}))
    with pytest.raises(ValueError, match="missing arrays"):
        read_embedding_set(_npz(tmp_path / "c.npz", embeddings=np.zeros((3, 4))))


def test_metrics_rejects_a_bad_year(fake_run, tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({**fake_run.metrics, "year": "2024"}))
    with pytest.raises(ValueError, match="expected numbers"):
        read_metrics(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: {"name": c["name"]}, "expected the keys"),
        (lambda c: {**c, "score": float("nan")}, "not a finite"),
    ],
    ids=["missing-keys", "nan-score"],
)
def test_metrics_rejects_bad_clips(fake_run, tmp_path: Path, change, message: str) -> None:
    clips = fake_run.metrics["clips"]
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({**fake_run.metrics, "clips": [*clips[:-1], change(clips[-1])]}))
    with pytest.raises(ValueError, match=message):
        read_metrics(path)
