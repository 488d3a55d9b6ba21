"""Noise-aware training: mix noise-only clips into the training crops at a random signal-to-noise ratio.

DCASE 2025 shipped noise-only clips beside the training clips of each machine (and clean machine
sounds); the top 2025 systems mixed such noise into the normal training clips at 5-20 dB SNR, so
that the model learns that a louder or different background is not an anomaly. :class:`NoiseMixer`
does this on the fly: with probability ``probability`` a training crop gets a random crop of a random
noise clip, scaled to an SNR drawn uniformly from ``snr_db``::

    crop + g * noise,   g = sqrt(P(crop) / (P(noise) * 10 ** (snr / 10)))      (P: mean power)

Every draw comes from the crop's own generator (seeded by seed, epoch and clip), so the mixture is
the same with any number of DataLoader workers. Only training crops are mixed; banks and scoring see
the clips as they are. With every channel kept (``data.channels`` other than ``mean``) a one-channel
noise clip is added to each channel alike (a room noise both microphones hear), a noise clip with
as many channels as the crop channel by channel, and any other channel count is refused.

Where the clips come from (:func:`noise_files`): every audio file under ``data.noise.folder``; but
when the folder is a data root with ``<machine>/supplemental/`` folders (DCASE 2025's supplementary
clips, which ``sslasd synth --supplementary`` also writes), only the files there whose name contains
``noise``, since DCASE 2025 put clean machine clips beside them. ``supplemental`` is the folder name
third-party 2025 loaders read (``dev_data/raw/<machine>/supplemental/``), not checked against the
organisers' own description; neither is the ``noise`` in the file names.

With ``data.noise.as_class`` the clips also join training as classes (:func:`noise_owners`): a clip
belongs to the first folder on its path below ``data.noise.folder`` that is named like a training
machine (``<folder>/fan/...``, ``<root>/fan/supplemental/...``); all other clips share one class.

Example
-------
>>> import tempfile, pathlib, soundfile
>>> from sslasd.data import load_audio
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> soundfile.write(folder / "hum.wav", 0.1 * np.random.default_rng(0).standard_normal(8000), 16000)
>>> mixer = NoiseMixer.from_folder(folder, snr_db=(10.0, 10.0), probability=1.0)
>>> crop = np.ones(4000, dtype=np.float32)
>>> mixed = mixer.mix(crop, 16000, np.random.default_rng(1), load_audio)
>>> round(float(10 * np.log10(np.mean(crop**2) / np.mean((mixed - crop) ** 2))), 6)
10.0
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from sslasd.data.crop import crop_or_pad
from sslasd.errors import ConfigError, DataError

NOISE_SUFFIXES = (".wav", ".flac", ".ogg")
SUPPLEMENTAL_FOLDER = "supplemental"  # <machine>/supplemental/ of DCASE 2025 (name unverified, see above)
Loader = Callable[..., np.ndarray]  # load_audio(path, sample_rate, mono=...) or an AudioCache's load


@dataclass(frozen=True)
class NoiseMixer:
    """Mixes noise-only clips into training crops (see the module docstring).

    Attributes
    ----------
    paths : tuple of Path
        The noise clips.
    snr_db : (float, float)
        Range of the SNR in dB, drawn uniformly.
    probability : float
        Chance that a crop is mixed, in [0, 1].

    Raises
    ------
    ConfigError
        No clips, an SNR range whose low end is above its high end, or a probability outside [0, 1].
    """

    paths: tuple[Path, ...]
    snr_db: tuple[float, float] = (5.0, 20.0)
    probability: float = 0.5

    def __post_init__(self) -> None:
        if not self.paths:
            raise ConfigError("data.noise: no noise clips to mix")
        low, high = self.snr_db
        if low > high or not 0 <= self.probability <= 1:
            raise ConfigError(
                f"data.noise: snr_db {list(self.snr_db)} must be [low, high] with low <= high and "
                f"probability {self.probability!r} in [0, 1]"
            )

    @classmethod
    def from_folder(
        cls, folder: str | os.PathLike, *, snr_db: tuple[float, float] = (5.0, 20.0), probability: float = 0.5
    ) -> NoiseMixer:
        """The mixer of every audio file (``.wav``, ``.flac``, ``.ogg``) under ``folder``, sorted.

        Raises
        ------
        DataError
            ``folder`` is not a folder, holds no noise clip, or is a data root without supplementary
            noise clips (its training and test clips are not noise).
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(f"{folder}: data.noise.folder is not a folder")
        supplemental = _supplemental_folders(folder)  # one walk of the folder, used three times below
        splits = [] if supplemental else _split_folders(folder)
        if splits:
            raise DataError(
                f"{folder}: data.noise.folder is a data set ({splits[0].relative_to(folder)}/) without "
                f"{SUPPLEMENTAL_FOLDER}/ noise clips; its clips are not noise: give a folder of noise clips"
            )
        paths = noise_files(folder, supplemental)
        if not paths:
            where = (
                f"in its {SUPPLEMENTAL_FOLDER}/ folders (files named *noise*)"
                if supplemental
                else "in data.noise.folder"
            )
            raise DataError(f"{folder}: no noise clips ({', '.join(NOISE_SUFFIXES)}) {where}")
        return cls(paths, snr_db=(float(snr_db[0]), float(snr_db[1])), probability=float(probability))

    @cached_property
    def _resolved(self) -> frozenset[Path]:
        return frozenset(Path(p).resolve() for p in self.paths)

    def holds(self, path: str | os.PathLike) -> bool:
        """True when ``path`` is one of the noise clips (with ``data.noise.as_class`` they are also
        training clips, and noise is not mixed into noise)."""
        return Path(path).resolve() in self._resolved

    def mix(self, crop: np.ndarray, sample_rate: int, rng: np.random.Generator, load: Loader) -> np.ndarray:
        """``crop`` (``[N]`` or ``[channels, N]``) with noise added, or unchanged (``1 - probability``).

        ``load(path, sample_rate, mono=...)`` reads a noise clip (``load_audio``, or a cache's ``load``
        so that the clips are decoded once).

        Raises
        ------
        DataError
            A noise clip cannot be read, or has a channel count the crop cannot take.
        """
        if rng.uniform() >= self.probability:
            return crop
        path = self.paths[int(rng.integers(len(self.paths)))]
        snr = rng.uniform(*self.snr_db)
        noise = load(path, sample_rate, mono=crop.ndim == 1)
        if crop.ndim == 2 and noise.shape[0] not in (1, crop.shape[0]):
            raise DataError(
                f"{path}: a noise clip of {noise.shape[0]} channels cannot be mixed into "
                f"{crop.shape[0]}-channel audio (give it 1 or {crop.shape[0]})"
            )
        noise = crop_or_pad(noise, crop.shape[-1], rng)
        power = float(np.mean(np.square(noise)))
        if power == 0.0:
            return crop
        gain = np.sqrt(float(np.mean(np.square(crop))) / (power * 10 ** (snr / 10)))
        return (crop + gain * noise).astype(np.float32)


def noise_files(folder: Path, supplemental: Sequence[Path]) -> tuple[Path, ...]:
    """The noise clips under ``folder``, sorted (the rule is in the module docstring), given its
    ``<machine>/supplemental/`` folders (:func:`_supplemental_folders`).

    A data root holds training and test clips too; its supplementary noise clips are the only ones
    that are noise, so a data root can be given as ``data.noise.folder`` as it is.
    """
    if supplemental:
        found = (p for d in supplemental for p in d.rglob("*") if "noise" in p.name.lower())
    else:
        found = folder.rglob("*")
    return tuple(sorted(p for p in found if p.suffix.lower() in NOISE_SUFFIXES and p.is_file()))


def noise_owners(paths: Sequence[Path], folder: Path, machines: Collection[str]) -> list[str]:
    """The machine each noise clip belongs to, or ``""`` (shared by all).

    A clip belongs to the first folder on its path below ``folder`` that is named like one of
    ``machines``: ``<folder>/fan/hum.wav`` and ``<folder>/fan/supplemental/noise_0000.wav`` are fan's,
    ``<folder>/hum.wav`` and ``<folder>/street/hum.wav`` are shared.

    Example
    -------
    >>> [noise_owners([Path(f"/n/{p}")], Path("/n"), {"fan"})[0] for p in ("fan/a.wav", "b.wav")]
    ['fan', '']
    """
    owners = []
    for path in paths:
        folders = Path(path).relative_to(folder).parts[:-1]
        owners.append(next((f for f in folders if f in machines), ""))
    return owners


def _split_folders(folder: Path) -> list[Path]:
    """``train/`` folders of a data layout at ``folder`` (root, machine or release level)."""
    patterns = ("train", "*/train", "*/*/train", "*/*/*/train")
    return [d for pattern in patterns for d in sorted(folder.glob(pattern)) if d.is_dir()]


def _supplemental_folders(folder: Path) -> list[Path]:
    """``<machine>/supplemental/`` folders below ``folder`` (any depth: ``dev_data/raw/<machine>/``)."""
    return sorted(d for d in folder.rglob(SUPPLEMENTAL_FOLDER) if d.is_dir())
