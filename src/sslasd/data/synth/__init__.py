"""Synthetic DCASE-format data sets: physically motivated machine sounds, domains, faults."""

from sslasd.data.synth.machines import MACHINES
from sslasd.data.synth.plan import ClipPlan, plan_dataset
from sslasd.data.synth.presets import PRESETS, SynthPreset
from sslasd.data.synth.writer import SAMPLE_RATE, render_clip, write_synth_dataset

__all__ = [
    "MACHINES",
    "PRESETS",
    "SAMPLE_RATE",
    "ClipPlan",
    "SynthPreset",
    "plan_dataset",
    "render_clip",
    "write_synth_dataset",
]
