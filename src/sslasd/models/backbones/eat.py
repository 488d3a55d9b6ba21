"""EAT (Chen et al., "EAT: Self-Supervised Pre-Training with Efficient Audio Transformer", IJCAI 2024).

Loads EAT-base and EAT-large pre-trained weights in both published formats without fairseq,
timm or remote code:

* the official fairseq checkpoint (``EAT-base_epoch30_pt.pt``...): ``{"cfg": {"model": ...},
  "model": state_dict}`` whose keys are ours (``modality_encoders.IMAGE.*``, ``blocks.N.*``);
  pre-training-only entries (the EMA teacher ``_ema``, the CNN ``decoder``...) are skipped;
* the Hugging Face port (``worstchan/EAT-base_epoch30_pretrain``): a folder with ``config.json``
  and ``model.safetensors`` whose keys differ by one mapping table (:data:`HF_KEY_MAP`).

Front end as in EAT's ``feature_extract.py``: the waveform (in [-1, 1], no 2**15 scaling) minus
its mean -> Kaldi fbank with a Hann window, 128 bins -> zero-padded (or cut) to
``target_length`` frames -> ``(x - (-4.268)) / (2 * 4.569)``. Network: 16x16 patches
(time-major) + fixed 2-D sin-cos positions, a CLS token in front, LayerNorm, 12 (24) post-LN
blocks.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from sslasd._common import atomic_write_bytes, atomic_write_json, atomic_writer, get_logger
from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.features import Fbank, FbankConfig
from sslasd.models.backbones._checkpoint import load_state_dict_file, load_strict, resolve_checkpoint
from sslasd.models.backbones._eat_blocks import MEL_BINS, EatBlock, EatImageEncoder
from sslasd.models.backbones.base import Backbone

_LOG = get_logger(__name__)

#: Hugging Face port key prefix -> fairseq (= our) key prefix.
HF_KEY_MAP: dict[str, str] = {
    "model.local_encoder.": "modality_encoders.IMAGE.local_encoder.",
    "model.extra_tokens": "modality_encoders.IMAGE.extra_tokens",
    "model.fixed_positional_encoder.": "modality_encoders.IMAGE.fixed_positional_encoder.",
    "model.pre_norm.": "modality_encoders.IMAGE.context_encoder.norm.",
    "model.blocks.": "blocks.",
}

#: Key prefixes of modules used only for pre-training (fairseq) or classification (fine-tuned
#: Hugging Face models); skipped on loading because the encoder does not use them.
SKIPPED_PREFIXES: tuple[str, ...] = (
    "_ema",
    "modality_encoders.IMAGE.decoder.",
    "shared_decoder.",
    "recon_proj.",
    "cls_proj.",
    "center",
    "model.fc_norm.",
    "model.head.",
)

#: The linear layers of a block that LoRA may wrap.
LORA_TARGETS = ("qkv", "proj", "fc1", "fc2")


@dataclass(frozen=True)
class EatConfig:
    """Architecture, regularisation and front end of EAT; defaults = EAT-base.

    Attributes
    ----------
    embed_dim : int
        Transformer width (768 base, 1024 large): the backbone's ``dim``.
    depth : int
        Number of blocks (12 base, 24 large).
    num_heads : int
        Attention heads (12 base, 16 large); must divide ``embed_dim``.
    mlp_ratio : float
        Feed-forward width as a multiple of ``embed_dim``.
    norm_eps : float
        LayerNorm epsilon (1e-6).
    patch_size : int
        Side of the square patches (16 frames x 16 mel bins); must divide 128.
    max_length : int
        Time steps of patches in the fixed positional table (768 = 122.88 s of audio).
    num_extra_tokens : int
        Tokens in front of the patches (1: the CLS token).
    target_length : int or None
        Frames the fbank is zero-padded or cut to (1024 = 10.24 s, as in pre-training);
        None pads each batch to the next multiple of ``patch_size`` instead.
    norm_mean, norm_std : float
        Fbank normalisation ``(x - norm_mean) / (2 * norm_std)`` (-4.268, 4.569 on AudioSet).
    encoder_dropout : float
        Dropout after the attention output projection.
    attention_dropout : float
        Dropout on the attention weights.
    activation_dropout : float
        Dropout inside the feed-forward network.
    post_mlp_drop : float
        Dropout on the feed-forward output before the residual sum.
    start_drop_path_rate, end_drop_path_rate : float
        Stochastic depth, linearly from the first block to the last.
    layerdrop : float
        Probability of skipping a whole block in training.

    Examples
    --------
    >>> EatConfig.large().embed_dim
    1024
    """

    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6
    patch_size: int = 16
    max_length: int = 768
    num_extra_tokens: int = 1
    target_length: int | None = 1024
    norm_mean: float = -4.268
    norm_std: float = 4.569
    encoder_dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    post_mlp_drop: float = 0.0
    start_drop_path_rate: float = 0.0
    end_drop_path_rate: float = 0.0
    layerdrop: float = 0.0

    @classmethod
    def large(cls, **overrides: Any) -> EatConfig:
        """EAT-large: 24 blocks, 1024 wide, 16 heads."""
        return cls.from_dict({"embed_dim": 1024, "depth": 24, "num_heads": 16, **overrides})

    @classmethod
    def tiny(cls, **overrides: Any) -> EatConfig:
        """A 2-block, 32-wide configuration that builds in milliseconds (1.28-s inputs)."""
        small = {"embed_dim": 32, "depth": 2, "num_heads": 4, "max_length": 32, "target_length": 128}
        return cls.from_dict({**small, **overrides})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EatConfig:
        """Build from :meth:`to_dict` output and validate; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"EatConfig: unknown keys {unknown}; known: {sorted(known)}")
        config = cls(**data)
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> EatConfig:
        """A validated copy with some fields changed."""
        return self.from_dict({**self.to_dict(), **overrides})

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming every invalid field, its value and what is expected."""
        problems: list[str] = []
        for name in ("embed_dim", "depth", "num_heads", "patch_size", "max_length", "num_extra_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                problems.append(f"{name}={value!r}: expected a positive integer")
        target = self.target_length
        if target is not None and (isinstance(target, bool) or not isinstance(target, int) or target <= 0):
            problems.append(f"target_length={self.target_length!r}: expected a positive integer or None")
        dropouts = (
            "encoder_dropout",
            "attention_dropout",
            "activation_dropout",
            "post_mlp_drop",
            "start_drop_path_rate",
            "end_drop_path_rate",
            "layerdrop",
        )
        for name in dropouts:
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                problems.append(f"{name}={value!r}: expected a probability in [0, 1)")
        if not problems:
            if self.embed_dim % self.num_heads:
                problems.append(f"num_heads={self.num_heads}: must divide embed_dim={self.embed_dim}")
            if self.embed_dim % 4:
                problems.append(f"embed_dim={self.embed_dim}: the 2-D sin-cos table needs a multiple of 4")
            if MEL_BINS % self.patch_size:
                problems.append(f"patch_size={self.patch_size}: must divide the {MEL_BINS} mel bins")
            if self.target_length is not None and self.target_length // self.patch_size > self.max_length:
                problems.append(
                    f"target_length={self.target_length}: more than max_length={self.max_length} patch steps"
                )
        if not self.mlp_ratio > 0:
            problems.append(f"mlp_ratio={self.mlp_ratio!r}: expected > 0")
        if not self.norm_std > 0:
            problems.append(f"norm_std={self.norm_std!r}: expected > 0")
        if problems:
            raise ConfigError("EatConfig: " + "; ".join(problems))


class EatBackbone(Backbone):
    """EAT as an sslasd backbone: waveform ``[B, N]`` at 16 kHz -> patch features ``[B, P, dim]``.

    ``P = (target_length // 16) * 8`` patches, time-major (8 frequency patches per 160 ms);
    :meth:`encode_tokens` also returns the CLS token in front. Submodule names equal the fairseq keys.

    Parameters
    ----------
    config : EatConfig

    Examples
    --------
    >>> model = EatBackbone(EatConfig.tiny()).eval()
    >>> model.extract(torch.randn(2, 16000)).shape
    torch.Size([2, 64, 32])
    """

    name = "eat"
    sample_rate = 16000

    def __init__(self, config: EatConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.dim = config.embed_dim
        self.fbank = Fbank(FbankConfig(sample_rate=16000, num_mel_bins=MEL_BINS, window="hanning"))
        self.modality_encoders = nn.ModuleDict({"IMAGE": EatImageEncoder(config)})
        rates = torch.linspace(config.start_drop_path_rate, config.end_drop_path_rate, config.depth).tolist()
        # Registered under "blocks", the checkpoint's key, although Backbone.blocks() is a method
        # (add_module refuses the clash); the method wins attribute lookup, so the ModuleList is
        # reached through ``_blocks``.
        self._modules["blocks"] = nn.ModuleList(EatBlock(config, rate) for rate in rates)
        self._init_weights()

    @property
    def _blocks(self) -> nn.ModuleList:
        return self._modules["blocks"]  # type: ignore[return-value]

    @torch.no_grad()
    def _init_weights(self) -> None:
        """The original random initialisation (BERT normal for linear layers)."""
        for module in self._blocks.modules():
            if isinstance(module, nn.Linear):
                module.weight.normal_(0.0, 0.02)
                module.bias.zero_()
        self.modality_encoders["IMAGE"].reset_parameters()

    def preprocess(self, waveform: torch.Tensor) -> torch.Tensor:
        """Normalised fbank ``[B, target_length, 128]`` as EAT's ``feature_extract.py`` computes it.

        Each clip minus its mean, Kaldi fbank (Hann window, 128 bins, no 2**15 scaling),
        zero-padded or cut to ``target_length`` frames, then ``(x - norm_mean) / (2 * norm_std)``.

        Raises
        ------
        DataError
            If ``waveform`` is not ``[B, N]`` or is shorter than one 25-ms frame.
        """
        config = self.config
        features = self.fbank(waveform - waveform.mean(dim=-1, keepdim=True))  # [B, T, 128]
        frames = features.shape[1]
        target = config.target_length or -(-frames // config.patch_size) * config.patch_size
        if frames < target:
            features = nn.functional.pad(features, (0, 0, 0, target - frames))
        features = features[:, :target]
        return (features - config.norm_mean) / (2 * config.norm_std)

    def _mask_padded_frames(self, features: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Give frames that reach into the padding the value of EAT's zero padding (normalised)."""
        if padding_mask.dim() != 2 or padding_mask.shape[0] != features.shape[0]:
            raise DataError(
                f"EAT: padding_mask must be [B, N] with B={features.shape[0]}, "
                f"got shape {tuple(padding_mask.shape)}"
            )
        fb = self.fbank.config
        lengths = (~padding_mask.bool()).sum(dim=-1, keepdim=True)  # [B, 1] valid samples
        valid_frames = torch.where(
            lengths >= fb.frame_length, 1 + (lengths - fb.frame_length) // fb.frame_shift, 0
        ).to(features.device)
        position = torch.arange(features.shape[1], device=features.device)
        padded = (position[None, :] >= valid_frames).unsqueeze(-1)  # [B, T, 1]
        return features.masked_fill(padded, -self.config.norm_mean / (2 * self.config.norm_std))

    def encode_tokens(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """All output tokens ``[B, 1 + P, dim]``, CLS first.

        Equal to the original ``extract_features(..., remove_extra_tokens=False)["x"]`` (fairseq)
        and ``EATModel.extract_features`` (Hugging Face port) on the same features.

        Parameters
        ----------
        features : Tensor ``[B, T, 128]``
            :meth:`preprocess` output (possibly SpecAugment-ed).
        padding_mask : Tensor ``[B, N]`` of bool, optional
            The waveform's mask (True = padded): frames that reach into the padding get the value
            of EAT's zero padding, so that with a fixed ``target_length`` each clip of a padded
            batch gets the tokens it would get alone. Attention itself is unmasked, as in EAT.
        """
        config = self.config
        if features.dim() != 3 or features.shape[2] != MEL_BINS or features.shape[1] < config.patch_size:
            raise DataError(
                f"EAT: features must be [B, T >= {config.patch_size}, {MEL_BINS}], "
                f"got shape {tuple(features.shape)}"
            )
        if features.shape[1] // config.patch_size > config.max_length:
            raise DataError(
                f"EAT: {features.shape[1]} frames make {features.shape[1] // config.patch_size} patch steps, "
                f"more than the positional table's max_length={config.max_length}"
            )
        if padding_mask is not None:
            features = self._mask_padded_frames(features, padding_mask)
        hidden = self.modality_encoders["IMAGE"](features.unsqueeze(1))
        for block in self._blocks:
            if self.training and config.layerdrop > 0 and torch.rand(()) <= config.layerdrop:
                continue
            hidden = block(hidden)
        return hidden

    def encode(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Patch tokens ``[B, P, dim]`` of :meth:`encode_tokens` (CLS removed, fairseq's default)."""
        return self.encode_tokens(features, padding_mask)[:, self.config.num_extra_tokens :]

    def extract(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Patch features ``[B, P, dim]``: ``encode(preprocess(waveform), padding_mask)``.

        Parameters
        ----------
        waveform : Tensor ``[B, N]``
            Audio in [-1, 1] at 16 kHz.
        padding_mask : Tensor ``[B, N]`` of bool, optional
            True on padded samples (see :meth:`encode_tokens`).
        """
        return self.encode(self.preprocess(waveform), padding_mask)

    def blocks(self) -> list[nn.Module]:
        """The transformer blocks; each ``forward`` returns hidden states ``[B, 1 + P, dim]`` (a tensor)."""
        return list(self._blocks)

    def linear_names(self) -> list[str]:
        """``blocks.N.attn.qkv``, ``blocks.N.attn.proj``, ``blocks.N.mlp.fc1``, ``blocks.N.mlp.fc2``."""
        return [
            name
            for name, module in self.named_modules()
            if isinstance(module, nn.Linear)
            and name.startswith("blocks.")
            and name.rsplit(".", 1)[-1] in LORA_TARGETS
        ]

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()


def _check_name(name: str) -> None:
    if name != "eat":
        raise ConfigError(f"backbone: the eat module builds 'eat', not {name!r}")


def _fairseq_config(cfg: Any, source: str) -> EatConfig:
    """EatConfig from a fairseq ``cfg["model"]`` (with ``modalities.image``); other variants are refused."""
    model = cfg.get("model") if isinstance(cfg, dict) else None
    if not isinstance(model, dict):
        raise CheckpointError(f"{source}: no 'cfg' dict with a 'model' entry (fairseq EAT files have one)")
    image = (model.get("modalities") or {}).get("image") or {}
    width = model.get("embed_dim", 768)
    unsupported = {
        "model.layer_norm_first": (model.get("layer_norm_first", False), False),
        "modalities.image.prenet_depth": (image.get("prenet_depth", 0), 0),
        "modalities.image.use_alibi_encoder": (image.get("use_alibi_encoder", False), False),
        "modalities.image.in_chans": (image.get("in_chans", 1), 1),
        "modalities.image.embed_dim": (image.get("embed_dim", width), width),
    }
    bad = [f"{key}={seen!r} (EAT uses {want!r})" for key, (seen, want) in unsupported.items() if seen != want]
    if bad:
        raise CheckpointError(f"{source}: not an EAT encoder this implementation supports: {'; '.join(bad)}")
    names = {f.name for f in fields(EatConfig)}
    values = {k: v for k, v in model.items() if k in names and v is not None}
    image_keys = ("patch_size", "max_length", "num_extra_tokens", "target_length")
    values.update({k: image[k] for k in image_keys if k in image})
    return EatConfig.from_dict(values)


def _hf_config(data: dict[str, Any], source: str) -> EatConfig:
    """EatConfig from the Hugging Face port's ``config.json``."""
    fixed = {"in_chans": 1, "mel_bins": MEL_BINS, "layer_norm_first": False, "fixed_positions": True}
    bad = [f"{k}={data[k]!r} (EAT uses {v!r})" for k, v in fixed.items() if k in data and data[k] != v]
    if data.get("stride", data.get("patch_size")) != data.get("patch_size"):
        bad.append(f"stride={data['stride']!r}: overlapping patches are not supported")
    if bad:
        raise CheckpointError(f"{source}: not an EAT encoder this implementation supports: {'; '.join(bad)}")
    renamed = {
        "embed_dim": "embed_dim",
        "depth": "depth",
        "num_heads": "num_heads",
        "mlp_ratio": "mlp_ratio",
        "norm_eps": "norm_eps",
        "patch_size": "patch_size",
        "max_length": "max_length",
        "drop_rate": "encoder_dropout",
        "attn_drop_rate": "attention_dropout",
        "activation_dropout": "activation_dropout",
        "post_mlp_drop": "post_mlp_drop",
        "start_drop_path_rate": "start_drop_path_rate",
        "end_drop_path_rate": "end_drop_path_rate",
    }
    values = {ours: data[theirs] for theirs, ours in renamed.items() if theirs in data}
    if "target_length" in data:  # written by save_eat_checkpoint; the port itself only has img_size
        values["target_length"] = data["target_length"]
    elif "img_size" in data:
        values["target_length"] = int(data["img_size"][0])
    return EatConfig.from_dict(values)


def _read_hf(path: Path) -> tuple[EatConfig, dict[str, Any]]:
    folder = path if path.is_dir() else path.parent
    weights = path
    if path.is_dir():
        candidates = [folder / "model.safetensors", folder / "pytorch_model.bin"]
        weights = next((c for c in candidates if c.is_file()), candidates[0])
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"checkpoint {path}: the Hugging Face layout needs {config_file} beside it")
    try:
        data = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_file}: not readable JSON ({exc})") from exc
    state = load_state_dict_file(weights)
    mapped = {}
    for key, value in state.items():
        prefix = next((p for p in HF_KEY_MAP if key.startswith(p)), None)
        mapped[HF_KEY_MAP[prefix] + key[len(prefix) :] if prefix else key] = value
    return _hf_config(data, f"{config_file}"), mapped


def _read_fairseq(path: Path) -> tuple[EatConfig, dict[str, Any]]:
    stored = load_state_dict_file(path)
    if not isinstance(stored.get("model"), dict):
        raise CheckpointError(
            f"checkpoint {path}: not a fairseq EAT file; expected 'cfg' and 'model' entries, "
            f"found keys {sorted(map(str, stored))}"
        )
    return _fairseq_config(stored.get("cfg"), f"checkpoint {path}"), stored["model"]


def build(name: str, config: dict[str, Any]) -> EatBackbone:
    """An EAT model with random weights from :meth:`EatBackbone.config_dict` output (eval mode)."""
    _check_name(name)
    return EatBackbone(EatConfig.from_dict(config)).eval()


def load(
    name: str, checkpoint: str | os.PathLike | None = None, *, tiny: bool = False, **overrides: Any
) -> EatBackbone:
    """An EAT model from a fairseq or Hugging Face checkpoint, or with random weights.

    Parameters
    ----------
    name : str
        ``"eat"``.
    checkpoint : path or str, optional
        A fairseq ``.pt`` file; or a Hugging Face folder (``config.json`` + ``model.safetensors``)
        or its ``.safetensors`` file; or a file name in ``sslasd_home() / "checkpoints"``. None
        builds random weights (EAT-base, or :meth:`EatConfig.tiny` with ``tiny=True``).
    tiny : bool
        See ``checkpoint``.
    **overrides
        :class:`EatConfig` fields to change (``target_length=None``, dropouts...).

    Returns
    -------
    EatBackbone
        In eval mode.

    Raises
    ------
    CheckpointError
        Missing or unsafe files, an unsupported variant, or weights that do not fit (listed).
    ConfigError
        Unknown override names, invalid values, ``tiny`` together with a checkpoint.

    Examples
    --------
    >>> load("eat", tiny=True).dim
    32
    """
    _check_name(name)
    if checkpoint is None:
        config = EatConfig.tiny() if tiny else EatConfig()
        return EatBackbone(config.replace(**overrides)).eval()
    if tiny:
        raise ConfigError("backbone: tiny=True builds random weights; do not pass a checkpoint with it")
    path = resolve_checkpoint(checkpoint)
    hf = path.is_dir() or path.suffix == ".safetensors"
    config, state = _read_hf(path) if hf else _read_fairseq(path)
    skipped = sorted({k.split(".")[0] for k in state if k.startswith(SKIPPED_PREFIXES)})
    if skipped:
        _LOG.info("EAT checkpoint %s: skipping pre-training/classification entries under %s", path, skipped)
    state = {k: v for k, v in state.items() if not k.startswith(SKIPPED_PREFIXES)}
    model = EatBackbone(config.replace(**overrides))
    load_strict(model, state, source=f"checkpoint {path}")
    return model.eval()


def save_eat_checkpoint(
    model: EatBackbone, path: str | os.PathLike, format: Literal["fairseq", "hf"] = "fairseq"
) -> Path:
    """Write ``model`` in an official layout that :func:`load` (and the original code) reads.

    Parameters
    ----------
    model : EatBackbone
    path : path
        ``fairseq``: the ``.pt`` file, ``{"cfg": {"model": {..., "modalities": {"image": ...}}},
        "model": state_dict}``. ``hf``: a folder that receives ``config.json`` (the port's
        ``EATConfig`` fields) and ``model.safetensors`` (keys renamed by :data:`HF_KEY_MAP`).
    format : {"fairseq", "hf"}

    Returns
    -------
    Path
        The file (fairseq) or folder (hf) written.
    """
    path = Path(path)
    config = model.config
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    if format == "fairseq":
        image = {
            "patch_size": config.patch_size,
            "max_length": config.max_length,
            "num_extra_tokens": config.num_extra_tokens,
            "target_length": config.target_length,
            "in_chans": 1,
            "embed_dim": config.embed_dim,
            "prenet_depth": 0,
            "use_alibi_encoder": False,
        }
        skip = {"patch_size", "max_length", "num_extra_tokens", "target_length", "norm_mean", "norm_std"}
        cfg_model = {"_name": "data2vec_multi", "layer_norm_first": False, "modalities": {"image": image}}
        cfg_model.update({k: v for k, v in config.to_dict().items() if k not in skip})
        with atomic_writer(path, "wb") as handle:
            torch.save({"cfg": {"model": cfg_model}, "model": state}, handle)
        return path
    if format != "hf":
        raise ConfigError(f"save_eat_checkpoint: format={format!r}; expected 'fairseq' or 'hf'")
    from safetensors.torch import save

    inverse = {ours: theirs for theirs, ours in HF_KEY_MAP.items()}
    renamed = {}
    for key, value in state.items():
        prefix = next(p for p in inverse if key.startswith(p))
        renamed[inverse[prefix] + key[len(prefix) :]] = value
    hf_config = {
        "architectures": ["EATModel"],
        "model_type": "eat",
        "model_variant": "pretrain",
        "embed_dim": config.embed_dim,
        "depth": config.depth,
        "num_heads": config.num_heads,
        "mlp_ratio": config.mlp_ratio,
        "norm_eps": config.norm_eps,
        "norm_affine": True,
        "qkv_bias": True,
        "patch_size": config.patch_size,
        "stride": config.patch_size,
        "in_chans": 1,
        "mel_bins": MEL_BINS,
        "max_length": config.max_length,
        "img_size": [config.target_length or 1024, MEL_BINS],
        "target_length": config.target_length,
        "fixed_positions": True,
        "layer_norm_first": False,
        "drop_rate": config.encoder_dropout,
        "attn_drop_rate": config.attention_dropout,
        "activation_dropout": config.activation_dropout,
        "post_mlp_drop": config.post_mlp_drop,
        "start_drop_path_rate": config.start_drop_path_rate,
        "end_drop_path_rate": config.end_drop_path_rate,
    }
    atomic_write_bytes(path / "model.safetensors", save(renamed))
    atomic_write_json(path / "config.json", hf_config)
    return path
