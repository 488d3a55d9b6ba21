"""``sslasd evaluate`` and :func:`sslasd.pipeline.evaluate.evaluate` on wav folders made on the fly."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sslasd.cli.main import main
from sslasd.data import index_dataset
from sslasd.errors import DataError
from sslasd.evaluation import evaluate_scores, write_challenge_files
from sslasd.pipeline.evaluate import evaluate

DEV = {("fan", "00"): 4, ("fan", "01"): 3, ("valve", "00"): 5}  # (machine, section) -> clips per domain/label


def _wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(160, dtype=np.float32), 16000)


@pytest.fixture
def dev_root(tmp_path: Path) -> Path:
    """A 2023-style development set: <machine>/test/section_XX_<domain>_test_<label>_NNNN_<attrs>.wav."""
    root = tmp_path / "dev_data"
    for (machine, section), n in DEV.items():
        for domain in ("source", "target"):
            for label in ("normal", "anomaly"):
                for i in range(n):
                    _wav(
                        root / machine / "test" / f"section_{section}_{domain}_test_{label}_{i:04d}_a_{i}.wav"
                    )
    return root


def _write_scores(
    root: Path, out: Path, year: int, seed: int = 0, decisions: bool = True
) -> dict[str, float]:
    """Random scores (anomalies higher on average) for every test clip, as challenge files."""
    rng = np.random.default_rng(seed)
    index = index_dataset(root, year=year)
    keyed = {}
    for machine in index.machines():
        for section in index.sections(machine):
            clips = index.select(machine=machine, section=section, split="test")
            scores = {c.name: float(rng.normal(c.label == "anomaly")) for c in clips}
            decided = {n: int(v > 0.5) for n, v in scores.items()} if decisions else None
            write_challenge_files(out, machine, section, scores, decided, year=year)
            keyed |= {f"{machine}/{n}": v for n, v in scores.items()}
    return keyed


def _cli(*argv: str) -> int:
    """``sslasd evaluate ARGV`` in-process."""
    return main(["evaluate", *argv])


def test_pipeline_equals_in_memory_evaluation(dev_root: Path, tmp_path: Path) -> None:
    scores = _write_scores(dev_root, tmp_path / "scores", 2023)
    result = evaluate(tmp_path / "scores", dev_root, year=2023, json=tmp_path / "m.json")
    clips = index_dataset(dev_root, year=2023).clips
    decisions = {k: int(v > 0.5) for k, v in scores.items()}
    assert result.to_dict() == evaluate_scores(clips, scores, year=2023, decisions=decisions).to_dict()
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["official_score"] == result.official_score
    assert len(written["clips"]) == sum(DEV.values()) * 4
    assert written["sections"][0]["decisions"]["source"]["f1"] == result.sections[0].decisions["source"].f1


def test_cli_prints_table_and_writes_json(dev_root: Path, tmp_path: Path, capsys) -> None:
    _write_scores(dev_root, tmp_path / "scores", 2024, decisions=False)
    out = tmp_path / "out" / "metrics.json"
    assert (
        _cli(
            "--scores",
            str(tmp_path / "scores"),
            "--data",
            str(dev_root),
            "--year",
            "2024",
            "--json",
            str(out),
        )
        == 0
    )
    printed = capsys.readouterr().out.strip().splitlines()
    official = json.loads(out.read_text())["official_score"]
    assert (
        printed[-1] == f"official score (DCASE 2024 rule, partial set, not comparable): {100 * official:.2f}"
    )
    assert [line.split()[:2] for line in printed[2:5]] == [["fan", "00"], ["fan", "01"], ["fan", "a-mean"]]


def test_cli_errors_exit_1_with_one_line(dev_root: Path, tmp_path: Path, capsys) -> None:
    _write_scores(dev_root, tmp_path / "s", 2023, decisions=False)
    (tmp_path / "s" / "anomaly_score_valve_section_00_test.csv").write_text("a.wav,nan\n")
    assert _cli("--scores", str(tmp_path / "s"), "--data", str(dev_root)) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("sslasd evaluate: error: ")
        and "anomaly_score_valve_section_00_test.csv:1: value 'nan'" in err
    )
    assert len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as usage:
        _cli("--scores", str(tmp_path / "s"), "--data", str(dev_root), "--year", "2019")
    assert usage.value.code == 2


def test_year_defaults_to_the_data_set_year(dev_root: Path, tmp_path: Path) -> None:
    _write_scores(dev_root, tmp_path / "scores", 2022)
    assert evaluate(tmp_path / "scores", dev_root).year == index_dataset(dev_root).year == 2022


def test_missing_score_file_is_refused(dev_root: Path, tmp_path: Path) -> None:
    _write_scores(dev_root, tmp_path / "s", 2023, decisions=False)
    (tmp_path / "s" / "anomaly_score_fan_section_01_test.csv").unlink()
    with pytest.raises(
        DataError, match=r"12 clips have no score: fan/section_01_source_test_anomaly_0000_a_0\.wav"
    ):
        evaluate(tmp_path / "s", dev_root, year=2023)


def test_score_filed_under_another_section_is_refused(dev_root: Path, tmp_path: Path) -> None:
    _write_scores(dev_root, tmp_path / "s", 2023, decisions=False)
    moved = "section_00_source_test_normal_0000_a_0.wav"
    f00, f01 = (tmp_path / "s" / f"anomaly_score_fan_section_{s}_test.csv" for s in ("00", "01"))
    rows = f00.read_text().splitlines(keepends=True)
    f00.write_text("".join(r for r in rows if not r.startswith(moved)))
    f01.write_text(f01.read_text() + next(r for r in rows if r.startswith(moved)))
    with pytest.raises(
        DataError, match=f"1 scores are in another section's file: fan/{moved} \\(file section 01"
    ):
        evaluate(tmp_path / "s", dev_root, year=2023)


def test_decision_files_for_some_sections_only_are_refused(dev_root: Path, tmp_path: Path) -> None:
    _write_scores(dev_root, tmp_path / "s", 2023)
    (tmp_path / "s" / "decision_result_valve_section_00_test.csv").unlink()
    with pytest.raises(DataError, match="decision_result files are missing for 1 sections: valve section 00"):
        evaluate(tmp_path / "s", dev_root, year=2023)


def test_evaluation_set_needs_ground_truth(tmp_path: Path) -> None:
    root, rng = tmp_path / "eval_data", np.random.default_rng(5)
    truth = {
        f"section_00_{i:04d}.wav": (("normal", "anomaly")[i % 2], ("source", "target")[i // 6])
        for i in range(12)
    }
    for name in truth:
        _wav(root / "ToyDrone" / "test" / name)
    scores = {name: float(rng.normal(label == "anomaly")) for name, (label, _) in truth.items()}
    write_challenge_files(tmp_path / "s", "ToyDrone", "00", scores, year=2023)
    with pytest.raises(
        DataError, match=r"12 test clips have no label .* pass the evaluation set's ground truth"
    ):
        evaluate(tmp_path / "s", root, year=2023)
    gt = tmp_path / "truth.csv"
    gt.write_text(
        "file_name,label,domain,machine\n"
        + "".join(f"{n},{lab},{dom},ToyDrone\n" for n, (lab, dom) in truth.items())
    )
    result = evaluate(tmp_path / "s", root, ground_truth=gt, year=2023)
    clips = index_dataset(root, year=2023).clips
    labelled = [replace(c, label=truth[c.name][0], domain=truth[c.name][1]) for c in clips]
    assert result.official_score == evaluate_scores(labelled, scores, year=2023).official_score
    assert result.sections[0].counts == {
        "normal_source": 3,
        "anomaly_source": 3,
        "normal_target": 3,
        "anomaly_target": 3,
    }


@pytest.mark.real_data
def test_real_dcase2020_clips(real_clips_dir: Path, tmp_path: Path, capsys) -> None:
    """The real 2020 clips of the machine IDs that hold both normals and anomalies, with random scores."""
    full = index_dataset(real_clips_dir, year=2020)
    usable = [
        (m, s)
        for m in full.machines()
        for s in full.sections(m)
        if {c.label for c in full.select(machine=m, section=s, split="test")} == {"normal", "anomaly"}
    ]
    assert len(usable) >= 5
    root = tmp_path / "data"
    for m, s in usable:
        for c in full.select(machine=m, section=s, split="test"):
            (root / m / "test").mkdir(parents=True, exist_ok=True)
            (root / m / "test" / c.name).symlink_to(c.path)
    scores = _write_scores(root, tmp_path / "s", 2020, seed=1, decisions=False)
    assert sorted(p.name for p in (tmp_path / "s").iterdir())[0].startswith("anomaly_score_ToyCar_id_")
    assert _cli("--scores", str(tmp_path / "s"), "--data", str(root), "--json", str(tmp_path / "m.json")) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    per_machine: dict[str, list[float]] = {}
    for section in metrics["sections"]:
        clips = full.select(machine=section["machine"], section=section["section"], split="test")
        pos = [scores[f"{c.machine}/{c.name}"] for c in clips if c.label == "anomaly"]
        neg = [scores[f"{c.machine}/{c.name}"] for c in clips if c.label == "normal"]
        pairs = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
        assert section["auc"] == pytest.approx(pairs, abs=1e-12)
        per_machine.setdefault(section["machine"], []).extend([section["auc"], section["pauc"]])
    expected = np.mean([np.mean(v) for v in per_machine.values()])
    assert metrics["official_score"] == pytest.approx(expected, abs=1e-12)
    assert capsys.readouterr().out.strip().endswith(f"{100 * expected:.2f}")
