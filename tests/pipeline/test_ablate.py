"""The ablation protocol: resumes after a stop, refuses another request, writes its table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sslasd.cli.main import main
from sslasd.errors import ConfigError, RunError
from sslasd.pipeline import ablate as ablate_module
from sslasd.pipeline.ablate import _table_name, ablate, variant_overrides
from sslasd.pipeline.config import load_config

pytestmark = pytest.mark.slow

FAST = ["train.steps=12", "train.warmup_steps=2", "mga.mode=none", "train.checkpoint_every=6"]


def test_equal_rank_variant_matches_the_fc_lora_capacity() -> None:
    variants = variant_overrides(load_config("cpu"))  # FC-LoRA K=2 branches of rank 4, alpha 8
    cfg = load_config("cpu", variants["lora_equal_rank"])
    assert (cfg.lora.mode, cfg.lora.rank, cfg.lora.alpha) == ("lora", 8, 16.0)  # same alpha / r
    assert load_config("cpu", variants["lora_rank_r"]).lora.rank == 4


def test_vq_variants_follow_the_run_length() -> None:
    """The presets re-cluster six times per run whatever its length; vq_ema is the paper's per-epoch
    EMA codebook; vq_kmeans_once clusters only before the run."""
    for preset, every in (("cpu", 20), ("cpu-transformer", 10)):
        base = load_config(preset)
        assert (base.vq.update, base.vq.refresh_every, base.vq.restarts) == ("kmeans", every, 4)
        variants = variant_overrides(base)
        ema = load_config(preset, variants["vq_ema"]).vq
        assert (ema.update, ema.refresh_every, ema.restarts) == ("ema", 0, 1)
        once = load_config(preset, variants["vq_kmeans_once"])
        assert once.vq.update == "kmeans" and once.vq.refresh_every == once.train.steps


def test_scoring_variants_turn_off_only_what_they_name() -> None:
    base = load_config("cpu")
    variants = variant_overrides(base)
    alone = load_config("cpu", variants["no_ensemble"])
    raw = load_config("cpu", variants["no_norm"])
    assert base.ensemble.members == ["run", "logmel"] and alone.ensemble.members == ["run"]
    assert base.backend.params == {"n_neighbors": 1, "standardize": True}
    assert raw.backend.params == {"n_neighbors": 1, "standardize": False}
    assert raw.ensemble == base.ensemble and alone.backend == base.backend


def test_views_variant_brings_the_grouped_sampler_its_class_level_needs() -> None:
    views = load_config("cpu", variant_overrides(load_config("cpu"))["contrastive_views"])
    assert (views.contrastive.form, views.train.sampler) == ("views", "grouped")
    grouped = ["train.sampler=grouped", "train.clips_per_group=8"]  # a base already grouped keeps its size
    variant = variant_overrides(load_config("cpu", grouped))["contrastive_views"]
    assert load_config("cpu", [*grouped, *variant]).train.clips_per_group == 8


def test_protocol_resumes_after_a_stop_and_writes_its_table(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    out = tmp_path / "protocol"
    real = ablate_module._run_one
    calls: list[str] = []

    def stop_at_second(task, threads):
        calls.append(task[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the protocol were killed during its second run
        return real(task, threads)

    monkeypatch.setattr(ablate_module, "_run_one", stop_at_second)
    with pytest.raises(KeyboardInterrupt):
        ablate(out, [tiny_dataset], config="tiny", set=FAST, variants=["no_vq"], seeds=[0], n_boot=20)
    first = Path(calls[0])
    assert first.name == "paper-seed0" and (first / "scores" / tiny_dataset.name / "DONE").is_file()
    stamp = (first / "fit" / "model.safetensors").stat().st_mtime_ns

    monkeypatch.setattr(ablate_module, "_run_one", real)
    code = main(
        ["ablate", "--out", str(out), "--data", str(tiny_dataset), "--config", "tiny",
         *[a for s in FAST for a in ("--set", s)], "--variants", "no_vq", "--seeds", "0", "--n-boot", "20"]
    )  # fmt: skip
    assert code == 0
    assert (first / "fit" / "model.safetensors").stat().st_mtime_ns == stamp  # not trained again
    # the runs share one decoded-audio cache instead of keeping a copy each
    assert any((out / "cache").rglob("*.npy"))
    assert not [p for p in (out / "runs").rglob("cache") if p.is_dir()]
    table = json.loads((out / "table.json").read_text())
    assert [r["name"] for r in table["variants"]] == ["paper", "no_vq"]
    assert [r["name"] for r in table["floors"]] == ["frozen", "logmel"]
    no_vq = table["variants"][1]
    expected = no_vq["official_scores"][tiny_dataset.name][0] - table["variants"][0]["mean"]
    assert no_vq["difference"]["estimate"] == pytest.approx(expected)
    assert no_vq["difference"]["low"] <= no_vq["difference"]["estimate"] <= no_vq["difference"]["high"]
    # the synthetic set knows its hidden modes: the table reports the pseudo-labels' NMI with them,
    # and k-means once on the frozen floor's embeddings as the reference
    assert 0.0 <= table["variants"][0]["mean_nmi"] <= 1.0 and no_vq["mean_nmi"] is None
    frozen_floor = next(r for r in table["floors"] if r["name"] == "frozen")
    assert 0.0 <= frozen_floor["mean_nmi"] <= 1.0
    # with a paired interval over sections, like the score's; no_vq has no labels, so none
    gap = frozen_floor["nmi_difference"]
    assert gap["estimate"] == pytest.approx(frozen_floor["mean_nmi"] - table["variants"][0]["mean_nmi"])
    assert gap["low"] <= gap["estimate"] <= gap["high"] and no_vq["nmi_difference"] is None
    printed = capsys.readouterr().out
    assert "pseudo-label NMI | NMI vs the full system [95 % CI] |" in printed
    assert "| no_vq |" in printed and "floor: log-mel statistics" in printed
    assert (out / "table.md").read_text() in printed
    # another request on the same folder (no new runs) keeps the first request's table
    kept = out / "tables" / f"paper+no_vq_seed0_{tiny_dataset.name}.md"
    first_table = kept.read_text()
    ablate(out, [tiny_dataset], config="tiny", set=FAST, variants=["paper"], seeds=[0], n_boot=20)
    assert kept.read_text() == first_table and "| no_vq |" not in (out / "table.md").read_text()
    latest = (out / "table.md").read_text()
    assert (out / "tables" / f"paper_seed0_{tiny_dataset.name}.md").read_text() == latest

    with pytest.raises(RunError, match="another request"):
        ablate(out, [tiny_dataset], config="tiny", set=["train.steps=13"], seeds=[0])
    with pytest.raises(ConfigError, match="unknown"):
        ablate(tmp_path / "other", [tiny_dataset], config="tiny", variants=["no_such_thing"])
    assert not (tmp_path / "other").exists()  # validated before anything was made


def test_a_config_variant_compares_another_preset_on_the_same_clips(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    other = tmp_path / "frozen.yaml"
    other.write_text("base: tiny\nlora:\n  mode: frozen\n")
    variant = f"config:{other}"
    with pytest.raises(ConfigError, match="unknown"):
        ablate(tmp_path / "bad", [tiny_dataset], config="tiny", variants=["configs:tiny"])
    with pytest.raises(ConfigError, match="lora.rnk"):  # its config is validated before any run
        ablate(tmp_path / "bad", [tiny_dataset], config="tiny", set=["lora.rnk=2"], variants=[variant])
    table = ablate(
        tmp_path / "p", [tiny_dataset], config="tiny", set=FAST, variants=[variant], seeds=[0], n_boot=20
    )
    row = table.variants[1]
    assert row.name == variant and row.overrides == [f"--config {other}"] and row.difference is not None
    run = tmp_path / "p" / "runs" / tiny_dataset.name / f"{variant.replace(':', '-').replace('/', '-')}-seed0"
    saved = (run / "config.yaml").read_text()
    assert "mode: frozen" in saved and "steps: 12" in saved  # the other preset, with the same --set
    stamp = (run / "fit" / "model.safetensors").stat().st_mtime_ns
    # the same runs against the other variant: a table pass only, every difference taken against it
    with pytest.raises(ConfigError, match="reference: unknown"):
        ablate(tmp_path / "p", [tiny_dataset], config="tiny", set=FAST, reference="no_such", seeds=[0])
    against = ablate(
        tmp_path / "p", [tiny_dataset], config="tiny", set=FAST, variants=[variant], seeds=[0], n_boot=20,
        reference=variant,
    )  # fmt: skip
    assert (run / "fit" / "model.safetensors").stat().st_mtime_ns == stamp  # not trained again
    paper, other = against.variants
    assert other.difference is None and paper.difference is not None
    assert paper.difference.estimate == pytest.approx(-row.difference.estimate)
    assert (paper.difference.low, paper.difference.high) == pytest.approx(
        (-row.difference.high, -row.difference.low)
    )  # the same paired replicates, seen from the other side
    for before, after in zip(table.floors, against.floors):  # floors: the reference minus the floor
        assert after.difference.estimate == pytest.approx(
            before.difference.estimate + row.difference.estimate
        )
    text = against.to_markdown()
    assert f"vs `{variant}`, points" in text and f"floor minus `{variant}`" in text
    kept = (
        tmp_path / "p" / "tables" / f"{_table_name(['paper', variant], [0], [tiny_dataset.name], variant)}.md"
    )
    assert kept.read_text() == text and _table_name(["paper", variant], [0], [tiny_dataset.name]) != kept.stem
