"""Attribute CSVs: round trips, the organisers' format, and every kind of malformed file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslasd.data import AttributeRow, read_attributes_csv, write_attributes_csv
from sslasd.errors import DataError

ROWS = [
    AttributeRow.from_attributes("fan/train/section_00_source_train_normal_0000_m-n_W.wav", {"m-n": "W"}),
    AttributeRow.from_attributes(
        "ToyCar/test/section_00_target_test_anomaly_0003_car_A2_spd_28V_mic_1.wav",
        {"car": "A2", "spd": "28V", "mic": "1"},
    ),
    AttributeRow.from_attributes(
        "gearbox/train/section_00_source_train_normal_0000_noAttribute.wav", {}, no_attribute=True
    ),
    # a parameter holding '_' (DCASE 2025 CoffeeGrinder), which only the CSV can tell apart
    AttributeRow.from_attributes("x/test/section_00_0000.wav", {"mic": "imp23absu", "mic_pos": "A"}),
]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "attributes_00.csv"
    write_attributes_csv(path, ROWS)
    assert read_attributes_csv(path) == ROWS
    assert path.read_text().splitlines()[0] == "file_name,d1p,d1v,d2p,d2v,d3p,d3v"


def test_row_views() -> None:
    fan, car, concealed, split = ROWS
    assert (fan.name, fan.attribute_string, fan.attributes) == (
        Path(fan.file_name).name,
        "m-n_W",
        {"m-n": "W"},
    )
    assert car.attribute_string == "car_A2_spd_28V_mic_1"
    assert (concealed.no_attribute, concealed.attributes, concealed.attribute_string) == (
        True,
        {},
        "noAttribute",
    )
    assert split.attribute_string == "mic_imp23absu_mic_pos_A"


def test_reads_the_organisers_layout(tmp_path: Path) -> None:
    """A BOM, CRLF line ends, short rows padded with nothing, and blank lines are all accepted."""
    path = tmp_path / "attributes_00.csv"
    text = (
        "\ufefffile_name,d1p,d1v,d2p,d2v\r\n"
        "valve/train/a_pat_00.wav,pat,00\r\n\r\n"
        "valve/test/b_pat_01_v_2.wav,pat,01,v,2\r\n"
    )
    path.write_bytes(text.encode("utf-8"))
    rows = read_attributes_csv(path)
    assert [r.pairs for r in rows] == [(("pat", "00"),), (("pat", "01"), ("v", "2"))]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "attribute CSV is empty"),
        ("name,d1p,d1v\nx.wav,a,1\n", "is not file_name followed by"),
        ("file_name,d1p\nx.wav,a\n", "is not file_name followed by"),
        ("file_name,d1p,d1v\nx.wav,a,1,b\n", "line 2 has 4 cells, the header only 3"),
        ("file_name,d1p,d1v\n,a,1\n", "line 2 has no file_name"),
        ("file_name,d1p,d1v\nx.wav,,1\n", "line 2: value '1' has no parameter name"),
        ("file_name,d1p,d1v\nm/train/x.wav,a,1\nm/train/x.wav,a,2\n", "line 3: x.wav is listed twice"),
    ],
)
def test_malformed_csv_is_a_data_error_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "attributes_00.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        read_attributes_csv(path)
    assert str(path) in str(info.value)


def test_missing_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="attribute CSV not found"):
        read_attributes_csv(tmp_path / "attributes_07.csv")
