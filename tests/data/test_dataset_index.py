"""index_dataset: every layout, year detection, attribute CSV checks, bad files with and without skip_bad."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sslasd.data import AttributeRow, index_dataset, write_attributes_csv
from sslasd.errors import DataError

MakeLayout = Callable[..., Path]

DCASE2024 = [
    "fan/train/section_00_source_train_normal_0000_spd_1_mic_A.wav",
    "fan/train/section_00_target_train_normal_0000_spd_5_mic_A.wav",
    "fan/test/section_00_source_test_anomaly_0000_spd_1_mic_B.wav",
    "fan/test/section_00_target_test_normal_0000_spd_5_mic_B.wav",
    "gearbox/train/section_00_source_train_normal_0000_noAttribute.wav",
    "gearbox/test/section_00_target_test_anomaly_0000_noAttribute.wav",
]


def test_flat_layout_2024(make_layout: MakeLayout) -> None:
    index = index_dataset(make_layout(DCASE2024))
    assert index.year == 2024
    assert index.machines() == ["fan", "gearbox"]
    assert index.sections("fan") == ["00"]
    assert len(index) == 6 and index.skipped == []
    [clip] = index.select(machine="fan", split="test", label="anomaly")
    assert (clip.domain, clip.section, dict(clip.attributes), clip.dataset) == (
        "source",
        "00",
        {"spd": "1", "mic": "B"},
        "dev",
    )
    assert clip.attribute_string == "spd_1_mic_B"
    [hidden] = index.select(machine="gearbox", split="train")
    assert (hidden.no_attribute, dict(hidden.attributes), hidden.attribute_string) == (
        True,
        {},
        "noAttribute",
    )
    assert [c.name for c in index.select(domain="target", machine="fan")] == [
        "section_00_target_test_normal_0000_spd_5_mic_B.wav",
        "section_00_target_train_normal_0000_spd_5_mic_A.wav",
    ]


def test_layout_2020_takes_the_split_from_the_folder(make_layout: MakeLayout) -> None:
    index = index_dataset(
        make_layout(
            [
                "pump/train/normal_id_00_00000000.wav",
                "pump/test/normal_id_00_00000000.wav",
                "pump/test/anomaly_id_02_00000000.wav",
            ]
        )
    )
    assert index.year == 2020
    assert [(c.split, c.label, c.section, c.domain) for c in index] == [
        ("test", "anomaly", "02", "none"),
        ("test", "normal", "00", "none"),
        ("train", "normal", "00", "none"),
    ]


def test_dev_and_eval_releases(make_layout: MakeLayout) -> None:
    root = make_layout(
        [
            "dev_data/raw/bearing/train/section_00_source_train_normal_0000_vel_6.wav",
            "dev_data/raw/bearing/test/section_00_source_test_anomaly_0000_vel_6.wav",
            "eval_data/bearing/train/section_03_source_train_normal_0000_vel_9.wav",
            "eval_data/bearing/test/section_03_0000.wav",
        ]
    )
    index = index_dataset(root)
    assert index.year == 2022
    assert [(c.dataset, c.section, c.split, c.label, c.domain) for c in index] == [
        ("dev", "00", "test", "anomaly", "source"),
        ("dev", "00", "train", "normal", "source"),
        ("eval", "03", "test", "unknown", "unknown"),
        ("eval", "03", "train", "normal", "source"),
    ]
    assert len(index.select(dataset="eval")) == 2


def test_root_may_be_one_machine_folder(make_layout: MakeLayout) -> None:
    root = make_layout(
        ["train/normal_id_00_00000000.wav", "test/anomaly_id_00_00000000.wav"], root_name="valve"
    )
    index = index_dataset(root)
    assert index.machines() == ["valve"] and len(index) == 2


def test_2021_source_and_target_test_folders(make_layout: MakeLayout) -> None:
    root = make_layout(
        [
            "ToyCar/train/section_00_source_train_normal_0000_A1Spd28VMic1.wav",
            "ToyCar/source_test/section_00_source_test_normal_0000.wav",
            "ToyCar/target_test/section_00_target_test_anomaly_0000.wav",
            "ToyCar/target_test/section_03_target_test_0000.wav",
            "ToyCar/source_test/section_01_target_test_normal_0001.wav",  # domain disagrees with the folder
        ]
    )
    with pytest.raises(DataError, match="the name says target but the file is in source_test/"):
        index_dataset(root)
    index = index_dataset(root, skip_bad=True)
    assert index.year == 2021
    assert [(c.dataset, c.split, c.domain, c.label, dict(c.attributes)) for c in index] == [
        ("dev", "test", "source", "normal", {}),
        ("dev", "test", "target", "anomaly", {}),
        ("dev", "train", "source", "normal", {}),  # the 2021 train suffix is not key_value pairs
        ("eval", "test", "target", "unknown", {}),
    ]
    assert [s.path.name for s in index.skipped] == ["section_01_target_test_normal_0001.wav"]


def test_bad_names_are_listed_or_skipped(make_layout: MakeLayout) -> None:
    root = make_layout(
        [
            *DCASE2024,
            "fan/train/recording_from_tuesday.wav",
            "fan/test/section_00_source_train_normal_0001_spd_1_mic_A.wav",  # a train name in test/
        ]
    )
    with pytest.raises(DataError) as info:
        index_dataset(root)
    message = str(info.value)
    assert "2 file(s) cannot be used (index with --skip-bad to leave them out)" in message
    assert f"{root / 'fan/train/recording_from_tuesday.wav'}: file name fits no DCASE" in message
    assert "the name says train but the file is in test/" in message
    index = index_dataset(root, skip_bad=True)
    assert len(index) == 6
    assert sorted(s.path.name for s in index.skipped) == [
        "recording_from_tuesday.wav",
        "section_00_source_train_normal_0001_spd_1_mic_A.wav",
    ]


def test_attribute_csv_gives_the_pairs_and_must_agree(make_layout: MakeLayout) -> None:
    names = [
        "CoffeeGrinder/train/section_00_source_train_normal_0000_mic_imp23absu_mic_pos_A.wav",
        "CoffeeGrinder/train/section_00_source_train_normal_0001_mic_imp23absu_mic_pos_B.wav",
    ]
    root = make_layout(names)
    rows = [
        AttributeRow(names[0], (("mic", "imp23absu"), ("mic_pos", "A"))),
        AttributeRow(names[1], (("mic", "imp23absu"), ("mic_pos", "C"))),  # disagrees with the name
    ]
    write_attributes_csv(root / "CoffeeGrinder" / "attributes_00.csv", rows)
    with pytest.raises(
        DataError, match=r"attributes_00.csv gives attributes 'mic_imp23absu_mic_pos_C', the name"
    ):
        index_dataset(root)
    index = index_dataset(root, skip_bad=True)
    [clip] = index.clips
    assert dict(clip.attributes) == {"mic": "imp23absu", "mic_pos": "A"}  # the name alone cannot split this
    assert clip.attribute_string == "mic_imp23absu_mic_pos_A"
    assert index.skipped[0].path.name == names[1].rsplit("/", 1)[1]


def test_an_attribute_csv_row_without_pairs_says_nothing(make_layout: MakeLayout) -> None:
    root = make_layout(DCASE2024)
    write_attributes_csv(root / "gearbox" / "attributes_00.csv", [AttributeRow(DCASE2024[4], ())])
    [clip] = index_dataset(root).select(machine="gearbox", split="train")
    assert clip.no_attribute and clip.attribute_string == "noAttribute"


def test_a_malformed_attribute_csv_is_reported(make_layout: MakeLayout) -> None:
    root = make_layout(DCASE2024)
    (root / "fan" / "attributes_00.csv").write_text("name,a\n")
    with pytest.raises(DataError, match="attributes_00.csv: header 'name,a' is not file_name"):
        index_dataset(root)
    index = index_dataset(root, skip_bad=True)
    assert len(index) == 6 and [s.path.name for s in index.skipped] == ["attributes_00.csv"]


def test_check_audio_finds_bad_audio(make_layout: MakeLayout) -> None:
    root = make_layout(DCASE2024)
    (root / DCASE2024[0]).write_bytes(b"")
    assert len(index_dataset(root)) == 6  # names only: the empty file is not opened
    with pytest.raises(DataError, match=r"empty file \(0 bytes\)"):
        index_dataset(root, check_audio=True)
    index = index_dataset(root, check_audio=True, skip_bad=True)
    assert len(index) == 5 and index.skipped[0].reason == "empty file (0 bytes)"


def test_explicit_year_must_fit(make_layout: MakeLayout) -> None:
    root = make_layout(DCASE2024[:2])
    assert index_dataset(root, year=2025).year == 2025
    with pytest.raises(DataError, match="follows the 2021-2026 naming scheme, not the 2020 one"):
        index_dataset(root, year=2020)


def test_mixed_schemes_ask_for_the_year(make_layout: MakeLayout) -> None:
    root = make_layout(
        ["fan/train/normal_id_00_00000000.wav", "fan/train/section_00_source_train_normal_0000_a_1.wav"]
    )
    with pytest.raises(DataError, match=r"mix the 2020 scheme .* pass the year \(--year\)"):
        index_dataset(root)
    index = index_dataset(root, year=2020, skip_bad=True)
    assert len(index) == 1 and len(index.skipped) == 1


def test_no_clips(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data root is not a folder"):
        index_dataset(tmp_path / "nowhere")
    (tmp_path / "fan" / "train").mkdir(parents=True)
    (tmp_path / "fan" / "train" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no .wav files found in a DCASE layout"):
        index_dataset(tmp_path)


@pytest.mark.parametrize(
    ("layout", "supplementary"),
    [
        ("flat", "fan/supplemental/noise_0000.wav"),
        ("flat", "fan/supplemental/section_00_source_train_normal_0000_spd_1_mic_A.wav"),  # a clip's name
        ("flat", "gearbox/supplemental/clean/whatever.wav"),  # any depth, any name
        ("releases", "dev_data/raw/fan/supplemental/noise_0000.wav"),
        ("one machine", "supplemental/noise_0000.wav"),
    ],
)
def test_supplementary_clips_are_not_clips(make_layout: MakeLayout, layout: str, supplementary: str) -> None:
    """DCASE 2025's <machine>/supplemental/ (clean machine and noise-only clips) is neither train nor
    test: the index leaves it out, with no error and no skipped file."""
    clips = {
        "flat": DCASE2024,
        "releases": [f"dev_data/raw/{p}" for p in DCASE2024],
        "one machine": [p.removeprefix("fan/") for p in DCASE2024 if p.startswith("fan/")],
    }[layout]
    plain = index_dataset(make_layout(clips, root_name="plain"))
    index = index_dataset(make_layout([*clips, supplementary], root_name="with"))
    assert [c.name for c in index] == [c.name for c in plain] and index.skipped == []
    assert not any("supplemental" in c.path.parts for c in index)
