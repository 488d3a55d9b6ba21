"""BEATs (Chen et al., "BEATs: Audio Pre-Training with Acoustic Tokenizers", ICML 2023).

A re-implementation of microsoft/unilm ``beats/`` that loads the official checkpoints
(``{"cfg": {...}, "model": state_dict}``, pre-trained or fine-tuned with the AudioSet
``predictor``) with ``strict=True`` and gives the same outputs: :meth:`BeatsBackbone.extract` equals
the original ``extract_features(wav, padding_mask)[0]``, :meth:`BeatsBackbone.logits` equals its
fine-tuned predictions before the sigmoid, and :meth:`BeatsBackbone.preprocess` equals its
``preprocess`` (Kaldi fbank of ``wav * 2**15``, normalised with mean 15.41663 and std 6.55582
as ``(x - mean) / (2 * std)``). Checked side by side with the original code on random tiny
configurations; see ``docs/features_beats_eat.md``.

The network: 128-bin fbank -> 16x16 patches by a strided ``Conv2d`` (time-major order, 8
frequency patches per 16 frames) -> LayerNorm -> ``post_extract_proj`` -> grouped convolutional
position embedding -> 12 post-LN blocks with deep-norm residual scaling and a GRU-gated
relative position bias shared by all layers.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sslasd._common import atomic_writer, get_logger
from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.features import Fbank, FbankConfig
from sslasd.models.backbones._beats_encoder import BeatsEncoder, BeatsWeightNormConv1d
from sslasd.models.backbones._checkpoint import load_state_dict_file, load_strict, resolve_checkpoint
from sslasd.models.backbones.base import Backbone

_LOG = get_logger(__name__)

#: The linear layers of a block that LoRA may wrap (not the gate's ``grep_linear``).
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")


@dataclass(frozen=True)
class BeatsConfig:
    """Architecture and regularisation of BEATs; defaults = the official iter3 checkpoints.

    Field names are the original ``BEATsConfig``'s, so the ``cfg`` dict of an official
    checkpoint maps onto it one to one.

    Attributes
    ----------
    input_patch_size : int
        Side of the square fbank patches (16: 16 frames x 16 mel bins).
    embed_dim : int
        Channels of the patch embedding.
    conv_bias : bool
        Whether the patch-embedding convolution has a bias.
    encoder_layers : int
        Number of transformer blocks.
    encoder_embed_dim : int
        Width of the transformer (the backbone's ``dim``).
    encoder_ffn_embed_dim : int
        Hidden width of each block's feed-forward network.
    encoder_attention_heads : int
        Attention heads; must divide ``encoder_embed_dim``.
    activation_fn : {"gelu", "relu"}
        Feed-forward activation (BEATs uses exact GELU computed in float32).
    layer_wise_gradient_decay_ratio : float
        Gradient scale applied before every block (0.6 in iter3): lower blocks learn slower.
    layer_norm_first : bool
        Pre-LN blocks (False in BEATs: post-LN).
    deep_norm : bool
        DeepNet residual scaling ``alpha = (2 * layers) ** 0.25`` (True in BEATs).
    dropout : float
        Dropout after attention, after the feed-forward network and on the block input.
    attention_dropout : float
        Dropout on the attention weights.
    activation_dropout : float
        Dropout after the feed-forward activation.
    encoder_layerdrop : float
        Probability of skipping a whole block in training (LayerDrop).
    dropout_input : float
        Dropout on the projected patch features.
    conv_pos : int
        Kernel size of the convolutional position embedding.
    conv_pos_groups : int
        Groups of that convolution.
    relative_position_embedding : bool
        Add the bucketed relative position bias to the attention logits.
    num_buckets : int
        Number of relative-position buckets (half per direction).
    max_distance : int
        Distance at which the log-spaced buckets saturate.
    gru_rel_pos : bool
        Gate the bias per query with the GRU-style ``grep_linear``/``grep_a`` parameters.
    finetuned_model : bool
        The checkpoint has an AudioSet ``predictor`` head (enables :meth:`BeatsBackbone.logits`).
    predictor_dropout : float
        Dropout before the predictor.
    predictor_class : int
        Number of predictor outputs (527 AudioSet classes).
    fbank_mean : float
        Mean subtracted from the fbank (an argument of the original ``extract_features``).
    fbank_std : float
        The fbank is divided by twice this value, as the original does.

    Examples
    --------
    >>> BeatsConfig.tiny().encoder_embed_dim
    32
    """

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_wise_gradient_decay_ratio: float = 0.6
    layer_norm_first: bool = False
    deep_norm: bool = True
    dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    encoder_layerdrop: float = 0.05
    dropout_input: float = 0.0
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = True
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True
    finetuned_model: bool = False
    predictor_dropout: float = 0.0
    predictor_class: int = 527
    fbank_mean: float = 15.41663
    fbank_std: float = 6.55582

    @classmethod
    def tiny(cls, **overrides: Any) -> BeatsConfig:
        """A 2-block, 32-wide configuration of the same code that builds in milliseconds (tests, demo)."""
        small: dict[str, Any] = dict(
            embed_dim=16,
            encoder_layers=2,
            encoder_embed_dim=32,
            encoder_ffn_embed_dim=64,
            encoder_attention_heads=4,
            conv_pos=8,
            conv_pos_groups=4,
            num_buckets=32,
            max_distance=64,
            predictor_class=5,
        )
        return cls.from_dict({**small, **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, ignore_unknown: bool = False) -> BeatsConfig:
        """Build from a dict (an official ``cfg`` or :meth:`to_dict` output) and validate.

        Raises
        ------
        ConfigError
            For unknown keys (unless ``ignore_unknown``, then they are logged and skipped) and
            for invalid values.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown and not ignore_unknown:
            raise ConfigError(f"BeatsConfig: unknown keys {unknown}; known: {sorted(known)}")
        if unknown:
            _LOG.warning("BEATs cfg: ignoring keys this implementation does not use: %s", unknown)
        config = cls(**{k: v for k, v in data.items() if k in known})
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (what :func:`save_beats_checkpoint` stores as ``cfg``)."""
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> BeatsConfig:
        """A validated copy with some fields changed; unknown names raise :class:`ConfigError`."""
        return self.from_dict({**self.to_dict(), **overrides})

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming every invalid field, its value and what is expected."""
        problems: list[str] = []
        positive = (
            "input_patch_size",
            "embed_dim",
            "encoder_layers",
            "encoder_embed_dim",
            "encoder_ffn_embed_dim",
            "encoder_attention_heads",
            "conv_pos",
            "conv_pos_groups",
            "predictor_class",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                problems.append(f"{name}={value!r}: expected a positive integer")
        for name in (
            "dropout",
            "attention_dropout",
            "activation_dropout",
            "encoder_layerdrop",
            "dropout_input",
        ):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                problems.append(f"{name}={value!r}: expected a probability in [0, 1)")
        if not problems:
            if self.encoder_embed_dim % self.encoder_attention_heads:
                problems.append(
                    f"encoder_attention_heads={self.encoder_attention_heads}: must divide "
                    f"encoder_embed_dim={self.encoder_embed_dim}"
                )
            if self.encoder_embed_dim % self.conv_pos_groups:
                problems.append(
                    f"conv_pos_groups={self.conv_pos_groups}: must divide "
                    f"encoder_embed_dim={self.encoder_embed_dim}"
                )
            if self.input_patch_size > 128:
                problems.append(f"input_patch_size={self.input_patch_size}: expected <= 128 (the mel bins)")
        if self.activation_fn not in ("gelu", "relu"):
            problems.append(f"activation_fn={self.activation_fn!r}: expected 'gelu' or 'relu'")
        if self.deep_norm and self.layer_norm_first:
            problems.append(
                "deep_norm=True with layer_norm_first=True: deep norm applies to post-LN blocks only"
            )
        if self.relative_position_embedding and not (4 <= self.num_buckets < 2 * self.max_distance):
            problems.append(
                f"num_buckets={self.num_buckets}, max_distance={self.max_distance}: "
                "expected 4 <= num_buckets < 2 * max_distance"
            )
        if not self.fbank_std > 0:
            problems.append(f"fbank_std={self.fbank_std!r}: expected > 0")
        if problems:
            raise ConfigError("BeatsConfig: " + "; ".join(problems))


def _reduce_padding_mask(padding_mask: torch.Tensor, length: int) -> torch.Tensor:
    """The original ``forward_padding_mask``: drop the remainder, then all-padded groups of ``N // length``.

    Kept as is for equality with ``extract_features``, although BEATs' patches are time-major
    with several frequency patches per time step, so the groups do not line up with them.
    """
    extra = padding_mask.shape[1] % length
    if extra > 0:
        padding_mask = padding_mask[:, :-extra]
    return padding_mask.view(padding_mask.shape[0], length, -1).all(-1)


class BeatsBackbone(Backbone):
    """BEATs as an sslasd backbone: waveform ``[B, N]`` at 16 kHz -> patch features ``[B, P, dim]``.

    ``P = (T // 16) * (128 // 16)`` for ``T`` fbank frames: patches are ordered time-major, eight
    frequency patches per 160 ms. Submodule names equal the official state-dict keys.

    Parameters
    ----------
    config : BeatsConfig

    Examples
    --------
    >>> model = BeatsBackbone(BeatsConfig.tiny()).eval()
    >>> model.extract(torch.randn(2, 16000)).shape
    torch.Size([2, 48, 32])
    """

    name = "beats"
    sample_rate = 16000

    def __init__(self, config: BeatsConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.dim = config.encoder_embed_dim
        self.fbank = Fbank(FbankConfig(sample_rate=16000, num_mel_bins=128))
        self.post_extract_proj = (
            nn.Linear(config.embed_dim, config.encoder_embed_dim)
            if config.embed_dim != config.encoder_embed_dim
            else None
        )
        patch = config.input_patch_size
        self.patch_embedding = nn.Conv2d(1, config.embed_dim, patch, stride=patch, bias=config.conv_bias)
        self.dropout_input = nn.Dropout(config.dropout_input)
        self.encoder = BeatsEncoder(config)
        self.layer_norm = nn.LayerNorm(config.embed_dim)
        self.predictor: nn.Linear | None = None
        if config.finetuned_model:
            self.predictor_dropout = nn.Dropout(config.predictor_dropout)
            self.predictor = nn.Linear(config.encoder_embed_dim, config.predictor_class)
        self._init_encoder()

    @torch.no_grad()
    def _init_encoder(self) -> None:
        """The original random initialisation of the encoder (BERT normal, deep-norm Xavier gains)."""
        config = self.config
        for module in self.encoder.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.normal_(0.0, 0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.zero_()
            if isinstance(module, BeatsWeightNormConv1d):
                std = math.sqrt(4.0 / (config.conv_pos * config.encoder_embed_dim))
                module.weight_v.normal_(0.0, std)
                module.weight_g.copy_(module.weight_v.norm(dim=(0, 1), keepdim=True))
        if config.deep_norm:
            beta = math.pow(8 * config.encoder_layers, -0.25)
            for layer in self.encoder.layers:
                attn = layer.self_attn
                for linear, gain in (
                    (attn.k_proj, 1.0),
                    (attn.v_proj, beta),
                    (attn.q_proj, 1.0),
                    (attn.out_proj, beta),
                    (layer.fc1, beta),
                    (layer.fc2, beta),
                ):
                    nn.init.xavier_normal_(linear.weight, gain=gain)

    def preprocess(self, waveform: torch.Tensor) -> torch.Tensor:
        """Normalised fbank ``[B, T, 128]`` exactly as the original ``preprocess``.

        ``waveform`` is ``[B, N]`` in [-1, 1] at 16 kHz; it is scaled by 2**15 before the
        Kaldi fbank, then ``(fbank - fbank_mean) / (2 * fbank_std)``.
        """
        fbank = self.fbank(waveform * 2**15)
        return (fbank - self.config.fbank_mean) / (2 * self.config.fbank_std)

    def _encode(
        self, features: torch.Tensor, padding_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Hidden states ``[B, P, dim]`` and the patch padding mask ``[B, P]`` (or None)."""
        if features.dim() != 3 or features.shape[1] < self.config.input_patch_size:
            raise DataError(
                f"BEATs: features must be [B, T >= {self.config.input_patch_size}, 128], "
                f"got shape {tuple(features.shape)}"
            )
        frame_mask = None
        if padding_mask is not None:
            if padding_mask.dim() != 2 or padding_mask.shape[0] != features.shape[0]:
                raise DataError(
                    f"BEATs: padding_mask must be [B, N] with B={features.shape[0]}, "
                    f"got shape {tuple(padding_mask.shape)}"
                )
            frame_mask = _reduce_padding_mask(padding_mask.bool(), features.shape[1])
        patches = self.patch_embedding(features.unsqueeze(1))  # [B, E, T / 16, F / 16]
        patches = patches.reshape(patches.shape[0], patches.shape[1], -1).transpose(1, 2)  # [B, P, E]
        patches = self.layer_norm(patches)
        patch_mask = None
        if frame_mask is not None:
            patch_mask = _reduce_padding_mask(frame_mask, patches.shape[1])
        if self.post_extract_proj is not None:
            patches = self.post_extract_proj(patches)
        hidden = self.encoder(self.dropout_input(patches), padding_mask=patch_mask)
        return hidden, patch_mask

    def encode(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The network alone: :meth:`preprocess` output ``[B, T, 128]`` -> ``[B, P, dim]``.

        Parameters
        ----------
        features : Tensor ``[B, T, 128]``
            Normalised fbank (possibly SpecAugment-ed).
        padding_mask : Tensor ``[B, N]`` of bool, optional
            The waveform's mask, as given to :meth:`extract`; reduced to frames, then patches.
        """
        return self._encode(features, padding_mask)[0]

    def extract(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Patch features ``[B, P, dim]``, equal to the original ``extract_features(wav, padding_mask)[0]``.

        Parameters
        ----------
        waveform : Tensor ``[B, N]``
            Audio in [-1, 1] at 16 kHz.
        padding_mask : Tensor ``[B, N]`` of bool, optional
            True on padded samples; reduced to frames and patches the original's way.
        """
        return self.encode(self.preprocess(waveform), padding_mask)

    def logits(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """AudioSet logits ``[B, predictor_class]`` of a fine-tuned checkpoint (before the sigmoid).

        The predictor is applied to every patch and averaged over the unpadded ones, as the
        original does.

        Raises
        ------
        ConfigError
            If the model has no predictor (a pre-trained, not fine-tuned, checkpoint).
        """
        if self.predictor is None:
            raise ConfigError(
                "BEATs: logits() needs a fine-tuned checkpoint (finetuned_model=True in its cfg)"
            )
        hidden, patch_mask = self._encode(self.preprocess(waveform), padding_mask)
        scores = self.predictor(self.predictor_dropout(hidden))  # [B, P, classes]
        if patch_mask is not None and patch_mask.any():
            scores = scores.masked_fill(patch_mask.unsqueeze(-1), 0.0).sum(dim=1)
            return scores / (~patch_mask).sum(dim=1, keepdim=True)
        return scores.mean(dim=1)

    def blocks(self) -> list[nn.Module]:
        """The transformer blocks; each ``forward`` returns hidden states ``[B, P, dim]`` (a tensor)."""
        return list(self.encoder.layers)

    def linear_names(self) -> list[str]:
        """``encoder.layers.N.self_attn.{q,k,v,out}_proj`` and ``encoder.layers.N.fc1/fc2``."""
        return [
            name
            for name, module in self.named_modules()
            if isinstance(module, nn.Linear)
            and name.startswith("encoder.layers.")
            and name.rsplit(".", 1)[-1] in LORA_TARGETS
        ]

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()


def _check_name(name: str) -> None:
    if name != "beats":
        raise ConfigError(f"backbone: the beats module builds 'beats', not {name!r}")


def build(name: str, config: dict[str, Any]) -> BeatsBackbone:
    """A BEATs model with random weights from :meth:`BeatsBackbone.config_dict` output (eval mode)."""
    _check_name(name)
    return BeatsBackbone(BeatsConfig.from_dict(config)).eval()


def load(
    name: str, checkpoint: str | os.PathLike | None = None, *, tiny: bool = False, **overrides: Any
) -> BeatsBackbone:
    """A BEATs model from an official checkpoint, or with random weights when ``checkpoint`` is None.

    Parameters
    ----------
    name : str
        ``"beats"``.
    checkpoint : path or str, optional
        An official ``.pt`` file (``{"cfg": ..., "model": ...}``), or its file name in
        ``sslasd_home() / "checkpoints"``.
    tiny : bool
        Without a checkpoint: build :meth:`BeatsConfig.tiny` instead of the iter3 configuration.
    **overrides
        :class:`BeatsConfig` fields to change (e.g. ``encoder_layerdrop=0.0``); architecture
        changes make the checkpoint not fit and raise.

    Returns
    -------
    BeatsBackbone
        In eval mode.

    Raises
    ------
    CheckpointError
        File missing or unsafe, no ``cfg``/``model`` entries, or weights that do not fit (missing,
        unexpected and shape-mismatched keys are listed).
    ConfigError
        Unknown override names or invalid values; ``tiny`` together with a checkpoint.

    Examples
    --------
    >>> load("beats", tiny=True).dim
    32
    """
    _check_name(name)
    if checkpoint is None:
        config = BeatsConfig.tiny() if tiny else BeatsConfig()
        return BeatsBackbone(config.replace(**overrides)).eval()
    if tiny:
        raise ConfigError("backbone: tiny=True builds random weights; do not pass a checkpoint with it")
    path = resolve_checkpoint(checkpoint)
    stored = load_state_dict_file(path)
    if not isinstance(stored.get("cfg"), dict) or not isinstance(stored.get("model"), dict):
        raise CheckpointError(
            f"checkpoint {path}: not an official BEATs file; expected a dict with 'cfg' (dict) and "
            f"'model' (state dict) entries, found keys {sorted(map(str, stored))}"
        )
    config = BeatsConfig.from_dict(stored["cfg"], ignore_unknown=True).replace(**overrides)
    model = BeatsBackbone(config)
    load_strict(model, stored["model"], source=f"checkpoint {path}")
    return model.eval()


def save_beats_checkpoint(
    model: BeatsBackbone, path: str | os.PathLike, extra_cfg: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` in the official format ``{"cfg": dict, "model": state_dict}`` (atomically).

    The original ``BEATs(BEATsConfig(ckpt["cfg"]))`` loads the file; so does :func:`load`.

    Parameters
    ----------
    model : BeatsBackbone
    path : path
        Destination ``.pt`` file.
    extra_cfg : dict, optional
        Further ``cfg`` entries to store (official files carry a few keys this implementation
        does not read).

    Returns
    -------
    Path
    """
    path = Path(path)
    cfg = {**model.config.to_dict(), **(extra_cfg or {})}
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    with atomic_writer(path, "wb") as handle:
        torch.save({"cfg": cfg, "model": state}, handle)
    return path
