"""The clip record: one audio file of a DCASE-layout data set and what its name says about it.

A :class:`Clip` holds metadata only; reading audio is :func:`sslasd.data.audio.load_audio`'s job
(records apart from I/O, as lhotse keeps ``Recording`` apart from ``load_audio``). Changes make new
records with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

Domain = Literal["source", "target", "none", "unknown"]
Split = Literal["train", "test"]
Label = Literal["normal", "anomaly", "unknown"]

NO_ATTRIBUTE = "noAttribute"


@dataclass(frozen=True)
class Clip:
    """One clip of a machine, with the metadata its file name (and attribute CSV) carries.

    Attributes
    ----------
    path : Path
        The audio file.
    year : int
        DCASE edition whose naming scheme the name follows (2020-2026).
    machine : str
        Machine type, the folder name (``fan``, ``ToyCar``...).
    section : str
        Two-digit section; for 2020 the machine ID (``id_02`` -> ``"02"``).
    domain : {"source", "target", "none", "unknown"}
        ``none`` for 2020 (one domain); ``unknown`` for evaluation test clips before ground truth.
    split : {"train", "test"}
    label : {"normal", "anomaly", "unknown"}
        ``unknown`` for evaluation test clips before ground truth.
    attributes : Mapping[str, str]
        Operating attributes (``{"vel": "8", "acc": "3"}``); empty for ``noAttribute`` and for
        years whose names carry none.
    no_attribute : bool
        True when the name says ``noAttribute`` (attributes concealed or absent).
    dataset : {"dev", "eval"}
        Which DCASE release the clip comes from (``dev`` for user data).
    """

    path: Path
    year: int
    machine: str
    section: str
    domain: Domain
    split: Split
    label: Label
    attributes: Mapping[str, str] = field(default_factory=dict)
    no_attribute: bool = False
    dataset: Literal["dev", "eval"] = "dev"

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    def __hash__(self) -> int:
        return hash((self.path, self.machine, self.section, self.split))

    @property
    def name(self) -> str:
        """The file name, the key that joins scores to ground truth."""
        return self.path.name

    @property
    def attribute_string(self) -> str:
        """Attributes as in DCASE names (``vel_8_acc_3``), ``noAttribute``, or ``""`` when none."""
        if self.no_attribute:
            return NO_ATTRIBUTE
        return "_".join(f"{k}_{v}" for k, v in self.attributes.items())
