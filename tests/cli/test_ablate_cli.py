"""``sslasd ablate --list`` shows what each variant changes; without --out and --data it is a usage error."""

from __future__ import annotations

import pytest

from sslasd.cli.main import main


def test_list_shows_every_variant_with_its_overrides_of_the_base(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ablate", "--list", "--config", "cpu", "--set", "train.steps=40"]) == 0
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert lines["paper"].startswith("(the base config")
    assert lines["lora_equal_rank"] == "lora.mode=lora lora.rank=8 lora.alpha=16"
    assert lines["vq_kmeans_once"] == "vq.update=kmeans vq.refresh_every=40"  # follows the base's --set
    assert {"frozen", "no_vq", "contrastive_views", "channels_stack"} <= set(lines)


def test_a_protocol_needs_its_folder_and_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ablate", "--data", "somewhere"]) == 2
    assert "give --out and --data (or --list)" in capsys.readouterr().err
    assert main(["ablate", "--list", "--set", "lora.rnk=3"]) == 1  # the base is validated first
    assert "lora.rnk" in capsys.readouterr().err
