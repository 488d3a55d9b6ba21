"""``sslasd.synth``: write a synthetic data set in the exact DCASE layout (names, attribute CSVs).

The set is written into a temporary sibling folder and renamed into place when complete, so ``out``
never holds half a data set. Re-running with the same preset, seed and name format finds the set
there and does nothing; anything else already in ``out`` is refused unless ``overwrite=True``, and even
then only a folder that ``synth`` made is deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from sslasd._common import get_logger
from sslasd.data.synth import PRESETS, write_synth_dataset
from sslasd.data.years import YEARS
from sslasd.errors import ConfigError, RunError

_log = get_logger(__name__)
_MARKER = "README.txt"
_SIGNATURE = re.compile(r"preset: (\S+)\s+seed: (-?\d+)\s+name format: DCASE (\d{4})")
_TEST_PER_GROUP = re.compile(r"test clips per section, domain and label: (\d+)")
_SUPPLEMENTARY = "supplementary noise clips per machine:"


def synth(
    out: str | os.PathLike,
    *,
    preset: str = "tiny",
    seed: int = 0,
    year_format: int = 2024,
    test_per_group: int | None = None,
    supplementary: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write a synthetic DCASE-format data set to ``out`` and return its root.

    Parameters
    ----------
    out : path-like
        The data set's root (created; must not exist, be empty, or hold this very set).
    preset : {"tiny", "small"}
        ``tiny``: 6 machine types, 1 section, 2-s clips, 16 source + 4 target training clips and 12
        test clips per machine (seconds to build). ``small``: 6 types, 9 sections, 5-s clips, 100 + 10
        training and 60 test clips per section (about a minute on 2 cores).
    seed : int
        Every clip's sound is a function of the seed and the clip's place in the set.
    year_format : int
        DCASE edition whose names are written: 2020 (machine IDs, one domain), 2021 (sections and
        domains, ``source_test``/``target_test`` folders), 2022-2025 (attributes in names and in
        ``attributes_XX.csv``; from 2024 ``gearbox`` and ``slider`` say ``noAttribute``), 2026
        (two-channel clips, near and far microphone; DCASE 2026's folder names ``bearingEmu``,
        ``gearboxEmu``, ``sliderEmu``, ``valveEmu``, of which all but ``gearboxEmu`` say
        ``noAttribute``).
    test_per_group : int, optional
        Test clips per section for each (domain, label) pair (2020 names: per label, doubled), instead
        of the preset's (``tiny`` 5, ``small`` 15). Training clips do not change with it, so sets
        that differ only here share their training data. Ablations need more than 15: one small
        set's official score has a bootstrap standard error of about 2 points at 15.
    supplementary : bool
        Also write noise-only clips per machine type (``tiny`` 4, ``small`` 10) to
        ``<machine>/supplemental/noise_NNNN.wav``, as DCASE 2025 shipped supplementary clips (the
        folder name as third-party 2025 loaders read it; unverified against the organisers' text).
        Training and test clips are the same with or without them. ``--supplementary``; for
        ``data.noise.folder`` (the data root itself will do) and ``data.noise.as_class``.
    overwrite : bool
        Replace an earlier synthetic set in ``out`` (``--overwrite``).

    Raises
    ------
    ConfigError
        Unknown preset or year format.
    RunError
        ``out`` is a file, or a non-empty folder that is not this set (without ``overwrite``), or not a
        synthetic set at all (never deleted).

    Example
    -------
    >>> import tempfile, pathlib
    >>> root = synth(pathlib.Path(tempfile.mkdtemp()) / "tiny", preset="tiny", seed=0)  # doctest: +SKIP
    >>> sorted(p.name for p in root.iterdir())[:3]  # doctest: +SKIP
    ['README.txt', 'bearing', 'fan']
    """
    if preset not in PRESETS:
        raise ConfigError(f"preset: {preset!r} is not one of {sorted(PRESETS)}")
    if year_format not in YEARS:
        raise ConfigError(f"year_format: {year_format!r} is not one of {list(YEARS)}")
    if test_per_group is not None and (isinstance(test_per_group, bool) or int(test_per_group) < 1):
        raise ConfigError(f"test_per_group: {test_per_group!r} must be a whole number >= 1")
    chosen = PRESETS[preset]
    if test_per_group is not None:
        chosen = replace(chosen, test_per_group=int(test_per_group))
    wanted = (preset, seed, year_format, chosen.test_per_group, bool(supplementary))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if _signature(out) == wanted and not overwrite:
            _log.info(
                "%s already holds the %s synthetic set (seed %d, DCASE %d names)",
                out,
                preset,
                seed,
                year_format,
            )
            return out
        _check_replaceable(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".synth", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would otherwise stick to the data set
    try:
        write_synth_dataset(staging, chosen, seed, year_format, supplementary=bool(supplementary))
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _signature(folder: Path) -> tuple[str, int, int, int, bool] | None:
    """(preset, seed, year format, test clips per group, supplementary clips) of a synthetic set in
    ``folder``, or None."""
    try:
        text = (folder / _MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = _SIGNATURE.search(text) if text.startswith("sslasd synthetic") else None
    if not match or match[1] not in PRESETS:
        return None
    per_group = _TEST_PER_GROUP.search(text)
    tests = int(per_group[1]) if per_group else PRESETS[match[1]].test_per_group
    return (match[1], int(match[2]), int(match[3]), tests, _SUPPLEMENTARY in text)


def _check_replaceable(out: Path, overwrite: bool) -> None:
    found = _signature(out)
    if not overwrite:
        what = (
            f"the {found[0]} set (seed {found[1]}, DCASE {found[2]} names, {found[3]} test clips per group)"
            if found
            else "files"
        )
        raise RunError(f"{out}: folder already holds {what}; pass --overwrite to replace it")
    if found is None:
        raise RunError(
            f"{out}: folder is not empty and is not a data set made by sslasd synth (no {_MARKER} of one); "
            "refusing to delete it, even with --overwrite"
        )
