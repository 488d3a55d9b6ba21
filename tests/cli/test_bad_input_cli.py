"""Bad input gets one line and loses nothing (issue 17's catalogue, the cases fixed so far)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sslasd.cli.main import main

pytestmark = pytest.mark.slow

FAST = ["--set", "train.steps=12", "--set", "train.warmup_steps=2", "--set", "mga.mode=none"]


@pytest.fixture
def with_empty_wav(tiny_dataset: Path, tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root)
    bad = root / "pump" / "train" / sorted(p.name for p in (root / "pump" / "train").glob("*.wav"))[0]
    bad.write_bytes(b"")
    return root, bad


def _error(err: str, verb: str) -> str:
    """The error text: it starts with the verb's one-line header (a list of files may follow)."""
    assert err.startswith(f"sslasd {verb}: error: ") and "Traceback" not in err, err
    return err


def test_an_empty_wav_in_train_is_one_line_before_any_run_is_made(with_empty_wav, tmp_path: Path, capsys):
    root, bad = with_empty_wav
    run = tmp_path / "run"
    assert (
        main(["fit", "--data", str(root), "--out", str(run), "--config", "tiny", *FAST, "--no-progress"]) == 1
    )
    err = _error(capsys.readouterr().err, "fit")
    assert f"{bad.name}: empty file" in err and "--skip-bad" in err
    assert not run.exists()  # nothing left to block a retry


def test_skip_bad_skips_and_lists_bad_audio(with_empty_wav, tmp_path: Path, capsys) -> None:
    root, bad = with_empty_wav
    assert main(["data", "summary", str(root), "--skip-bad"]) == 0
    printed = "".join(capsys.readouterr().out.split())  # folded cells: join the pieces
    assert "".join(bad.name.split()) in printed.replace("│", "") and "…" not in printed
    run = tmp_path / "run"
    argv = ["fit", "--data", str(root), "--out", str(run), "--config", "tiny", *FAST, "--no-progress"]
    assert main([*argv, "--skip-bad", "--no-floors"]) == 0
    skipped = json.loads((run / "run.json").read_text())["skipped"]
    assert [Path(s["path"]).name for s in skipped] == [bad.name]
    assert main([*argv, "--skip-bad", "--no-floors"]) == 0  # a finished run stays a no-op
    assert "already fitted" in capsys.readouterr().out


def test_an_output_path_below_a_file_is_one_line(tiny_dataset: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    argv = ["synth", str(blocker / "data"), "--preset", "tiny"]
    assert main(argv) == 1
    err = _error(capsys.readouterr().err, "synth")
    assert len(err.strip().splitlines()) == 1 and "file.txt" in err
    assert blocker.read_text() == "mine"


def test_score_and_evaluate_take_skip_bad_as_the_error_advises(
    tiny_run: Path, tiny_dataset: Path, tmp_path: Path, capsys
) -> None:
    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root)
    bad = sorted((root / "fan" / "test").glob("*.wav"))[0]
    bad.write_bytes(b"")
    out = tmp_path / "scores"
    assert main(["score", "--run", str(tiny_run), "--data", str(root), "--out", str(out)]) == 1
    err = _error(capsys.readouterr().err, "score")
    assert bad.name in err and "--skip-bad" in err and not out.exists()
    assert main(["score", "--run", str(tiny_run), "--data", str(root), "--out", str(out), "--skip-bad"]) == 0
    assert main(["evaluate", "--scores", str(out), "--data", str(root)]) == 1
    _error(capsys.readouterr().err, "evaluate")
    assert main(["evaluate", "--scores", str(out), "--data", str(root), "--skip-bad"]) == 0
    assert "official score" in capsys.readouterr().out
