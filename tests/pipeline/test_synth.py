"""sslasd.synth: the tiny set's DCASE format, determinism, every year's names, and the overwrite guard."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sslasd.data import index_dataset, read_attributes_csv
from sslasd.data.synth import PRESETS, SynthPreset, plan_dataset, render_clip
from sslasd.errors import ConfigError, RunError
from sslasd.pipeline.synth import synth


@pytest.fixture
def micro(monkeypatch: pytest.MonkeyPatch) -> str:
    """A preset of 14 short clips (a concealed and an attributed machine), so that each year builds fast."""
    preset = SynthPreset(
        "micro", 0.6, {"fan": 1, "gearbox": 1}, source_train=2, target_train=1, test_per_group=1
    )
    monkeypatch.setitem(PRESETS, "micro", preset)
    return "micro"


def _truth(root: Path) -> list[dict[str, str]]:
    with open(root / "synth_truth.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_tiny_set_is_in_dcase_2024_format(tiny_dataset: Path) -> None:
    index = index_dataset(tiny_dataset, check_audio=True)
    assert (index.year, index.skipped) == (2024, [])
    assert index.machines() == ["bearing", "fan", "gearbox", "pump", "slider", "valve"]
    for machine in index.machines():
        assert index.sections(machine) == ["00"]
        counts = {
            (d, s, lab): len(index.select(machine=machine, domain=d, split=s, label=lab))
            for d in ("source", "target")
            for s in ("train", "test")
            for lab in ("normal", "anomaly")
        }
        tiny = PRESETS["tiny"]
        assert counts[("source", "train", "normal")] == tiny.source_train
        assert counts[("target", "train", "normal")] == tiny.target_train
        assert all(
            counts[(d, "test", lab)] == tiny.test_per_group
            for d in ("source", "target")
            for lab in ("normal", "anomaly")
        )
        rows = read_attributes_csv(tiny_dataset / machine / "attributes_00.csv")
        assert sorted(r.file_name for r in rows) == sorted(
            f"{machine}/{c.split}/{c.name}" for c in index.select(machine=machine)
        )
        concealed = machine in ("gearbox", "slider")
        assert all(c.no_attribute == concealed for c in index.select(machine=machine))
        assert all(bool(c.attributes) != concealed for c in index.select(machine=machine))
    info = sf.info(str(index.clips[0].path))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 32000, "PCM_16")


def test_concealed_machines_still_have_hidden_operating_modes(tiny_dataset: Path) -> None:
    modes = defaultdict(set)
    for row in _truth(tiny_dataset):
        if row["domain"] == "source" and row["label"] == "normal":
            modes[row["machine"]].add(row["condition"])
    assert len(modes["gearbox"]) == 3 and len(modes["slider"]) == 3
    names = {p.name for p in (tiny_dataset / "gearbox" / "train").iterdir()}
    assert all(n.endswith("_noAttribute.wav") for n in names)


def test_target_domain_conditions_are_unseen_in_source(tiny_dataset: Path) -> None:
    seen = defaultdict(lambda: defaultdict(set))
    for row in _truth(tiny_dataset):
        seen[row["machine"]][row["domain"]].add(row["condition"])
    for machine, domains in seen.items():
        assert not domains["source"] & domains["target"], machine


def test_files_are_the_deterministic_render_of_their_plan(tiny_dataset: Path, tmp_path: Path) -> None:
    for plan in plan_dataset(PRESETS["tiny"], seed=0, year=2024)[::37]:
        sf.write(tmp_path / "again.wav", render_clip(plan, 2.0), 16000, subtype="PCM_16")
        on_disk, _ = sf.read(tiny_dataset / plan.relative_path, dtype="int16")
        again, _ = sf.read(tmp_path / "again.wav", dtype="int16")
        np.testing.assert_array_equal(on_disk, again)


def test_anomalies_are_varied(tiny_dataset: Path) -> None:
    rows = [r for r in _truth(tiny_dataset) if r["label"] == "anomaly"]
    assert len({(r["machine"], r["fault"]) for r in rows}) >= 18
    low, high = PRESETS["tiny"].severity
    assert all(low <= float(r["severity"]) <= high for r in rows)


@pytest.mark.parametrize(
    ("year", "detected", "test_folders", "csv"),
    [
        (2020, 2020, {"test"}, False),
        (2021, 2021, {"source_test", "target_test"}, False),
        (2022, 2022, {"test"}, True),
        (2023, 2022, {"test"}, True),  # 2022 and 2023 names are alike; the earliest edition is reported
        (2024, 2024, {"test"}, True),
        (2025, 2024, {"test"}, True),
        (2026, 2026, {"test"}, True),  # gearboxEmu: a 2026 type
    ],
)
def test_every_year_format(
    tmp_path: Path, micro: str, year: int, detected: int, test_folders: set, csv: bool
) -> None:
    root = synth(tmp_path / "set", preset=micro, seed=0, year_format=year)
    index = index_dataset(root)
    assert index.year == detected
    assert index_dataset(root, year=year).year == year
    assert {c.path.parent.name for c in index.select(split="test")} == test_folders
    assert (root / "fan" / "attributes_00.csv").is_file() == csv
    assert {c.domain for c in index} == ({"none"} if year == 2020 else {"source", "target"})
    assert len(index) == (12 if year == 2020 else 14)  # 2020: no target training clips
    assert index.machines() == (["fan", "gearboxEmu"] if year == 2026 else ["fan", "gearbox"])
    assert {sf.info(str(c.path)).channels for c in index} == {2 if year == 2026 else 1}


def test_rerun_is_a_no_op_and_others_are_refused(tmp_path: Path, micro: str) -> None:
    root = synth(tmp_path / "set", preset=micro, seed=0)
    stamp = (root / "fan" / "attributes_00.csv").stat().st_mtime_ns
    assert synth(root, preset=micro, seed=0) == root
    assert (root / "fan" / "attributes_00.csv").stat().st_mtime_ns == stamp
    with pytest.raises(
        RunError,
        match=r"holds the micro set \(seed 0, DCASE 2024 names, 1 test clips per group\); pass --overwrite",
    ):
        synth(root, preset=micro, seed=1)
    synth(root, preset=micro, seed=1, overwrite=True)
    assert "seed: 1" in (root / "README.txt").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name != "set"]  # no staging folder left behind


def test_more_test_clips_leave_the_training_clips_unchanged(tmp_path: Path, micro: str) -> None:
    base = synth(tmp_path / "a", preset=micro, seed=3)
    more = synth(tmp_path / "b", preset=micro, seed=3, test_per_group=4)
    base_index, more_index = index_dataset(base), index_dataset(more)
    per_group = {}
    for clip in more_index.select(split="test"):
        key = (clip.machine, clip.section, clip.domain, clip.label)
        per_group[key] = per_group.get(key, 0) + 1
    assert set(per_group.values()) == {4}
    train = [c.path.relative_to(base) for c in base_index.select(split="train")]
    assert train == [c.path.relative_to(more) for c in more_index.select(split="train")]
    for rel in train:
        assert (base / rel).read_bytes() == (more / rel).read_bytes()
    assert synth(more, preset=micro, seed=3, test_per_group=4) == more  # same request: a no-op
    with pytest.raises(RunError, match="4 test clips per group"):
        synth(more, preset=micro, seed=3)
    with pytest.raises(ConfigError, match="test_per_group"):
        synth(tmp_path / "c", preset=micro, test_per_group=0)


def test_a_foreign_folder_is_never_deleted(tmp_path: Path, micro: str) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(RunError, match="pass --overwrite"):
        synth(tmp_path / "mine", preset=micro)
    with pytest.raises(RunError, match="not a data set made by sslasd synth .* refusing to delete it"):
        synth(tmp_path / "mine", preset=micro, overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="exists and is not a folder"):
        synth(tmp_path / "file", preset=micro)


def test_an_empty_folder_is_used(tmp_path: Path, micro: str) -> None:
    (tmp_path / "empty").mkdir()
    assert (synth(tmp_path / "empty", preset=micro) / "README.txt").is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"preset": "huge"}, "preset: 'huge'"), ({"year_format": 2019}, "year_format: 2019")],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        synth(tmp_path / "x", **kwargs)


@pytest.mark.parametrize(("year", "channels"), [(2025, 1), (2026, 2)])
def test_supplementary_noise_clips_beside_an_unchanged_set(
    tmp_path: Path, micro: str, year: int, channels: int
) -> None:
    plain = synth(tmp_path / "plain", preset=micro, seed=3, year_format=year)
    root = synth(tmp_path / "supp", preset=micro, seed=3, year_format=year, supplementary=True)
    noise = sorted(p.relative_to(root).as_posix() for p in root.rglob("supplemental/*.wav"))
    folders = ["fan", "gearboxEmu" if year == 2026 else "gearbox"]
    assert noise == [f"{m}/supplemental/noise_{k:04d}.wav" for m in folders for k in range(4)]
    for rel in noise:
        wave, sr = sf.read(root / rel, always_2d=True)
        assert (sr, wave.shape) == (16000, (9600, channels)) and 0.001 < np.std(wave) < 0.5
    assert not np.array_equal(sf.read(root / noise[0])[0], sf.read(root / noise[1])[0])
    # the index leaves them alone; every clip is the one of the set without them
    index, without = index_dataset(root, check_audio=True), index_dataset(plain)
    assert index.skipped == [] and [c.name for c in index] == [c.name for c in without]
    for a, b in zip(index.clips[:3], without.clips[:3]):
        np.testing.assert_array_equal(sf.read(a.path)[0], sf.read(b.path)[0])
    assert "supplementary noise clips per machine: 4" in (root / "README.txt").read_text()
    # a re-run is a no-op; asking for the set without them is another set
    assert synth(root, preset=micro, seed=3, year_format=year, supplementary=True) == root
    with pytest.raises(RunError, match="already holds"):
        synth(root, preset=micro, seed=3, year_format=year)
