"""Challenge file names per year, exact file contents, round trips and refusal of malformed files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sslasd.errors import ConfigError, DataError
from sslasd.evaluation import (
    challenge_file_name,
    evaluate_scores,
    read_challenge_dir,
    read_challenge_file,
    write_challenge_files,
)


@pytest.mark.parametrize(
    ("kind", "machine", "section", "year", "domain", "expected"),
    [
        ("anomaly_score", "fan", "01", 2020, None, "anomaly_score_fan_id_01.csv"),
        ("anomaly_score", "ToyConveyor", "04", 2020, None, "anomaly_score_ToyConveyor_id_04.csv"),
        (
            "anomaly_score",
            "gearbox",
            "03",
            2021,
            "source",
            "anomaly_score_gearbox_section_03_source_test.csv",
        ),
        ("decision_result", "fan", "00", 2021, "target", "decision_result_fan_section_00_target_test.csv"),
        ("anomaly_score", "bearing", "05", 2022, None, "anomaly_score_bearing_section_05_test.csv"),
        ("decision_result", "ToyDrone", "00", 2023, None, "decision_result_ToyDrone_section_00_test.csv"),
        ("anomaly_score", "3DPrinter", "00", 2024, None, "anomaly_score_3DPrinter_section_00_test.csv"),
        ("decision_result", "ToyRCCar", "00", 2025, None, "decision_result_ToyRCCar_section_00_test.csv"),
        ("anomaly_score", "ToyCarEmu", "00", 2026, None, "anomaly_score_ToyCarEmu_section_00_test.csv"),
    ],
)
def test_file_names(kind, machine, section, year, domain, expected) -> None:
    assert challenge_file_name(kind, machine, section, year, domain=domain) == expected


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("score", "fan", "00", 2024), {}, "kind: got 'score'"),
        (("anomaly_score", "fan", "0", 2024), {}, "section: got '0', expected two digits"),
        (("anomaly_score", "fan/x", "00", 2024), {}, "machine: got 'fan/x'"),
        (("anomaly_score", "", "00", 2024), {}, "machine: got ''"),
        (("anomaly_score", "fan", "00", 2021), {}, "DCASE 2021 files are per domain"),
        (("anomaly_score", "fan", "00", 2024), {"domain": "source"}, "only DCASE 2021 files are per domain"),
        (("anomaly_score", "fan", "00", 2019), {}, "year: got 2019"),
    ],
)
def test_bad_file_name_arguments(args, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        challenge_file_name(*args, **kwargs)


def test_written_files_are_headerless_sorted_csv(tmp_path: Path) -> None:
    scores = {"b.wav": np.float64(0.1) + np.float64(0.2), "a.wav": -3, "c.wav": np.float32(1.5)}
    paths = write_challenge_files(
        tmp_path, "fan", "00", scores, {"a.wav": 1, "b.wav": 0, "c.wav": True}, year=2023
    )
    assert [p.name for p in paths] == [
        "anomaly_score_fan_section_00_test.csv",
        "decision_result_fan_section_00_test.csv",
    ]
    assert paths[0].read_bytes() == b"a.wav,-3.0\nb.wav,0.30000000000000004\nc.wav,1.5\n"
    assert paths[1].read_bytes() == b"a.wav,1\nb.wav,0\nc.wav,1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]  # no temporary leftovers


def test_2021_writes_one_file_per_domain(tmp_path: Path) -> None:
    scores = {"section_00_source_test_normal_0000.wav": 0.25, "section_00_target_test_anomaly_0001.wav": 0.75}
    paths = write_challenge_files(tmp_path, "fan", "00", scores, {k: 1 for k in scores}, year=2021)
    assert [p.name for p in paths] == [
        "anomaly_score_fan_section_00_source_test.csv",
        "anomaly_score_fan_section_00_target_test.csv",
        "decision_result_fan_section_00_source_test.csv",
        "decision_result_fan_section_00_target_test.csv",
    ]
    assert paths[1].read_text() == "section_00_target_test_anomaly_0001.wav,0.75\n"
    ((key, read),) = read_challenge_dir(tmp_path, year=2021).items()
    assert key == ("fan", "00") and read.scores == scores and read.decisions == {k: 1 for k in scores}


def test_2021_domain_from_mapping_or_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"the domain of 'x\.wav' is unknown"):
        write_challenge_files(tmp_path, "fan", "00", {"x.wav": 1.0}, year=2021)
    (path,) = write_challenge_files(
        tmp_path, "fan", "00", {"x.wav": 1.0}, year=2021, domains={"x.wav": "target"}
    )
    assert path.name == "anomaly_score_fan_section_00_target_test.csv"


@pytest.mark.parametrize("year", [2020, 2021, 2022, 2024, 2025, 2026])
def test_round_trip_evaluates_identically(year: int, tmp_path: Path, clips_from, random_clips) -> None:
    rng = np.random.default_rng(year)
    spec = random_clips(rng, year, ["fan", "valve"], ["00", "01"])
    spec = {
        k: (np.asarray(v) + rng.normal(0, 1e-3, len(v))).tolist() for k, v in spec.items()
    }  # full precision
    clips, scores = clips_from(year, spec)
    decisions = {k: int(v > 0.5) for k, v in scores.items()}
    for machine, section in {(c.machine, c.section) for c in clips}:
        names = {c.name for c in clips if c.machine == machine and c.section == section}
        write_challenge_files(
            tmp_path,
            machine,
            section,
            {n: scores[f"{machine}/{n}"] for n in names},
            {n: decisions[f"{machine}/{n}"] for n in names},
            year=year,
        )
    read = read_challenge_dir(tmp_path)
    assert sorted(read) == [("fan", "00"), ("fan", "01"), ("valve", "00"), ("valve", "01")]
    back = {f"{m}/{n}": v for (m, _), cs in read.items() for n, v in cs.scores.items()}
    back_decisions = {f"{m}/{n}": v for (m, _), cs in read.items() for n, v in cs.decisions.items()}
    assert back == scores  # exact floats
    direct = evaluate_scores(clips, scores, year=year, decisions=decisions)
    via_files = evaluate_scores(clips, back, year=year, decisions=back_decisions)
    assert via_files.to_dict() == direct.to_dict()


def test_reads_files_as_the_baselines_write_them(tmp_path: Path) -> None:
    """csv.writer output of numpy floats, CRLF line ends and a trailing blank line are all accepted."""
    (tmp_path / "anomaly_score_fan_id_00.csv").write_bytes(
        b"normal_id_00_00000000.wav,0.5\r\nanomaly_id_00_00000001.wav,1e-3\r\n\r\n"
    )
    (tmp_path / "result.csv").write_text("not,a,challenge,file\n")
    ((key, read),) = read_challenge_dir(tmp_path).items()
    assert key == ("fan", "00")
    assert read.scores == {"normal_id_00_00000000.wav": 0.5, "anomaly_id_00_00000001.wav": 0.001}
    assert read.decisions is None


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        (
            "file_name,anomaly_score\na.wav,0.1\n",
            "anomaly_score",
            r":1: value 'anomaly_score' .* \(challenge files have no header\)",
        ),
        ("a.wav,0.1,7\n", "anomaly_score", ":1: got 3 fields"),
        ("a.wav\n", "anomaly_score", ":1: got 1 fields"),
        ("a.wav,0.1\nb.wav,nan\n", "anomaly_score", ":2: value 'nan' for 'b.wav' is not a finite number"),
        ("a.wav,inf\n", "anomaly_score", "is not a finite number"),
        ("a.wav,0.1\na.wav,0.2\n", "anomaly_score", "1 file names appear more than once: a.wav"),
        ("", "anomaly_score", "no rows"),
        ("\n\n", "anomaly_score", "no rows"),
        ("a.wav,2\n", "decision_result", ":1: value '2' for 'a.wav' is not 0 or 1"),
        ("a.wav,0.5\n", "decision_result", "is not 0 or 1"),
    ],
)
def test_malformed_files_are_refused(content, kind, message, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_challenge_file(path, kind)


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("files", "year", "message"),
    [
        ({}, None, "no anomaly_score_\\*.csv files"),
        ({"decision_result_fan_section_00_test.csv": "a.wav,1\n"}, None, "no anomaly_score"),
        (
            {
                "anomaly_score_fan_section_00_test.csv": "a.wav,1\n",
                "decision_result_fan_section_01_test.csv": "a.wav,1\n",
            },
            None,
            "decision file without its anomaly_score file",
        ),
        (
            {
                "anomaly_score_fan_section_00_test.csv": "a.wav,1\n",
                "decision_result_fan_section_00_test.csv": "b.wav,1\n",
            },
            None,
            r"fan section 00: decision and anomaly score files name different clips \(2\): a.wav, b.wav",
        ),
        (
            {
                "anomaly_score_fan_id_00.csv": "a.wav,1\n",
                "anomaly_score_fan_section_00_test.csv": "a.wav,1\n",
            },
            None,
            "mixes file name grammars",
        ),
        ({"anomaly_score_fan_section_00.csv": "a.wav,1\n"}, None, "file name does not follow"),
        (
            {"anomaly_score_fan_section_00_test.csv": "a.wav,1\n"},
            2020,
            r"does not follow anomaly_score_<machine>_id_<XX>.csv \(2020\)",
        ),
        ({"anomaly_score_fan_id_00.csv": "a.wav,1\n"}, 2024, r"_section_<XX>_test.csv \(2022-2026\)"),
        (
            {
                "anomaly_score_fan_section_00_source_test.csv": "a.wav,1\n",
                "anomaly_score_fan_section_00_target_test.csv": "a.wav,2\n",
            },
            2021,
            "1 names appear in two files: a.wav",
        ),
    ],
)
def test_bad_folders_are_refused(files, year, message, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=message):
        read_challenge_dir(_write(tmp_path, files), year=year)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder of challenge files"):
        read_challenge_dir(tmp_path / "nope")


@pytest.mark.parametrize(
    ("scores", "decisions", "message"),
    [
        ({}, None, "no scores to write"),
        ({"a.wav": float("nan")}, None, "1 scores are not finite numbers: a.wav=nan"),
        ({"a.wav": "x"}, None, "scores are not finite numbers"),
        ({"a,b.wav": 1.0}, None, "names are not plain wav file names"),
        ({"dir/a.wav": 1.0}, None, "names are not plain wav file names"),
        ({"a.wav": 1.0}, {"a.wav": 3}, "1 decisions are not 0 or 1: a.wav=3"),
        ({"a.wav": 1.0}, {"b.wav": 1}, r"decisions and scores name different files \(2\)"),
    ],
)
def test_bad_writes_are_refused(scores, decisions, message, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=message):
        write_challenge_files(tmp_path, "fan", "00", scores, decisions, year=2024)
    assert list(tmp_path.iterdir()) == []


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    """Spreadsheets save CSV with a UTF-8 BOM; the first clip's name must not carry it."""
    path = tmp_path / "anomaly_score_fan_section_00_test.csv"
    path.write_bytes("\ufeffsection_00_source_test_normal_0000.wav,0.5\n".encode())
    assert read_challenge_file(path, "anomaly_score") == {"section_00_source_test_normal_0000.wav": 0.5}
