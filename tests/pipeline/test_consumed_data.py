"""A run records what each step consumed: other data is never taken for the data already done."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sslasd.errors import DataError, RunError
from sslasd.evaluation import read_challenge_dir
from sslasd.pipeline.fit import fit
from sslasd.pipeline.rundir import RunDir
from sslasd.pipeline.score import score

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]


def _copy_without(src: Path, dest: Path, pattern: str) -> Path:
    shutil.copytree(src, dest)
    victim = sorted(dest.glob(pattern))[0]
    victim.unlink()
    return dest


def test_other_data_with_the_same_folder_name_gets_its_own_scores(
    tiny_run: Path, tiny_scores: Path, tiny_dataset: Path, tmp_path: Path, capsys
) -> None:
    other = _copy_without(tiny_dataset, tmp_path / "elsewhere" / tiny_dataset.name, "fan/test/*.wav")
    done = json.loads((tiny_scores / "DONE").read_text())
    assert done["data_root"] == str(tiny_dataset.resolve()) and len(done["digest"]) == 64

    new = score(tiny_run, other)
    assert new != tiny_scores and new.parent == tiny_scores.parent
    assert new.name.startswith(f"{tiny_dataset.name}-")
    assert "already scored" not in capsys.readouterr().out
    year = RunDir.at(tiny_run).read_info()["year"]
    fan_new = read_challenge_dir(new, year=year)[("fan", "00")].scores
    fan_old = read_challenge_dir(tiny_scores, year=year)[("fan", "00")].scores
    assert len(fan_new) == len(fan_old) - 1
    assert score(tiny_run, other) == new  # now a no-op for that data
    assert score(tiny_run, tiny_dataset) == tiny_scores  # and the original is still the original
    with pytest.raises(RunError, match="holds the scores of"):
        score(tiny_run, other, out=tiny_scores)


def test_fit_refuses_other_training_data_for_a_finished_run(
    tiny_run: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    other = _copy_without(tiny_dataset, tmp_path / "copy" / tiny_dataset.name, "pump/train/*.wav")
    with pytest.raises(RunError, match="other training clips"):
        fit(other, tiny_run, progress=False)
    assert RunDir.at(tiny_run).read_info()["train_data"]["data_root"] == str(tiny_dataset.resolve())


def test_a_missing_data_root_leaves_no_run_behind(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        fit(tmp_path / "no-such-data", tmp_path / "run", config="tiny", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_machine_without_training_clips_is_named_before_any_work(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    for wav in (data / "fan" / "train").glob("*.wav"):
        wav.unlink()
    with pytest.raises(DataError, match="fan section 00: test clips but no normal training clips"):
        fit(data, tmp_path / "run", config="tiny", progress=False)
    assert not (tmp_path / "run").exists()


def test_out_must_be_a_run_folder(tiny_dataset: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(RunError, match="is a file"):
        fit(tiny_dataset, a_file, config="tiny", progress=False)
    other = tmp_path / "project"
    other.mkdir()
    (other / "config.yaml").write_text("model: resnet\nlr: 0.1\n")  # someone else's config
    with pytest.raises(RunError, match="not an sslasd run"):
        fit(tiny_dataset, other, config="tiny", progress=False)
    assert a_file.read_text() == "mine" and (other / "config.yaml").read_text().startswith("model")
