"""The run configuration: one typed, validated tree composed of every component's settings.

Every paper component is a key with an off switch, so that each can be ablated from YAML or from
``--set key=value`` on the command line. The tree is validated once, here, at the edge; the code
below receives plain keyword arguments. Unknown keys and bad values raise :class:`ConfigError`
naming the key path.

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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sslasd.backends import make_backend
from sslasd.data import ChannelPolicy, NoiseMixer
from sslasd.errors import ConfigError
from sslasd.models.backbones.registry import checkpoint_cache
from sslasd.training.config import TrainConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class NoiseConfig(_Section):
    """Noise-only clips mixed into the training crops at a random SNR (:mod:`sslasd.data.noise`)."""

    folder: str | None = Field(
        None,
        description="Folder of noise-only clips, searched recursively (DCASE 2025's supplementary noise "
        "clips, or your own); None = no mixing.",
    )
    snr_db: tuple[float, float] = Field(
        (5.0, 20.0), description="SNR range [low, high] in dB, drawn uniformly."
    )
    probability: float = Field(0.5, ge=0, le=1, description="Chance that a training crop is mixed.")

    @model_validator(mode="after")
    def _check_range(self) -> NoiseConfig:
        if self.snr_db[0] > self.snr_db[1]:
            raise ValueError(f"snr_db {list(self.snr_db)}: need [low, high] with low <= high")
        return self


class DataConfig(_Section):
    """Which clips, how long, and how they are read."""

    year: int | None = Field(None, description="DCASE naming scheme; None = detect from the file names.")
    seconds: float | None = Field(
        None,
        gt=0,
        description="Crop/pad length; None = the year's policy, capped at the longest training clip.",
    )
    cache: bool = Field(True, description="Keep decoded audio at the backbone's rate in RUN/cache/ (.npy).")
    skip_bad: bool = Field(
        False, description="Skip unreadable/bad files (listed in the run) instead of failing."
    )
    channels: Literal["mean", "near", "far", "stack", "subtract"] = Field(
        "mean",
        description="What the model sees of multi-microphone clips (DCASE 2026: near, far): mean (all "
        "channels averaged; any channel count), near, far, stack (both as two views, fused in "
        "embedding space), subtract (near minus the far channel's magnitude spectrum).",
    )
    subtract_factor: float = Field(1.0, ge=0, description="Over-subtraction factor of channels=subtract.")
    subtract_floor: float = Field(
        0.1, ge=0, le=1, description="Gain floor of channels=subtract (0.1: at most -20 dB per bin)."
    )

    noise: NoiseConfig = Field(default_factory=NoiseConfig)

    def channel_policy(self) -> ChannelPolicy:
        """The channel policy these keys describe (:mod:`sslasd.data.channels`)."""
        return ChannelPolicy(self.channels, factor=self.subtract_factor, floor=self.subtract_floor)

    def noise_mixer(self) -> NoiseMixer | None:
        """The mixer of ``noise.folder``'s clips, or None without a folder.

        Raises
        ------
        DataError
            The folder is missing or holds no audio file.
        """
        noise = self.noise
        if noise.folder is None:
            return None
        return NoiseMixer.from_folder(noise.folder, snr_db=noise.snr_db, probability=noise.probability)


class BackboneConfig(_Section):
    """The pretrained model and where its weights come from."""

    name: str = Field(
        "beats", description="Registry name: beats, eat, wav2vec2, hubert, wavlm, data2vec, efficientat."
    )
    checkpoint: str | None = Field(
        None,
        description="Local checkpoint path or catalog file name in $SSLASD_HOME/checkpoints; None = random.",
    )
    tiny: bool = Field(False, description="Use the family's tiny random config (tests, CPU demo).")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Fields of the family's config class to override (e.g. layer_drop)."
    )


class LoraConfig(_Section):
    """How the backbone is fine-tuned: FC-LoRA, plain LoRA, frozen or full."""

    mode: Literal["fc_lora", "lora", "frozen", "full"] = "fc_lora"
    rank: int = Field(8, ge=1, description="Rank r of each branch.")
    branches: int = Field(2, ge=1, description="K down/up branches of FC-LoRA (forced to 1 for plain LoRA).")
    alpha: float = Field(16.0, gt=0, description="Scale alpha; the update is multiplied by alpha / r.")
    dropout: float = Field(0.0, ge=0, lt=1)
    targets: list[str] = Field(
        default_factory=lambda: ["all"],
        description="Linear layers to wrap: 'all' or name patterns (q_proj...).",
    )
    learn_mixing: bool = Field(
        True, description="Learn the K x K mixing matrix G (False keeps it at identity)."
    )


class MgaConfig(_Section):
    """The Machine-aware Group Adapter after the top blocks."""

    mode: Literal["none", "shared", "per_machine", "grouped"] = "grouped"
    blocks: int = Field(2, ge=1, description="Insert after each of the top N blocks.")
    hidden: int = Field(64, ge=1, description="Bottleneck units m (split into groups).")
    groups: int = Field(4, ge=1, description="Groups G of the grouped mode.")
    gate_init: Literal["uniform", "random"] = Field(
        "uniform",
        description="uniform: every machine starts with equal gates (they move only once the adapter's "
        "output layer has); random: gates differ per machine from the first step.",
    )


class HeadConfig(_Section):
    """Pooling, embedding and margin classifier."""

    emb_dim: int = Field(256, ge=2)
    pooling_hidden: int = Field(128, ge=1)
    norm: Literal["batchnorm", "layernorm", "none"] = Field(
        "batchnorm",
        description="Normalisation of the projection before L2 (batchnorm removes the shared direction).",
    )
    margin: Literal["arcface", "subcenter"] = "arcface"
    scale: float = Field(30.0, gt=0)
    margin_value: float = Field(0.2, ge=0, lt=1.5, description="Additive angular margin m (radians).")
    subcenters: int = Field(3, ge=1, description="Sub-centres per class for margin=subcenter.")
    domain_in_classes: bool = Field(
        False,
        description="Classes machine x section x domain x attribute (the published recipe); the "
        "target clips of an unattributed section get a class of their own instead of pseudo-labels.",
    )


class VqConfig(_Section):
    """Vector-quantised dynamic pseudo-labels for machines/sections without attributes."""

    enabled: bool = True
    n_codes: int = Field(4, ge=1)
    decay: float = Field(0.99, gt=0, lt=1)
    commitment_weight: float = Field(0.1, ge=0)
    dead_threshold: float = Field(
        0.1,
        ge=0,
        description="EMA cluster size under which a code is restarted; below decay, so that a code "
        "just seeded (size 1) survives batches without clips (about 230 at 0.1 and decay 0.99).",
    )
    refresh: bool = Field(
        True,
        description="Re-cluster the codebooks by k-means on all training clips at the start of every "
        "epoch (code indices kept where clusters persist).",
    )

    @model_validator(mode="after")
    def _check_dead_threshold(self) -> VqConfig:
        if self.dead_threshold >= self.decay:
            raise ValueError(
                f"dead_threshold {self.dead_threshold} must be below decay {self.decay}: a code seeded "
                "with a count of 1 would be restarted after one batch without clips"
            )
        return self


class ContrastiveConfig(_Section):
    """The dual-level supervised contrastive loss."""

    enabled: bool = True
    weight: float = Field(
        0.5, ge=0, description="Weight of the whole contrastive term against the margin loss."
    )
    coarse_weight: float = Field(1.0, ge=0, description="Machine/section level.")
    fine_weight: float = Field(1.0, ge=0, description="Attribute / pseudo-attribute level.")
    temperature: float = Field(0.1, gt=0)


class AugmentConfig(_Section):
    """SpecAugment on the backbone's input features during training."""

    specaugment: bool = True
    freq_masks: int = Field(2, ge=0)
    freq_width: int = Field(8, ge=0)
    time_masks: int = Field(2, ge=0)
    time_width: int = Field(10, ge=0)


class BackendConfig(_Section):
    """The scorer fitted per machine/section on the training embeddings."""

    name: str = Field("knn", description="knn, kmeans, smote or mahalanobis.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of the back-end class (e.g. n_neighbors)."
    )

    @model_validator(mode="after")
    def _check_backend(self) -> BackendConfig:
        """Name and parameters checked against the back-end registry now, not after training."""
        reserved = sorted({"threshold", "threshold_q"} & set(self.params))
        if reserved:
            raise ValueError(f"params {reserved}: set by threshold.method and threshold.q, not here")
        try:
            make_backend(self.name, **self.params)._check_params()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


class ThresholdConfig(_Section):
    """Decision threshold fitted on leave-one-out training scores."""

    method: Literal["gamma", "percentile"] = "gamma"
    q: float = Field(0.9, gt=0, lt=1, description="Quantile (gamma) or percentile/100.")


class ScoreConfig(_Section):
    """How a recording is cut into scoring windows and scored; the same rule in every scoring path
    (``sslasd score``, ``detect``, ``load().score``, a bundle)."""

    aggregate: Literal["max", "mean"] = Field(
        "max",
        description="A recording's score from its windows' scores: max (a short fault in a long "
        "recording counts) or mean. Recordings no longer than the clip length are one window.",
    )
    hop: float = Field(0.5, gt=0, le=1, description="Hop between scoring windows, as a fraction of a window.")


class EnsembleConfig(_Section):
    """Which detectors a run's scores combine: the run itself and/or its floors (``logmel``,
    ``frozen``), each standardised with its own training scores, summed with ``weights``
    (:class:`sslasd.backends.ScoreEnsemble`)."""

    members: list[Literal["run", "logmel", "frozen"]] = Field(
        default_factory=lambda: ["run"],
        min_length=1,
        description="run, logmel, frozen; ['run'] = no ensemble.",
    )
    weights: list[float] | None = Field(None, description="One positive weight per member; None = equal.")

    @model_validator(mode="after")
    def _check_members(self) -> EnsembleConfig:
        if len(set(self.members)) != len(self.members):
            raise ValueError(f"members {self.members}: each at most once")
        if self.weights is not None and (
            len(self.weights) != len(self.members) or any(not w > 0 for w in self.weights)
        ):
            raise ValueError(
                f"weights {self.weights}: need {len(self.members)} positive numbers, one per member"
            )
        return self


class RunConfig(_Section):
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
