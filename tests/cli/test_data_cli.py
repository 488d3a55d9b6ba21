"""``sslasd data summary`` and ``sslasd synth``, run in-process through main([...])."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console

from sslasd.cli.main import main
from sslasd.data.synth import PRESETS, SynthPreset
from sslasd.pipeline.data_summary import data_summary


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich wraps at the terminal width; a wide one keeps paths and reasons on one line."""
    monkeypatch.setenv("COLUMNS", "400")


@pytest.fixture
def quick_tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``--preset tiny`` build 14 short clips, so that the CLI tests run in a moment."""
    preset = SynthPreset(
        "tiny", 0.6, {"fan": 1, "gearbox": 1}, source_train=2, target_train=1, test_per_group=1
    )
    monkeypatch.setitem(PRESETS, "tiny", preset)


def _tiny_clips() -> int:
    tiny = PRESETS["tiny"]
    per_section = tiny.source_train + tiny.target_train + 4 * tiny.test_per_group
    return per_section * sum(tiny.sections.values())


def test_summary_of_the_tiny_set(tiny_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "summary", str(tiny_dataset)]) == 0
    out = capsys.readouterr().out
    assert f"DCASE 2024 names, {_tiny_clips()} clips" in out
    for machine in ("bearing", "fan", "gearbox", "pump", "slider", "valve"):
        assert machine in out
    assert "noAttribute" in out and "spd=1,2,3" in out


def test_summary_rows_count_the_clips(tiny_dataset: Path) -> None:
    summary = data_summary(tiny_dataset)
    assert summary.num_clips == _tiny_clips() and summary.year == 2024
    fan = {r.domain: r for r in summary.rows if r.machine == "fan"}
    tiny = PRESETS["tiny"]
    source = (fan["source"].train_normal, fan["source"].test_normal, fan["source"].test_anomaly)
    assert source == (tiny.source_train, tiny.test_per_group, tiny.test_per_group)
    assert (fan["target"].train_normal, fan["target"].attributes) == (tiny.target_train, "spd=5 mic=A,B")
    console = Console(record=True, width=200)
    console.print(summary)
    assert "spd=1,2,3 mic=A,B" in console.export_text()


def test_summary_lists_what_was_skipped(
    tmp_path: Path, quick_tiny: None, capsys: pytest.CaptureFixture
) -> None:
    assert main(["synth", str(tmp_path / "set")]) == 0
    bad = tmp_path / "set" / "fan" / "train" / "notes_from_tuesday.wav"
    shutil.copy(next((tmp_path / "set" / "fan" / "train").iterdir()), bad)
    assert main(["data", "summary", str(tmp_path / "set")]) == 1
    assert "sslasd data: error:" in capsys.readouterr().err
    assert main(["data", "summary", str(tmp_path / "set"), "--skip-bad"]) == 0
    out = capsys.readouterr().out
    assert "1 file(s) skipped" in out and "notes_from_tuesday.wav" in out and "fits no DCASE" in out


def test_synth_cli(tmp_path: Path, quick_tiny: None, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "set2020"
    assert main(["synth", str(out), "--seed", "3", "--year-format", "2020"]) == 0
    assert f"{out}: 12 clips (tiny, seed 3, DCASE 2020 names)" in capsys.readouterr().out
    assert (out / "fan" / "test").is_dir() and not (out / "fan" / "attributes_00.csv").exists()
    assert main(["synth", str(out), "--seed", "3", "--year-format", "2020"]) == 0  # already there
    assert main(["synth", str(out), "--seed", "4"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["synth", str(out), "--seed", "4", "--overwrite"]) == 0
    assert (out / "fan" / "attributes_00.csv").is_file()


def test_synth_cli_supplementary(tmp_path: Path, quick_tiny: None, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "set2025"
    assert main(["synth", str(out), "--year-format", "2025", "--supplementary"]) == 0
    printed = capsys.readouterr().out
    assert f"{out}: {_tiny_clips()} clips + 8 supplementary noise clips (tiny, seed 0, DCASE 2025" in printed
    assert len(list((out / "gearbox" / "supplemental").glob("noise_*.wav"))) == 4
    assert main(["data", "summary", str(out)]) == 0  # the index leaves supplemental/ alone


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    for argv in (["synth"], ["synth", str(tmp_path), "--preset", "huge"], ["data"], ["data", "summary"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
