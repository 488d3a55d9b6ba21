"""What each DCASE Task 2 edition (2020-2026) looked like: machine types, concealed attributes, clip
lengths, microphone channels.

The name grammar (:mod:`sslasd.data.names`) says *how* a file is named; this table says *which*
machines and lengths each edition had, so that a data set's year can be told apart where the names
alone cannot (2022-2025 share one scheme) and so that audio is cut to the right fixed length.

Sources: the organisers' baseline (nttcslab/dcase2023_task2_baseline_ae, ``machine_type_*.yaml``,
``eval_data_list_*.csv``, ``ground_truth_attributes/``) and ASDKit (``parse_sec.py``: the longest clip
of each edition is 11 s in 2020, 10 s in 2021/2022, 18 s in 2023, 12 s in 2024/2025). 2026: the task
description (arXiv 2606.01578), the evaluation set's Zenodo record (20437238: two-channel clips of 6,
10 or 16 s) and the dev file lists participants published (names unchanged from 2022-2025; ToyCar,
bearingEmu, sliderEmu and valveEmu say ``noAttribute``).
"""

from __future__ import annotations

from sslasd.errors import DataError

YEARS: tuple[int, ...] = (2020, 2021, 2022, 2023, 2024, 2025, 2026)

DEV_MACHINES: dict[int, frozenset[str]] = {
    2020: frozenset({"fan", "pump", "slider", "valve", "ToyCar", "ToyConveyor"}),
    2021: frozenset({"fan", "gearbox", "pump", "slider", "valve", "ToyCar", "ToyTrain"}),
    2022: frozenset({"bearing", "fan", "gearbox", "slider", "valve", "ToyCar", "ToyTrain"}),
    2023: frozenset({"bearing", "fan", "gearbox", "slider", "valve", "ToyCar", "ToyTrain"}),
    2024: frozenset({"bearing", "fan", "gearbox", "slider", "valve", "ToyCar", "ToyTrain"}),
    2025: frozenset({"bearing", "fan", "gearbox", "slider", "valve", "ToyCar", "ToyTrain"}),
    # "Emu": two-channel recordings emulated from single-microphone ones
    2026: frozenset({"ToyCar", "ToyCarEmu", "bearingEmu", "fan", "gearboxEmu", "sliderEmu", "valveEmu"}),
}

# From 2023 on the evaluation set has machine types of its own, which identifies the edition.
EVAL_MACHINES: dict[int, frozenset[str]] = {
    2023: frozenset({"bandsaw", "grinder", "shaker", "ToyDrone", "ToyNscale", "ToyTank", "Vacuum"}),
    2024: frozenset(
        {
            "3DPrinter",
            "AirCompressor",
            "BrushlessMotor",
            "HairDryer",
            "HoveringDrone",
            "RoboticArm",
            "Scanner",
            "ToothBrush",
            "ToyCircuit",
        }
    ),
    2025: frozenset(
        {
            "AutoTrash",
            "BandSealer",
            "CoffeeGrinder",
            "HomeCamera",
            "Polisher",
            "ScrewFeeder",
            "ToyPet",
            "ToyRCCar",
        }
    ),
    # ToyDrone (2023) and ToothBrush (2024) come back: alone they do not identify 2026
    2026: frozenset({"BlowerDustCollector", "Sander", "SewingMachine", "ToothBrush", "ToyDrone"}),
}

# Machine types whose names say ``noAttribute`` (the organisers' ground_truth_attributes folders).
NO_ATTRIBUTE_MACHINES: dict[int, frozenset[str]] = {
    2024: frozenset(
        {"gearbox", "slider", "ToyTrain", "AirCompressor", "BrushlessMotor", "HoveringDrone", "ToothBrush"}
    ),
    2025: frozenset({"bearing", "slider", "ToyTrain", "AutoTrash", "Polisher", "ScrewFeeder", "ToyPet"}),
    2026: frozenset({"ToyCar", "bearingEmu", "sliderEmu", "valveEmu", "SewingMachine", "ToothBrush"}),
}

DEFAULT_SECONDS = 10.0

# Machine types whose clips are not 10 s long, and the length they are cut or wrapped to. 2024/2025:
# the ToyADMOS-style recordings (names with ``car_``/``id_``, ``spd_`` and ``mic_``) are 12-s clips;
# ASDKit pads every 2024/2025 clip to 12 s, we keep 10 s for the others so that a 10-s clip is not
# wrapped. 2026: ToyCar 11 s and ToyCarEmu 12 s (the rest of the dev set 10 s); the evaluation set
# has clips of 6, 10 or 16 s but the length of each machine type is not published, so its types get
# 16 s, which ``sslasd fit`` caps at the longest training clip. A wrong entry costs little:
# crop_or_pad wraps or cuts.
CLIP_SECONDS: dict[int, dict[str, float]] = {
    2024: dict.fromkeys(("ToyCar", "ToyTrain", "ToyCircuit", "HairDryer"), 12.0),
    2025: dict.fromkeys(("ToyCar", "ToyTrain", "AutoTrash", "HomeCamera", "ToyPet", "ToyRCCar"), 12.0),
    2026: {"ToyCar": 11.0, "ToyCarEmu": 12.0, **dict.fromkeys(EVAL_MACHINES[2026], 16.0)},
}

# Microphone channels of each edition's clips (1 unless listed). 2026 clips hold the near microphone
# in the first channel and the far one in the second (the order participants' code reads them in).
CHANNELS: dict[int, int] = {2026: 2}


def check_year(year: int, *, what: str = "year") -> int:
    """Return ``year`` if it is a DCASE Task 2 edition sslasd knows, else raise DataError."""
    if year not in YEARS:
        raise DataError(
            f"{what}: {year!r} is not a DCASE Task 2 edition sslasd knows (expected one of {YEARS})"
        )
    return int(year)


def clip_seconds(year: int, machine: str) -> float:
    """The fixed clip length (seconds) that audio of ``machine`` in edition ``year`` is cut or wrapped to.

    10 s unless :data:`CLIP_SECONDS` says otherwise. A machine type that DCASE never had (a
    synthetic or user data set) gets 10 s.

    Example
    -------
    >>> clip_seconds(2024, "ToyCar"), clip_seconds(2024, "fan"), clip_seconds(2020, "ToyCar")
    (12.0, 10.0, 10.0)
    >>> clip_seconds(2026, "ToyCar"), clip_seconds(2026, "ToyCarEmu"), clip_seconds(2026, "fan")
    (11.0, 12.0, 10.0)
    """
    check_year(year)
    return CLIP_SECONDS.get(year, {}).get(machine, DEFAULT_SECONDS)


def year_channels(year: int) -> int:
    """Microphone channels of edition ``year``'s clips: 2 in 2026 (near, far), else 1.

    Example
    -------
    >>> year_channels(2025), year_channels(2026)
    (1, 2)
    """
    return CHANNELS.get(check_year(year), 1)
