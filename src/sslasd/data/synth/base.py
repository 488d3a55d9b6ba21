"""What a synthetic machine type is: its operating conditions, faults, section units and renderer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Take:
    """One recording to synthesise.

    Attributes
    ----------
    attributes : Mapping[str, str]
        The operating condition, as DCASE names would write it (``{"spd": "2", "mic": "A"}``).
    unit : Mapping[str, float]
        Physical constants of the machine of this section (blade count, resonance...).
    fault : str or None
        The anomaly, one of the machine's ``faults``; None for a normal clip.
    severity : float
        How strong the fault is, in (0, 1].
    n : int
        Number of samples.
    sr : int
        Sample rate in Hz.
    """

    attributes: Mapping[str, str]
    unit: Mapping[str, float]
    fault: str | None
    severity: float
    n: int
    sr: int


Renderer = Callable[[Take, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class MachineSpec:
    """A synthetic machine type.

    Attributes
    ----------
    name : str
        Folder name.
    source, target : tuple of dict
        Operating conditions of the source domain and the (unseen) ones of the target domain.
    faults : tuple of str
        Anomalies the renderer knows.
    units : tuple of dict
        Physical constants per section (section ``"00"`` is ``units[0]``): each section is a
        different machine of the type.
    render : callable
        ``render(take, rng) -> float64 [n]``, the machine's sound at roughly unit RMS.
    concealed : bool
        Attributes concealed (``noAttribute``) in the 2024/2025 name formats.
    """

    name: str
    source: tuple[dict[str, str], ...]
    target: tuple[dict[str, str], ...]
    faults: tuple[str, ...]
    units: tuple[dict[str, float], ...]
    render: Renderer
    concealed: bool = False
