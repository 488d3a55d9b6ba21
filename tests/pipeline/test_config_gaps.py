"""A run's config.yaml written before a key existed: the gap is named, never silently filled by a
default that may have changed since (``vq.update`` went from ``ema`` to ``kmeans``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from sslasd.errors import RunError
from sslasd.pipeline.config import dump_config, load_config, preset_names, unset_keys
from sslasd.pipeline.fit import fit
from sslasd.pipeline.rundir import RunDir


def test_a_saved_config_sets_every_key() -> None:
    for name in preset_names():
        assert unset_keys(yaml.safe_load(dump_config(load_config(name)))) == [], name


def test_gaps_are_named_by_key_path() -> None:
    tree = yaml.safe_load(dump_config(load_config("tiny")))
    del tree["vq"]["update"], tree["vq"]["restarts"], tree["score"]
    assert sorted(unset_keys(tree)) == ["score", "vq.restarts", "vq.update"]


def _old_run(root: Path) -> RunDir:
    """A run folder as an sslasd before ``vq.update`` existed left it (training not finished)."""
    tree = yaml.safe_load(dump_config(load_config("tiny", ["vq.update=ema", "vq.refresh_every=0"])))
    del tree["vq"]["update"]
    root.mkdir()
    (root / "config.yaml").write_text(yaml.safe_dump(tree, sort_keys=False))
    return RunDir.at(root)


def test_reading_an_old_config_warns_once_naming_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = _old_run(tmp_path / "old")
    with caplog.at_level(logging.WARNING, logger="sslasd"):
        config = run.read_config()
        run.read_config()
    assert config.vq.update == load_config("tiny").vq.update  # today's default, as the warning says
    warnings = [r.getMessage() for r in caplog.records if "vq.update" in r.getMessage()]
    assert len(warnings) == 1 and "older sslasd" in warnings[0]


def test_an_unfinished_old_run_is_not_resumed_with_todays_defaults(
    tmp_path: Path, tiny_dataset: Path
) -> None:
    run = _old_run(tmp_path / "old")
    with pytest.raises(RunError, match=r"config.yaml has no vq.update .*write in the values"):
        fit(tiny_dataset, run.root, progress=False)
    assert sorted(p.name for p in run.root.iterdir()) == ["config.yaml"]  # nothing started
