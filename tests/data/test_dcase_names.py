"""The DCASE Task 2 name grammar: every year's dev and eval names, bad names, year detection, round trips."""

from __future__ import annotations

import pytest

from sslasd.data import detect_year, format_name, parse_name, split_attribute_string
from sslasd.errors import DataError

# name, year given (None = infer), expected (year, section, domain, split, label, number, attributes,
# no_attribute, dataset). Names as the organisers wrote them.
CASES = [
    # 2020: machine IDs, one domain; eval test names carry no label
    ("normal_id_00_00000000.wav", None, (2020, "00", "none", None, "normal", 0, {}, False, "dev")),
    ("anomaly_id_02_00000012.wav", None, (2020, "02", "none", "test", "anomaly", 12, {}, False, "dev")),
    ("normal_id_05_00000098.wav", 2020, (2020, "05", "none", None, "normal", 98, {}, False, "dev")),
    ("id_01_00000003.wav", None, (2020, "01", "none", "test", "unknown", 3, {}, False, "eval")),
    # 2021: free-form train suffixes (not parsed), suffix-less test names, eval names with a domain
    (
        "section_00_source_train_normal_0000_strength_1_ambient.wav",
        2021,
        (2021, "00", "source", "train", "normal", 0, {}, False, "dev"),
    ),
    (
        "section_02_target_train_normal_0002_A1Spd28VMic1.wav",
        2021,
        (2021, "02", "target", "train", "normal", 2, {}, False, "dev"),
    ),
    (
        "section_01_target_test_anomaly_0003.wav",
        None,
        (2021, "01", "target", "test", "anomaly", 3, {}, False, "dev"),
    ),
    (
        "section_03_source_test_0000.wav",
        None,
        (2021, "03", "source", "test", "unknown", 0, {}, False, "eval"),
    ),
    (
        "section_05_target_test_0199.wav",
        2021,
        (2021, "05", "target", "test", "unknown", 199, {}, False, "eval"),
    ),
    # 2022-2025: attributes in names (keys and values may hold '-' or '.'), noAttribute, unlabelled eval
    (
        "section_00_source_train_normal_0000_m-n_W.wav",
        2022,
        (2022, "00", "source", "train", "normal", 0, {"m-n": "W"}, False, "dev"),
    ),
    (
        "section_03_target_test_anomaly_0001_volt_1.7.wav",
        None,
        (2022, "03", "target", "test", "anomaly", 1, {"volt": "1.7"}, False, "dev"),
    ),
    ("section_04_0123.wav", 2022, (2022, "04", "unknown", "test", "unknown", 123, {}, False, "eval")),
    (
        "section_00_source_test_normal_0000_car_A2_spd_28V_mic_1_noise_1.wav",
        2023,
        (
            2023,
            "00",
            "source",
            "test",
            "normal",
            0,
            {"car": "A2", "spd": "28V", "mic": "1", "noise": "1"},
            False,
            "dev",
        ),
    ),
    ("section_00_0005.wav", 2023, (2023, "00", "unknown", "test", "unknown", 5, {}, False, "eval")),
    (
        "section_00_target_train_normal_0009_noAttribute.wav",
        None,
        (2024, "00", "target", "train", "normal", 9, {}, True, "dev"),
    ),
    (
        "section_00_target_test_anomaly_0001_mdl_B_spd_2.wav",
        2024,
        (2024, "00", "target", "test", "anomaly", 1, {"mdl": "B", "spd": "2"}, False, "dev"),
    ),
    (
        "section_00_source_test_normal_0035_spd1000_BckgC.wav",
        2024,
        (2024, "00", "source", "test", "normal", 35, {"spd1000": "BckgC"}, False, "dev"),
    ),
    (
        "section_00_source_train_normal_0990_id_C1_spd_2_mic_2.wav",
        2025,
        (2025, "00", "source", "train", "normal", 990, {"id": "C1", "spd": "2", "mic": "2"}, False, "dev"),
    ),
    ("section_00_0000.wav", 2025, (2025, "00", "unknown", "test", "unknown", 0, {}, False, "eval")),
    # 2026: the 2022-2025 names on two-channel audio; dev test clips numbered across domains and labels
    (
        "section_00_source_test_normal_0002_car_B2_spd_5_mic_2_mic_1.wav",  # ToyCarEmu: a repeated key
        2026,
        (2026, "00", "source", "test", "normal", 2, {"car_B2_spd_5_mic_2_mic": "1"}, False, "dev"),
    ),
    (
        "section_00_target_test_anomaly_0005_noAttribute.wav",  # ToyCar, bearingEmu, sliderEmu, valveEmu
        2026,
        (2026, "00", "target", "test", "anomaly", 5, {}, True, "dev"),
    ),
    (
        "section_00_target_test_normal_0001_pro_y.wav",  # gearboxEmu: 9 values, one written lower-case
        2026,
        (2026, "00", "target", "test", "normal", 1, {"pro": "y"}, False, "dev"),
    ),
    (
        "section_00_source_train_normal_0989_spd_3.wav",  # fan
        2026,
        (2026, "00", "source", "train", "normal", 989, {"spd": "3"}, False, "dev"),
    ),
    (
        "section_00_source_train_normal_0000_nzl_1_pow_1.wav",  # BlowerDustCollector (eval train)
        2026,
        (2026, "00", "source", "train", "normal", 0, {"nzl": "1", "pow": "1"}, False, "dev"),
    ),
    ("section_00_0199.wav", 2026, (2026, "00", "unknown", "test", "unknown", 199, {}, False, "eval")),
    # a path: only the last part is read
    (
        "fan/test/anomaly_id_06_00000002.wav",
        None,
        (2020, "06", "none", "test", "anomaly", 2, {}, False, "dev"),
    ),
]

FIELDS = ("year", "section", "domain", "split", "label", "number", "attributes", "no_attribute", "dataset")


@pytest.mark.parametrize(("name", "year", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parse_name(name: str, year: int | None, expected: tuple) -> None:
    parsed = parse_name(name, year=year)
    got = tuple(dict(getattr(parsed, f)) if f == "attributes" else getattr(parsed, f) for f in FIELDS)
    assert got == expected


BAD_NAMES = [
    "fan_0001.wav",  # no scheme
    "normal_id_0_00000000.wav",  # one-digit ID
    "section_00_source_train_normal_0000.flac",  # not .wav
    "section_00_sauce_train_normal_0000_vel_8.wav",  # unknown domain
    "section_00_source_valid_normal_0000_vel_8.wav",  # unknown split
    "section_00_source_test_broken_0000_vel_8.wav",  # unknown label
    "section_0_0000.wav",  # one-digit section
    "section_00_source_normal_0035_weight15_BckgF.wav",  # split missing (a 2024 RoboticArm list typo)
    "",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_raise_naming_the_file(name: str) -> None:
    with pytest.raises(DataError, match="fits no DCASE Task 2 naming scheme") as info:
        parse_name(name)
    assert str(info.value).startswith(f"{name}:")


@pytest.mark.parametrize(
    ("name", "year", "scheme"),
    [
        ("normal_id_00_00000000.wav", 2022, "2020"),
        ("section_00_source_test_normal_0000_vel_8.wav", 2020, "2021-2026"),
        ("section_03_source_test_0000.wav", 2023, "2021"),
        ("section_03_source_test_0000.wav", 2026, "2021"),
        ("section_03_0000.wav", 2021, "2022-2026"),
    ],
)
def test_a_name_of_another_year_is_refused(name: str, year: int, scheme: str) -> None:
    with pytest.raises(DataError, match=f"follows the {scheme} naming scheme, not the {year} one"):
        parse_name(name, year=year)


def test_unknown_year_is_refused() -> None:
    with pytest.raises(DataError, match="2019 is not a DCASE Task 2 edition"):
        parse_name("normal_id_00_00000000.wav", year=2019)


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        ("vel_8_acc_3", {"vel": "8", "acc": "3"}),
        ("noAttribute", {}),
        ("", {}),
        # not well-formed pairs: kept whole, so that joining key_value gives the suffix back
        ("mic_imp23absu_mic_pos_A_grind_100_bkg_A", {"mic_imp23absu_mic_pos_A_grind_100_bkg": "A"}),
        ("strength_1_ambient", {"strength_1": "ambient"}),
        ("spd_1_spd_2", {"spd_1_spd": "2"}),  # a repeated key
        ("solo", {"solo": ""}),
    ],
)
def test_split_attribute_string(suffix: str, expected: dict) -> None:
    assert split_attribute_string(suffix) == expected
    if len(suffix.split("_")) > 1 and suffix != "noAttribute":
        assert "_".join(f"{k}_{v}" for k, v in expected.items()) == suffix


@pytest.mark.parametrize(
    ("names", "year"),
    [
        (["fan/train/normal_id_00_00000000.wav", "fan/test/anomaly_id_00_00000001.wav"], 2020),
        (["fan/test/id_01_00000000.wav"], 2020),
        (
            [
                "fan/train/section_00_source_train_normal_0000_strength_1_ambient.wav",
                "fan/source_test/section_00_source_test_normal_0000.wav",
            ],
            2021,
        ),
        (["pump/target_test/section_03_target_test_0001.wav"], 2021),
        (["fan/train/section_00_source_train_normal_0000.wav"], 2021),  # no attributes anywhere
        (
            [
                "fan/train/section_01_source_train_normal_0000_m-n_W.wav",
                "fan/test/section_01_source_test_anomaly_0000_m-n_W.wav",
            ],
            2022,
        ),
        (
            [
                "bearing/test/section_03_0000.wav",
                "bearing/train/section_03_source_train_normal_0000_vel_9.wav",
            ],
            2022,
        ),
        (["ToyDrone/test/section_00_0000.wav"], 2023),
        (["3DPrinter/train/section_00_source_train_normal_0000_mdl_A_spd_1.wav"], 2024),
        (["gearbox/train/section_00_source_train_normal_0000_noAttribute.wav"], 2024),
        (["bearing/train/section_00_source_train_normal_0000_noAttribute.wav"], 2025),
        (["ScrewFeeder/train/section_00_source_train_normal_0000_vol_12000.wav"], 2025),
        # 2026: its own dev and eval types; ToyDrone and ToothBrush alone say their first edition
        (["bearingEmu/train/section_00_source_train_normal_0000_noAttribute.wav"], 2026),
        (["ToyCarEmu/test/section_00_source_test_normal_0002_car_B2_spd_5_mic_2_mic_1.wav"], 2026),
        (["gearboxEmu/train/section_00_target_train_normal_0000_pro_X.wav"], 2026),
        (["Sander/test/section_00_0000.wav"], 2026),
        (["ToyDrone/test/section_00_0000.wav", "SewingMachine/test/section_00_0000.wav"], 2026),
        (["ToothBrush/train/section_00_source_train_normal_0000_noAttribute.wav"], 2024),
    ],
)
def test_detect_year(names: list[str], year: int) -> None:
    assert detect_year(names) == year


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "no file names"),
        (["normal_id_00_00000000.wav", "section_00_0000.wav"], "mix the 2020 scheme"),
        (
            ["section_00_source_test_normal_0000.wav", "section_00_source_test_normal_0001_vel_8.wav"],
            "mix the 2021 scheme",
        ),
        (["fan_0001.wav"], "fits no DCASE"),
    ],
)
def test_detect_year_refuses(names: list[str], message: str) -> None:
    with pytest.raises(DataError, match=message):
        detect_year(names)


CLIPS = [
    ("00", "source", "train", "normal", 0, {"vel": "8", "acc": "3"}, False),
    ("01", "target", "test", "anomaly", 123, {"car": "A1", "spd": "28V"}, False),
    ("02", "target", "test", "normal", 7, {}, True),
    ("03", "source", "test", "unknown", 45, {}, False),
]


@pytest.mark.parametrize("year", [2020, 2021, 2022, 2023, 2024, 2025, 2026])
@pytest.mark.parametrize("clip", CLIPS)
def test_format_name_round_trips(year: int, clip: tuple) -> None:
    section, domain, split, label, number, attributes, concealed = clip
    name = format_name(
        year,
        section=section,
        domain="none" if year == 2020 else domain,
        split=split,
        label=label,
        number=number,
        attributes=attributes,
        no_attribute=concealed,
    )
    parsed = parse_name(name, year=year)
    assert (parsed.section, parsed.label, parsed.number) == (section, label, number)
    assert parsed.split in (split, None)
    expected_domain = "none" if year == 2020 else "unknown" if label == "unknown" and year >= 2022 else domain
    assert parsed.domain == expected_domain
    written = year >= 2022 and label != "unknown"
    assert dict(parsed.attributes) == (attributes if written else {})
    assert parsed.no_attribute == (concealed and written)
    assert parsed.dataset == ("eval" if label == "unknown" else "dev")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"section": "1"}, "section: '1' is not two digits"),
        ({"label": "bad"}, "label: 'bad'"),
        ({"domain": "none"}, "domain: 'none' is not source or target"),
    ],
)
def test_format_name_refuses_bad_fields(kwargs: dict, message: str) -> None:
    fields = {"section": "00", "domain": "source", "split": "train", "label": "normal", "number": 0} | kwargs
    with pytest.raises(DataError, match=message):
        format_name(2022, **fields)
