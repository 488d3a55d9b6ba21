"""Ground truth of evaluation sets: the four file forms, joining by name, and refusals on any mismatch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sslasd.data import DatasetIndex, GroundTruth, apply_ground_truth, index_dataset, read_ground_truth
from sslasd.errors import DataError

MakeLayout = Callable[..., Path]

EVAL_2024 = [
    "3DPrinter/train/section_00_source_train_normal_0000_mdl_A_spd_1.wav",
    "3DPrinter/test/section_00_0000.wav",
    "3DPrinter/test/section_00_0001.wav",
    "ToothBrush/test/section_00_0000.wav",
    "ToothBrush/test/section_00_0001.wav",
]
TRUTH = {  # machine/name -> (label, domain)
    "3DPrinter/section_00_0000.wav": ("anomaly", "target"),
    "3DPrinter/section_00_0001.wav": ("normal", "source"),
    "ToothBrush/section_00_0000.wav": ("normal", "target"),
    "ToothBrush/section_00_0001.wav": ("anomaly", "source"),
}


@pytest.fixture
def eval_index(make_layout: MakeLayout) -> DatasetIndex:
    return index_dataset(make_layout(EVAL_2024))


def _check_applied(index: DatasetIndex) -> None:
    tests = index.select(split="test")
    assert {f"{c.machine}/{c.name}": (c.label, c.domain) for c in tests} == TRUTH
    [train] = index.select(split="train")
    assert (train.label, train.domain) == ("normal", "source")


def test_sslasd_table_form(tmp_path: Path, eval_index: DatasetIndex) -> None:
    lines = ["file_name,label,domain"] + [
        f"{key.split('/')[0]}/test/{key.split('/')[1]},{label},{domain}"
        for key, (label, domain) in TRUTH.items()
    ]
    (tmp_path / "truth.csv").write_text("\n".join(lines) + "\n")
    truth = read_ground_truth(tmp_path / "truth.csv")
    assert truth["ToothBrush/section_00_0001.wav"] == GroundTruth(
        "section_00_0001.wav", "anomaly", "source", "ToothBrush"
    )
    applied = apply_ground_truth(eval_index, truth)
    assert isinstance(applied, DatasetIndex)
    _check_applied(applied)
    assert all(c.label == "unknown" for c in eval_index.select(split="test"))  # the input is unchanged


def test_official_evaluator_folder(tmp_path: Path, eval_index: DatasetIndex) -> None:
    for machine in ("3DPrinter", "ToothBrush"):
        items = [(k.split("/")[1], v) for k, v in TRUTH.items() if k.startswith(machine)]
        for folder, column in (("ground_truth_data", 0), ("ground_truth_domain", 1)):
            path = tmp_path / "gt" / folder / f"ground_truth_{machine}_section_00_test.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            codes = {"normal": 0, "anomaly": 1, "source": 0, "target": 1}
            path.write_text("".join(f"{name},{codes[v[column]]}\n" for name, v in items))
    truth = read_ground_truth(tmp_path / "gt")
    assert set(truth) == set(TRUTH)
    _check_applied(apply_ground_truth(eval_index, truth))


def test_organisers_eval_data_list(tmp_path: Path, eval_index: DatasetIndex) -> None:
    (tmp_path / "eval_data_list_2024.csv").write_text(
        "3DPrinter\n"
        "section_00_0000.wav,section_00_target_test_anomaly_0000_mdl_B_spd_2.wav\n"
        "section_00_0001.wav,section_00_source_test_normal_0001_mdl_A_spd_1.wav\n"
        "ToothBrush\n"
        "section_00_0000.wav,section_00_target_test_normal_0000_noAttribute.wav\n"
        "section_00_0001.wav,section_00_source_test_anomaly_0001_noAttribute.wav\n"
    )
    _check_applied(apply_ground_truth(eval_index, read_ground_truth(tmp_path / "eval_data_list_2024.csv")))


def test_2020_list_and_clip_lists(tmp_path: Path, make_layout: MakeLayout) -> None:
    clips = index_dataset(make_layout(["fan/test/id_01_00000000.wav", "fan/test/id_01_00000001.wav"])).clips
    (tmp_path / "list.csv").write_text(
        "fan\nid_01_00000000.wav,normal_id_01_00000098.wav,0\nid_01_00000001.wav,anomaly_id_01_00000064.wav,1\n"
    )
    applied = apply_ground_truth(clips, read_ground_truth(tmp_path / "list.csv"))
    assert isinstance(applied, list)
    assert [(c.label, c.domain) for c in applied] == [("normal", "none"), ("anomaly", "none")]


def test_2021_domain_from_the_official_file_name(tmp_path: Path) -> None:
    path = tmp_path / "ground_truth_fan_section_03_target_test.csv"
    path.write_text("section_03_target_test_0000.wav,1\n")
    assert read_ground_truth(path) == {
        "fan/section_03_target_test_0000.wav": GroundTruth(
            "section_03_target_test_0000.wav", "anomaly", "target", "fan"
        )
    }


def test_names_missing_on_either_side_are_listed(tmp_path: Path, eval_index: DatasetIndex) -> None:
    (tmp_path / "t.csv").write_text(
        "file_name,label\n3DPrinter/test/section_00_0000.wav,1\n3DPrinter/test/section_00_0099.wav,0\n"
        "Scanner/test/section_00_0000.wav,1\n"  # a machine not indexed: ignored
    )
    with pytest.raises(DataError) as info:
        apply_ground_truth(eval_index, read_ground_truth(tmp_path / "t.csv"))
    message = str(info.value)
    assert "3 test clips have no ground truth (3DPrinter/section_00_0001.wav, ToothBrush/" in message
    assert "1 ground-truth names have no clip (3DPrinter/section_00_0099.wav)" in message
    assert "Scanner" not in message


def test_a_bare_name_shared_by_machines_is_ambiguous(tmp_path: Path, eval_index: DatasetIndex) -> None:
    (tmp_path / "t.csv").write_text("file_name,label\nsection_00_0000.wav,anomaly\n")
    with pytest.raises(
        DataError, match=r"names section_00_0000.wav without a machine, but machines \['3DPrinter'"
    ):
        apply_ground_truth(eval_index, read_ground_truth(tmp_path / "t.csv"))


def test_a_labelled_clip_must_agree(tmp_path: Path, make_layout: MakeLayout) -> None:
    index = index_dataset(make_layout(["fan/test/anomaly_id_00_00000000.wav"]))
    (tmp_path / "t.csv").write_text("file_name,label\nfan/test/anomaly_id_00_00000000.wav,normal\n")
    with pytest.raises(DataError, match="named anomaly, ground truth normal"):
        apply_ground_truth(index, read_ground_truth(tmp_path / "t.csv"))


@pytest.mark.parametrize(
    ("file_name", "text", "message"),
    [
        ("t.csv", "file_name,label\nx.wav,maybe\n", r"line 2: label 'maybe' is not one of"),
        ("t.csv", "file_name,label,domain\nx.wav,1,left\n", r"line 2: domain 'left' is not one of"),
        ("t.csv", "a,b,c\n1,2,3\n", "not a ground-truth file sslasd knows"),
        ("t.csv", "", "ground-truth file is empty"),
        (
            "t.csv",
            "file_name,label\nx.wav,0\nx.wav,1\n",
            "x.wav has ground truth anomaly/unknown, another file says",
        ),
        ("eval_data_list_2022.csv", "x.wav,y.wav\n", "line 1: clip listed before any machine-type line"),
        ("ground_truth_fan_section_00_test.csv", "x.wav\n", r"line 1: expected 'file name,0\|1'"),
    ],
)
def test_malformed_ground_truth(tmp_path: Path, file_name: str, text: str, message: str) -> None:
    (tmp_path / file_name).write_text(text)
    with pytest.raises(DataError, match=message) as info:
        read_ground_truth(tmp_path / file_name)
    assert str(tmp_path / file_name) in str(info.value)


def test_missing_ground_truth(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="ground-truth file not found"):
        read_ground_truth(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="folder holds no ground-truth CSV files"):
        read_ground_truth(tmp_path)
