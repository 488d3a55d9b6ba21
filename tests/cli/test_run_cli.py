"""fit / score / detect / export through the command line, in-process (main([...]))."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslasd.cli.main import main
from sslasd.data import index_dataset

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]  # share one fitted run


def test_fit_and_score_again_are_noops(tiny_run: Path, tiny_scores: Path, tiny_dataset: Path, capsys) -> None:
    assert main(["fit", "--data", str(tiny_dataset), "--out", str(tiny_run), "--no-progress"]) == 0
    assert "already fitted" in capsys.readouterr().out
    assert main(["score", "--run", str(tiny_run), "--data", str(tiny_dataset)]) == 0
    assert "already scored" in capsys.readouterr().out


def test_detect_prints_a_table_and_fails_on_bad_files(
    tiny_run: Path, tiny_dataset: Path, tmp_path: Path, capsys
):
    clip = index_dataset(tiny_dataset).select(split="test")[0]
    assert main(["detect", "--run", str(tiny_run), str(clip.path)]) == 0
    out = capsys.readouterr().out
    assert clip.machine in out and ("normal" in out or "ANOMALY" in out)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    assert main(["detect", "--run", str(tiny_run), "--machine", clip.machine, str(clip.path), str(bad)]) == 1
    assert "1 of 2 files could not be scored" in capsys.readouterr().out


def test_export_refuses_to_overwrite(tiny_run: Path, tmp_path: Path, capsys) -> None:
    bundle = tmp_path / "m.sslasd"
    assert main(["export", "--run", str(tiny_run), "--out", str(bundle)]) == 0
    assert main(["export", "--run", str(tiny_run), "--out", str(bundle)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", "--run", str(tiny_run), "--out", str(bundle), "--overwrite"]) == 0


@pytest.mark.parametrize("verb", ["score", "detect"])
def test_precision_flag_reaches_the_verb(verb: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    seen: list[str] = []

    def fake(*args, precision: str, **kwargs):
        seen.append(precision)
        return "scores-folder" if verb == "score" else []

    monkeypatch.setattr(f"sslasd.pipeline.{verb}.{verb}", fake)
    argv = ["score", "--run", "r", "--data", "d"] if verb == "score" else ["detect", "--run", "r", "x.wav"]
    assert main(argv) == 0 and main([*argv, "--precision", "bf16"]) == 0
    assert main([*argv, "--precision", "32"]) == 0
    assert seen == ["auto", "bf16", "32"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--precision", "fp8"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_errors_and_usage(tmp_path: Path, capsys) -> None:
    assert main(["score", "--run", str(tmp_path / "nope"), "--data", str(tmp_path)]) == 1
    assert "not a run folder" in capsys.readouterr().err
    assert main(["fit", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--set", "lora.rnk=2"]) == 1
    assert "lora.rnk" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--data", str(tmp_path)])
    assert exc.value.code == 2
