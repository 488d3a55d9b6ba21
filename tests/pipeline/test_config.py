"""Run config: presets resolve, overrides apply with YAML typing, bad keys/values name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslasd.errors import ConfigError
from sslasd.pipeline.config import RunConfig, config_diff, dump_config, load_config, preset_names


def test_every_preset_validates() -> None:
    names = preset_names()
    assert {"tiny", "cpu", "paper/dcase2020", "paper/dcase2024", "eat", "wav2vec2", "wavlm"} <= set(names)
    for name in names:
        load_config(name)


def test_paper_presets_set_their_year() -> None:
    for year in range(2020, 2027):
        assert load_config(f"paper/dcase{year}").data.year == year
    assert load_config("paper/dcase2026").data.channels == "subtract"  # two microphones from 2026 on
    assert {load_config(f"paper/dcase{year}").data.channels for year in range(2020, 2026)} == {"mean"}


@pytest.mark.parametrize(
    ("assignment", "path", "expected"),
    [
        ("lora.rank=4", ("lora", "rank"), 4),
        ("mga.mode=none", ("mga", "mode"), "none"),
        ("vq.enabled=false", ("vq", "enabled"), False),
        ("train.lr=3e-4", ("train", "lr"), 3e-4),
        ("data.seconds=2.5", ("data", "seconds"), 2.5),
        ("backend.params={n_neighbors: 3}", ("backend", "params"), {"n_neighbors": 3}),
    ],
)
def test_overrides(assignment: str, path: tuple[str, str], expected: object) -> None:
    cfg = load_config("tiny", [assignment])
    assert getattr(getattr(cfg, path[0]), path[1]) == expected


@pytest.mark.parametrize(
    ("assignment", "needle"),
    [
        ("lora.rnk=3", "lora.rnk"),
        ("lora.mode=half", "lora.mode"),
        ("train.steps=-1", "train.steps"),
        ("nosuchsection.x=1", "nosuchsection"),
        ("lora.rank", "key=value"),
        ("backbone.name=beatz", "backbone.name"),  # before any checkpoint is read
    ],
)
def test_bad_overrides_name_the_key(assignment: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_config("tiny", [assignment])


def test_unknown_preset_lists_presets() -> None:
    with pytest.raises(ConfigError, match="presets: .*tiny"):
        load_config("no-such-preset")


def test_yaml_file_with_base_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("base: tiny\nlora:\n  rank: 2\n")
    cfg = load_config(path)
    assert cfg.lora.rank == 2 and cfg.backbone.tiny
    again = tmp_path / "resolved.yaml"
    again.write_text(dump_config(cfg))
    assert config_diff(load_config(again), cfg) == []
    assert config_diff(cfg, load_config("tiny")) == [f"lora.rank: 2 -> {load_config('tiny').lora.rank!r}"]


def test_config_diff_lists_paths() -> None:
    a, b = load_config("tiny"), load_config("tiny", ["lora.rank=2", "vq.n_codes=5"])
    assert config_diff(a, b) == [f"lora.rank: {a.lora.rank!r} -> 2", f"vq.n_codes: {a.vq.n_codes!r} -> 5"]


def test_bad_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("lora: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('lora.rank=!!python/object/apply:os.system ["echo owned"]', "could not determine a constructor"),
        ("lora.rank=[1, 2", "not valid YAML"),
    ],
)
def test_a_bad_yaml_value_in_set_is_one_config_error(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config("tiny", [override])
    assert "\n" not in str(info.value) and str(info.value).startswith("--set ")


def test_alias_bombs_are_refused_and_echoed_values_are_cut(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefg", "bcdefgh"):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join([*lines, "lora: {rank: *h}"]) + "\n")  # 9**8 strings if expanded
    with pytest.raises(ConfigError, match="aliases") as info:
        load_config(bomb)
    assert len(str(info.value)) < 300
    nested = tmp_path / "nested.yaml"
    nested.write_text('a: &a ["x", "x"]\nlora: {rank: [*a, *a, [*a, [*a, *a, [*a]]]]}\n')
    with pytest.raises(ConfigError, match="lora.rank") as info:
        load_config(nested)
    assert len(str(info.value)) < 400 and "..." in str(info.value)


# where each section of the run config is typed: beside the component that uses it
SECTION_HOMES = {
    "data": "sslasd.data.config",
    "backbone": "sslasd.models.backbones.config",
    "lora": "sslasd.models.adapters.config",
    "mga": "sslasd.models.adapters.config",
    "head": "sslasd.models.heads.config",
    "vq": "sslasd.models.heads.config",
    "contrastive": "sslasd.models.heads.config",
    "augment": "sslasd.features.specaugment",
    "train": "sslasd.training.config",
    "backend": "sslasd.backends.config",
    "threshold": "sslasd.backends.config",
    "ensemble": "sslasd.backends.config",
    "score": "sslasd.pipeline.config",  # the pipeline's own rule: how a recording is windowed
}


def test_every_section_is_typed_beside_its_component() -> None:
    homes = {name: field.annotation.__module__ for name, field in RunConfig.model_fields.items()}
    assert homes == SECTION_HOMES


def test_components_are_built_from_their_sections() -> None:
    cfg = load_config("tiny", ["augment.freq_width=5", "augment.time_masks=3", "lora.mode=lora"])
    spec = cfg.augment.build()
    expected = (cfg.augment.freq_masks, 5, 3, cfg.augment.time_width)
    assert (spec.freq_masks, spec.freq_width, spec.time_masks, spec.time_width) == expected
    assert load_config("tiny", ["augment.specaugment=false"]).augment.build() is None
    backbone = cfg.backbone.build()
    cfg.lora.apply(backbone, backbone.linear_names())
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable and all("lora" in n for n in trainable)  # plain LoRA: only its factors train
    backend = cfg.backend.build(cfg.threshold)
    assert type(backend).__name__.lower().startswith(cfg.backend.name)


@pytest.mark.parametrize(
    ("assignments", "needle"),
    [
        (["vq.update=kmeans", "vq.refresh=false"], "update=kmeans needs refresh=true"),
        (["vq.refresh_every=10", "vq.refresh=false", "vq.update=ema"], "refresh_every=10 needs refresh=true"),
    ],
)
def test_vq_keys_that_contradict_each_other_are_refused(assignments: list[str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        load_config("tiny", assignments)
    assert "vq" in str(info.value) and "\n" not in str(info.value)
