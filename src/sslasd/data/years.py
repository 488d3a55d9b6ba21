"""What each DCASE Task 2 edition (2020-2025) looked like: machine types, concealed attributes, clip lengths.

The name grammar (:mod:`sslasd.data.names`) says *how* a file is named; this table says *which*
machines and lengths each edition had, so that a data set's year can be told apart where the names
alone cannot (2022-2025 share one scheme) and so that audio is cut to the right fixed length.

Sources: the organisers' baseline (nttcslab/dcase2023_task2_baseline_ae, ``machine_type_*.yaml``,
``eval_data_list_*.csv``, ``ground_truth_attributes/``) and ASDKit (``parse_sec.py``: the longest clip
of each edition is 11 s in 2020, 10 s in 2021/2022, 18 s in 2023, 12 s in 2024/2025).
"""

from __future__ import annotations

from sslasd.errors import DataError

YEARS: tuple[int, ...] = (2020, 2021, 2022, 2023, 2024, 2025)

DEV_MACHINES: dict[int, frozenset[str]] = {
    2020: frozenset({"fan", "pump", "slider", "valve", "ToyCar", "ToyConveyor"}),
    2021: frozenset({"fan", "gearbox", "pump", "slider", "valve", "ToyCar", "ToyTrain"}),
    2022: frozenset({"bearing", "fan", "gearbox", "slider", "valve", "ToyCar", "ToyTrain"}),
    2023: frozenset({"bearing", "fan", "gearbox", "slider", "valve", "ToyCar", "ToyTrain"}),
    2024: frozenset({"bearing", "fan", "gearbox", "slider", "valve", "ToyCar", "ToyTrain"}),
    2025: frozenset({"bearing", "fan", "gearbox", "slider", "valve", "ToyCar", "ToyTrain"}),
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
}

# Machine types whose names say ``noAttribute`` (the organisers' ground_truth_attributes folders).
NO_ATTRIBUTE_MACHINES: dict[int, frozenset[str]] = {
    2024: frozenset(
        {"gearbox", "slider", "ToyTrain", "AirCompressor", "BrushlessMotor", "HoveringDrone", "ToothBrush"}
    ),
    2025: frozenset({"bearing", "slider", "ToyTrain", "AutoTrash", "Polisher", "ScrewFeeder", "ToyPet"}),
}

DEFAULT_SECONDS = 10.0
LONG_SECONDS = 12.0

# Machine types of 2024/2025 recorded as 12-s clips: the ToyADMOS-style recordings (names with
# ``car_``/``id_``, ``spd_`` and ``mic_``). ASDKit pads every 2024/2025 clip to 12 s; we keep 10 s for
# the others so that a 10-s clip is not wrapped. A wrong entry costs little: crop_or_pad wraps or cuts.
LONG_CLIP_MACHINES: dict[int, frozenset[str]] = {
    2024: frozenset({"ToyCar", "ToyTrain", "ToyCircuit", "HairDryer"}),
    2025: frozenset({"ToyCar", "ToyTrain", "AutoTrash", "HomeCamera", "ToyPet", "ToyRCCar"}),
}


def check_year(year: int, *, what: str = "year") -> int:
    """Return ``year`` if it is a DCASE Task 2 edition sslasd knows, else raise DataError."""
    if year not in YEARS:
        raise DataError(
            f"{what}: {year!r} is not a DCASE Task 2 edition sslasd knows (expected one of {YEARS})"
        )
    return int(year)


def clip_seconds(year: int, machine: str) -> float:
    """The fixed clip length (seconds) that audio of ``machine`` in edition ``year`` is cut or wrapped to.

    10 s everywhere, 12 s for the 2024/2025 machine types recorded as 12-s clips. A machine type that
    DCASE never had (a synthetic or user data set) gets 10 s.

    Example
    -------
    >>> clip_seconds(2024, "ToyCar"), clip_seconds(2024, "fan"), clip_seconds(2020, "ToyCar")
    (12.0, 10.0, 10.0)
    """
    check_year(year)
    return LONG_SECONDS if machine in LONG_CLIP_MACHINES.get(year, frozenset()) else DEFAULT_SECONDS
