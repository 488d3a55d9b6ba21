"""bench/independent_synth.py writes a DCASE 2024-layout set that sslasd reads, with its truth file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from sslasd.data.index import index_dataset
from sslasd.evaluation.pseudo_labels import read_mode_truth

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "independent_synth.py"


def _module():
    spec = importlib.util.spec_from_file_location("independent_synth", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_independent_set_is_a_dcase_2024_set_with_concealed_modes(tmp_path: Path) -> None:
    synth = _module()
    out = tmp_path / "indep"
    count = synth.write(out, seed=3, test_per_group=1, seconds=0.25)
    clips = list(index_dataset(out))
    assert len(clips) == count and not (tmp_path / "indep.partial").exists()
    concealed = {(m, f"{s:02d}") for m, spec in synth.MACHINES.items() for s in spec[1]}
    assert {(c.machine, c.section) for c in clips if not c.attributes} == concealed
    truth = read_mode_truth(out)
    hidden = {truth[(c.machine, Path(c.path).name)] for c in clips if (c.machine, c.section) == ("fan", "00")}
    assert len(hidden) > 1  # the concealed section still has modes, written in the truth file
    labels = {(c.split, c.label) for c in clips}
    assert labels == {("train", "normal"), ("test", "normal"), ("test", "anomaly")}
    with pytest.raises(FileExistsError):
        synth.write(out, seed=3, test_per_group=1, seconds=0.25)
