"""The table of synthetic machine types."""

from __future__ import annotations

from sslasd.data.synth import bearing, fan, gearbox, pump, slider, valve
from sslasd.data.synth.base import MachineSpec

MACHINES: dict[str, MachineSpec] = {
    spec.name: spec for spec in (fan.SPEC, pump.SPEC, gearbox.SPEC, slider.SPEC, valve.SPEC, bearing.SPEC)
}
