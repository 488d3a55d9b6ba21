"""The run configuration: one typed, validated tree composed of every component's settings.

Each section is typed once, beside the component that uses it (``data/config.py``,
``features/specaugment.py``, ``models/backbones/config.py``, ``models/adapters/config.py``,
``models/heads/config.py``, ``training/config.py``, ``backends/config.py``); this module composes
them (plus the pipeline's own ``score`` section), reads YAML presets and ``--set`` overrides, and
validates the whole tree before any work starts. Every paper component is a key with an off
switch, so that each can be ablated from YAML or from ``--set key=value`` on the command line.
Unknown keys and bad values raise :class:`ConfigError` naming the key path.

Example
-------
>>> cfg = load_config("tiny", overrides=["lora.rank=4", "mga.mode=none"])
>>> cfg.lora.rank, cfg.mga.mode
(4, 'none')
"""

from __future__ import annotations

import os
import reprlib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from sslasd._common.config_section import ConfigSection
from sslasd.backends.config import BackendConfig, EnsembleConfig, ThresholdConfig
from sslasd.data.config import DataConfig
from sslasd.errors import ConfigError
from sslasd.features.specaugment import AugmentConfig
from sslasd.models.adapters.config import LoraConfig, MgaConfig
from sslasd.models.backbones.config import BackboneConfig
from sslasd.models.backbones.registry import checkpoint_cache
from sslasd.models.heads.config import ContrastiveConfig, HeadConfig, VqConfig
from sslasd.training.config import TrainConfig


class ScoreConfig(ConfigSection):
    """How a recording is cut into scoring windows and scored; the same rule in every scoring path
    (``sslasd score``, ``detect``, ``load().score``, a bundle)."""

    aggregate: Literal["max", "mean"] = Field(
        "max",
        description="A recording's score from its windows' scores: max (a short fault in a long "
        "recording counts) or mean. Recordings no longer than the clip length are one window.",
    )
    hop: float = Field(0.5, gt=0, le=1, description="Hop between scoring windows, as a fraction of a window.")


class RunConfig(ConfigSection):
    """Everything a run needs, saved resolved as RUN/config.yaml."""

    data: DataConfig = Field(default_factory=DataConfig)
    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    mga: MgaConfig = Field(default_factory=MgaConfig)
    head: HeadConfig = Field(default_factory=HeadConfig)
    vq: VqConfig = Field(default_factory=VqConfig)
    contrastive: ContrastiveConfig = Field(default_factory=ContrastiveConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    threshold: ThresholdConfig = Field(default_factory=ThresholdConfig)
    score: ScoreConfig = Field(default_factory=ScoreConfig)
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)


#: the preset used without --config when its pretrained checkpoint is in the download cache
PRETRAINED_PRESET = "cpu"
#: the catalog name of that checkpoint (``sslasd download efficientat-mn04``)
PRETRAINED_ASSET = "efficientat-mn04"
#: the preset used otherwise: the training-free log-mel detector, never below its own floor
FALLBACK_PRESET = "logmel"


def pretrained_checkpoint() -> Path:
    """Where :data:`PRETRAINED_PRESET`'s checkpoint must be: the cache of ``sslasd download``."""
    checkpoint = load_config(PRETRAINED_PRESET).backbone.checkpoint
    return checkpoint_cache() / Path(str(checkpoint)).name


def default_config() -> tuple[str, str | None]:
    """The config used when none is given, and a message to show (or None).

    ``cpu`` (the real pretrained mn04, fine-tuned, in an ensemble with the log-mel floor) when its
    checkpoint is in the cache; else ``logmel``, the training-free log-mel detector, never a small
    model trained from scratch (it scores far below that detector).
    """
    path = pretrained_checkpoint()
    if path.is_file():
        return PRETRAINED_PRESET, None
    return FALLBACK_PRESET, (
        f"no pretrained checkpoint at {path}: using the training-free log-mel detector "
        f"(config {FALLBACK_PRESET}); run `sslasd download {PRETRAINED_ASSET}` (4 MB) for the "
        f"fine-tuned {PRETRAINED_PRESET} system, or pass --config tiny to train a small model from "
        "scratch"
    )


def preset_names() -> list[str]:
    """Names of the shipped presets (``tiny``, ``cpu``, ``paper/dcase2024``...)."""
    return sorted(_walk(resources.files("sslasd") / "configs"))


def _walk(folder: Any, prefix: str = "") -> list[str]:
    out = []
    for item in folder.iterdir():
        if item.is_dir():
            out += _walk(item, f"{prefix}{item.name}/")
        elif item.name.endswith(".yaml"):
            out.append(prefix + item.name[: -len(".yaml")])
    return out


_MAX_ALIASES = 32  # a config needs a few anchors at most; thousands are an alias bomb
_ECHO = reprlib.Repr()  # echoed values are cut: a nested value must not become a huge message
_ECHO.maxstring, _ECHO.maxother, _ECHO.maxlevel = 80, 80, 3


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses more than :data:`_MAX_ALIASES` aliases."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > _MAX_ALIASES:
                raise yaml.YAMLError(f"more than {_MAX_ALIASES} aliases (*name); refusing to expand them")
        return super().compose_node(parent, index)


def parse_yaml(text: str, where: str) -> Any:
    """``yaml.safe_load`` with a bound on aliases; any YAML problem is one ConfigError line."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{where}: not valid YAML ({first[:200]})") from None
    finally:
        loader.dispose()


def _read_yaml(source: str | os.PathLike) -> dict[str, Any]:
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        text = path.read_text()
        where = str(path)
    else:
        preset = resources.files("sslasd") / "configs" / f"{source}.yaml"
        if not preset.is_file():
            raise ConfigError(
                f"config: {source!r} is neither a file nor a preset; presets: {', '.join(preset_names())}"
            )
        text = preset.read_text()
        where = f"preset {source}"
    data = parse_yaml(text, where) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _set_key(tree: dict[str, Any], assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected key=value (e.g. lora.rank=4)")
    key, raw = assignment.split("=", 1)
    value = parse_yaml(raw, f"--set {assignment[:100]!r}") if raw.strip() else None
    node = tree
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {assignment!r}: {part!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("overrides", "params"):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def config_from_dict(tree: dict[str, Any], where: str = "config") -> RunConfig:
    """Validate a nested mapping; errors name every bad key path and value."""
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {_ECHO.repr(err.get('input'))})"
            for err in errors[:8]
        ) + (f"; and {len(errors) - 8} more" if len(errors) > 8 else "")
        raise ConfigError(f"{where}: {problems}") from None


def load_config(
    config: str | os.PathLike | RunConfig | None = None, overrides: list[str] | None = None
) -> RunConfig:
    """Resolve a preset name, YAML file or RunConfig, then apply ``key=value`` overrides.

    A YAML file may start with ``base: <preset or file>`` to extend another config. ``None`` is
    :func:`default_config`'s choice.
    """
    if isinstance(config, RunConfig):
        tree = config.model_dump()
        where = "config"
    else:
        source = config if config is not None else default_config()[0]
        tree = _resolve_tree(source)
        where = str(source)
    for assignment in overrides or []:
        _set_key(tree, assignment)
    return config_from_dict(tree, where)


def _resolve_tree(source: str | os.PathLike, depth: int = 0) -> dict[str, Any]:
    if depth > 8:
        raise ConfigError(f"{source}: 'base:' chain deeper than 8 (a cycle?)")
    tree = _read_yaml(source)
    base = tree.pop("base", None)
    if base is None:
        return tree
    if not isinstance(base, str):
        raise ConfigError(f"{source}: base must be a preset name or path, got {base!r}")
    if not Path(base).is_absolute() and Path(source).parent.joinpath(base).exists():
        base = str(Path(source).parent / base)
    return _merge(_resolve_tree(base, depth + 1), tree)


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML (the exact text written to RUN/config.yaml)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def unset_keys(tree: dict[str, Any]) -> list[str]:
    """Key paths of :class:`RunConfig` that ``tree`` (a saved config) does not set.

    A run's ``config.yaml`` holds every key, so a gap means it was written by an older sslasd,
    before the key existed; read back, the key takes today's default, which need not be what the
    run used (``vq.update`` became ``kmeans`` after runs trained with EMA codes).
    """
    out: list[str] = []

    def walk(model: type[ConfigSection], node: Any, path: str) -> None:
        for name, field in model.model_fields.items():
            key = f"{path}.{name}" if path else name
            kind = field.annotation
            if not isinstance(node, dict) or name not in node:
                out.append(key)
            elif isinstance(kind, type) and issubclass(kind, ConfigSection):
                walk(kind, node[name], key)

    walk(RunConfig, tree, "")
    return out


def config_diff(a: RunConfig, b: RunConfig) -> list[str]:
    """Key paths whose values differ between two configs, as ``key: a -> b``."""
    out: list[str] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                walk(x.get(key), y.get(key), f"{path}.{key}" if path else key)
        elif x != y:
            out.append(f"{path}: {x!r} -> {y!r}")

    walk(a.model_dump(mode="json"), b.model_dump(mode="json"), "")
    return out
