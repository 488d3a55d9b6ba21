"""EfficientAT MobileNetV3 (Schmid, Koutini, Widmer, ICASSP 2023) with its own log-mel front end.

The AudioSet-trained "mn" models of fschmid56/EfficientAT are MobileNetV3-large networks on
128-bin log mels of 32-kHz audio, distilled from PaSST. This module rebuilds the ``MN`` class
(``models/mn/model.py``, MLP head, channel squeeze-excitation) with the same submodule names, so
that the released state dicts (``mn04_as_mAP_432.pt`` ...) load with ``strict=True``, and the
eval-mode ``AugmentMelSTFT`` front end (see ``_efficientat_frontend``), so that
:meth:`EfficientATBackbone.logits` and :meth:`EfficientATBackbone.embed` equal the original
forward pass.

Checked against the original code on the 62 real DCASE clips (see ``docs/backbones_download.md``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sslasd._common.pointwise import is_pointwise_conv
from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.models.backbones._checkpoint import load_state_dict_file, load_strict, resolve_checkpoint
from sslasd.models.backbones._efficientat_frontend import EfficientATMel, PolyphaseUpsampler
from sslasd.models.backbones._grouped_conv import guard_grouped_convs
from sslasd.models.backbones.base import Backbone

#: MobileNetV3-large inverted residual settings before width scaling, as in the original
#: ``_mobilenet_v3_conf``: (in, kernel, expanded, out, squeeze-excitation, hard-swish, stride slot).
#: A stride slot ``i >= 0`` takes ``strides[i]`` of the config; ``-1`` means stride 1.
_BLOCKS: tuple[tuple[int, int, int, int, bool, bool, int], ...] = (
    (16, 3, 16, 16, False, False, -1),
    (16, 3, 64, 24, False, False, 0),
    (24, 3, 72, 24, False, False, -1),
    (24, 5, 72, 40, True, False, 1),
    (40, 5, 120, 40, True, False, -1),
    (40, 5, 120, 40, True, False, -1),
    (40, 3, 240, 80, False, True, 2),
    (80, 3, 200, 80, False, True, -1),
    (80, 3, 184, 80, False, True, -1),
    (80, 3, 184, 80, False, True, -1),
    (80, 3, 480, 112, True, True, -1),
    (112, 3, 672, 112, True, True, -1),
    (112, 5, 672, 160, True, True, 3),
    (160, 5, 960, 160, True, True, -1),
    (160, 5, 960, 160, True, True, -1),
)

#: Width multipliers of the released models (``mn01`` ... ``mn40``), tried when a checkpoint's
#: width has to be inferred from its tensor shapes.
KNOWN_WIDTHS = (0.1, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 2.0, 3.0, 4.0)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of ``divisor`` (TF MobileNet rule, never -10 %)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass
class EfficientATConfig:
    """Architecture and front end of an EfficientAT MobileNetV3; defaults = ``mn04_as``.

    Attributes
    ----------
    width_mult : float
        Channel width multiplier (``mn04`` = 0.4, ``mn10`` = 1.0, ``mn40`` = 4.0).
    num_classes : int
        Outputs of the MLP head (527 AudioSet classes).
    strides : tuple of 4 ints
        Strides of the four downsampling blocks (1 or 2 each).
    se_reduction : int
        Squeeze-excitation bottleneck ratio (the original ``se_r``).
    dropout : float
        Dropout of the MLP head (inactive in eval mode).
    n_mels, win_length, hop_size, n_fft, fmin, fmax
        Log-mel front end at 32 kHz (``AugmentMelSTFT`` in eval mode).
    input_sample_rate : int
        Sample rate of the waveforms given to the backbone; a divisor of 32000 (e.g. 16000 for
        DCASE audio), upsampled inside by :class:`PolyphaseUpsampler` (= ``resample_poly``).
    """

    width_mult: float = 0.4
    num_classes: int = 527
    strides: tuple[int, int, int, int] = (2, 2, 2, 2)
    se_reduction: int = 4
    dropout: float = 0.2
    n_mels: int = 128
    win_length: int = 800
    hop_size: int = 320
    n_fft: int = 1024
    fmin: float = 0.0
    fmax: float = 15000.0
    input_sample_rate: int = 32000
    model_sample_rate: int = field(default=32000, init=False)

    def __post_init__(self) -> None:
        self.strides = tuple(int(s) for s in self.strides)  # type: ignore[assignment]
        problems = []
        if self.width_mult <= 0:
            problems.append(f"width_mult={self.width_mult} (need > 0)")
        if len(self.strides) != 4 or any(s not in (1, 2) for s in self.strides):
            problems.append(f"strides={self.strides} (need 4 values, each 1 or 2)")
        if self.num_classes < 1 or self.n_mels < 4 or self.se_reduction < 1:
            problems.append(
                f"num_classes={self.num_classes}, n_mels={self.n_mels}, se_reduction={self.se_reduction}"
            )
        if self.win_length > self.n_fft or self.hop_size < 1:
            problems.append(f"win_length={self.win_length}, hop_size={self.hop_size}, n_fft={self.n_fft}")
        if self.input_sample_rate <= 0 or self.model_sample_rate % self.input_sample_rate:
            problems.append(f"input_sample_rate={self.input_sample_rate} (need a divisor of 32000)")
        if problems:
            raise ConfigError("efficientat config: bad values: " + "; ".join(problems))

    @classmethod
    def tiny(cls) -> EfficientATConfig:
        """A width-0.1, 32-mel, 10-class variant that builds and runs in milliseconds (tests, demo)."""
        return cls(width_mult=0.1, num_classes=10, n_mels=32, fmax=15000.0)

    @property
    def embed_dim(self) -> int:
        """Channels of the last feature map (= size of the pooled embedding): 384 for mn04."""
        return 6 * make_divisible(160 * self.width_mult)

    @property
    def hidden_dim(self) -> int:
        """Width of the MLP head's hidden layer: 512 for mn04."""
        return make_divisible(1280 * self.width_mult)


class EfficientATConvNormAct(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d (eps 1e-3) -> activation; keys ``0.*``, ``1.*`` as torchvision's."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        act: type[nn.Module] | None = None,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout, eps=0.001, momentum=0.01),
        ]
        if act is not None:
            layers.append(act(inplace=True))
        super().__init__(*layers)


class EfficientATSqueezeExcitation(nn.Module):
    """Channel squeeze-excitation with linear layers ``fc1``/``fc2`` (the original's ``se_dims='c'``)."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, squeeze)
        self.fc2 = nn.Linear(squeeze, channels)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        scale = hidden_states.mean(dim=(2, 3))  # [B, C]
        scale = torch.sigmoid(self.fc2(F.relu(self.fc1(scale))))
        return hidden_states * scale[:, :, None, None]


class EfficientATConcurrentSE(nn.Module):
    """Holder named like the original ``ConcurrentSEBlock`` (one channel SE: the max over one is itself)."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.conc_se_layers = nn.ModuleList(
            [EfficientATSqueezeExcitation(channels, make_divisible(channels // reduction))]
        )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.conc_se_layers[0](hidden_states)


class EfficientATInvertedResidual(nn.Module):
    """MobileNetV3 block: [1x1 expand] -> depthwise kxk -> [SE] -> 1x1 project, residual when shapes match."""

    def __init__(
        self,
        cin: int,
        kernel: int,
        expanded: int,
        cout: int,
        use_se: bool,
        hard_swish: bool,
        stride: int,
        se_r: int,
    ) -> None:
        super().__init__()
        act = nn.Hardswish if hard_swish else nn.ReLU
        layers: list[nn.Module] = []
        if expanded != cin:
            layers.append(EfficientATConvNormAct(cin, expanded, 1, act=act))
        layers.append(EfficientATConvNormAct(expanded, expanded, kernel, stride, groups=expanded, act=act))
        if use_se:
            layers.append(EfficientATConcurrentSE(expanded, se_r))
        layers.append(EfficientATConvNormAct(expanded, cout, 1))
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        output = self.block(hidden_states)
        return output + hidden_states if self.use_residual else output


class EfficientATBackbone(Backbone):
    """EfficientAT MobileNetV3 as an sslasd backbone (state-dict keys ``features.*``, ``classifier.*``).

    Parameters
    ----------
    config : EfficientATConfig
        Architecture and front end; ``EfficientATConfig()`` is ``mn04_as``.

    Attributes
    ----------
    features : nn.Sequential
        Stem conv, the 15 inverted residual blocks and the final 1x1 conv (``6 * 160 * width``
        channels).
    classifier : nn.Sequential
        Pool, flatten, Linear, Hardswish, Dropout, Linear: the AudioSet head.
    sample_rate : int
        ``config.input_sample_rate`` (32000 unless set to e.g. 16000).
    dim : int
        Channels of the last feature map, 384 for mn04.

    Example
    -------
    >>> bb = EfficientATBackbone(EfficientATConfig.tiny()).eval()
    >>> bb.extract(torch.zeros(1, 32000)).shape[-1] == bb.dim
    True
    """

    name = "efficientat"
    feature_layout = "BFT"

    def __init__(self, config: EfficientATConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EfficientATConfig()
        self.sample_rate = config.input_sample_rate
        self.dim = config.embed_dim
        self.upsample = PolyphaseUpsampler(config.model_sample_rate // config.input_sample_rate)
        self.mel = EfficientATMel(
            n_mels=config.n_mels,
            sample_rate=config.model_sample_rate,
            win_length=config.win_length,
            hop_size=config.hop_size,
            n_fft=config.n_fft,
            fmin=config.fmin,
            fmax=config.fmax,
        )
        width = config.width_mult
        first = make_divisible(16 * width)
        layers: list[nn.Module] = [EfficientATConvNormAct(1, first, 3, 2, act=nn.Hardswish)]
        for cin, kernel, expanded, cout, use_se, hard_swish, slot in _BLOCKS:
            stride = config.strides[slot] if slot >= 0 else 1
            layers.append(
                EfficientATInvertedResidual(
                    make_divisible(cin * width),
                    kernel,
                    make_divisible(expanded * width),
                    make_divisible(cout * width),
                    use_se,
                    hard_swish,
                    stride,
                    config.se_reduction,
                )
            )
        last_in = make_divisible(160 * width)
        layers.append(EfficientATConvNormAct(last_in, 6 * last_in, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        # The depthwise convolutions (one channel per group) run in float32 under CPU autocast:
        # oneDNN's bf16 grouped kernel is wrong for few channels per group (see _grouped_conv).
        guard_grouped_convs(self.features)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(start_dim=1),
            nn.Linear(6 * last_in, config.hidden_dim),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=config.dropout, inplace=True),
            nn.Linear(config.hidden_dim, config.num_classes),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        """The original initialisation: Kaiming (fan-out) convs, unit BN, N(0, 0.01) linears."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    # -- the original network, on log mels -----------------------------------------------------
    def classify_mels(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The original ``MN.forward``: log mels ``[B, 1, n_mels, T]`` -> (logits ``[B, classes]``,
        pooled embedding ``[B, dim]``). (``forward`` is :meth:`extract`, as for every backbone.)"""
        fmap = self.features(mel)  # [B, dim, F', T']
        return self.classifier(fmap), fmap.mean(dim=(2, 3))

    # -- the Backbone interface, on waveforms --------------------------------------------------
    def _check(self, waveform: torch.Tensor) -> None:
        if waveform.ndim != 2:
            raise DataError(f"waveform: shape {tuple(waveform.shape)}, expected [batch, samples]")

    def preprocess(self, waveform: torch.Tensor) -> torch.Tensor:
        """Log mels ``[B, n_mels, T]`` of ``waveform`` ``[B, N]`` at :attr:`sample_rate`, exactly as
        the original ``AugmentMelSTFT`` in eval mode computes them (after upsampling if needed)."""
        self._check(waveform)
        return self.mel(self.upsample(waveform.float()))

    def feature_map(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Last feature map ``[B, dim, F', T']`` (padded samples, True in ``padding_mask``, are zeroed)."""
        self._check(waveform)
        if padding_mask is not None:
            waveform = waveform.masked_fill(padding_mask, 0.0)
        mel = self.preprocess(waveform)
        return self.features(mel.unsqueeze(1).to(self.features[0][0].weight.dtype))

    def extract(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Frames ``[B, T', dim]``: the last feature map averaged over frequency (T' ≈ N / 10240 at
        32 kHz). Their mean over time is :meth:`embed`. Padded samples are zeroed; the frames that
        cover them are still returned (the CNN has no attention mask)."""
        return self.feature_map(waveform, padding_mask).mean(dim=2).transpose(1, 2)

    def encode(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Frames ``[B, T', dim]`` of log mels ``[B, n_mels, T]`` (``extract == encode(preprocess)``);
        ``padding_mask`` is not used: the CNN has no mask."""
        return (
            self.features(features.unsqueeze(1).to(self.features[0][0].weight.dtype))
            .mean(dim=2)
            .transpose(1, 2)
        )

    def embed(self, waveform: torch.Tensor) -> torch.Tensor:
        """The pooled embedding ``[B, dim]`` (384-d for mn04), as the original's second output."""
        return self.feature_map(waveform).mean(dim=(2, 3))

    def logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """AudioSet logits ``[B, num_classes]`` (apply a sigmoid for tag probabilities)."""
        return self.classifier(self.feature_map(waveform))

    def linear_names(self) -> list[str]:
        """The squeeze-excitation linears inside the feature network (the only ``nn.Linear`` there)."""
        return [f"features.{n}" for n, m in self.features.named_modules() if isinstance(m, nn.Linear)]

    def pointwise_conv_names(self) -> list[str]:
        """The 1 x 1 convolutions of the feature network (expansion and projection of every
        inverted residual block, and the last one): 220k of mn04's 984k weights, where the SE
        linears hold about a tenth of that."""
        return [f"features.{n}" for n, m in self.features.named_modules() if is_pointwise_conv(m)]

    def config_dict(self) -> dict[str, Any]:
        """The config as a JSON-able dict (``build("efficientat", d)`` rebuilds the architecture)."""
        data = dataclasses.asdict(self.config)
        data.pop("model_sample_rate")
        data["strides"] = list(data["strides"])
        return data


def _make_config(base: EfficientATConfig, overrides: dict[str, Any], source: str) -> EfficientATConfig:
    known = {f.name for f in dataclasses.fields(EfficientATConfig) if f.init}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown efficientat config keys {unknown}; known: {sorted(known)}")
    values = {k: v for k, v in dataclasses.asdict(base).items() if k in known}
    return EfficientATConfig(**{**values, **overrides})


def infer_width(state_dict: dict[str, Any]) -> float | None:
    """The released width whose stem and head shapes fit ``state_dict``, or None if none does."""
    try:
        stem = state_dict["features.0.0.weight"].shape[0]
        hidden, last = state_dict["classifier.2.weight"].shape
    except (KeyError, AttributeError, ValueError):
        return None
    for width in KNOWN_WIDTHS:
        cfg_stem, cfg_last, cfg_hidden = (
            make_divisible(16 * width),
            6 * make_divisible(160 * width),
            make_divisible(1280 * width),
        )
        if (cfg_stem, cfg_last, cfg_hidden) == (stem, last, hidden):
            return width
    return None


def load(
    name: str, checkpoint: str | os.PathLike | None = None, *, tiny: bool = False, **overrides: Any
) -> EfficientATBackbone:
    """Build an EfficientAT backbone, with the weights of ``checkpoint`` when given.

    Without ``width_mult``/``num_classes`` in ``overrides`` they are read off the checkpoint's
    tensor shapes (so ``mn10_as_mAP_471.pt`` needs no extra argument); front-end settings of
    variant checkpoints (``hop_5``, ``mels_64``) must be given as overrides.

    Raises
    ------
    CheckpointError
        Missing file (with the download hint) or keys/shapes that do not fit (listed).
    ConfigError
        Unknown override keys or bad values.

    Example
    -------
    >>> bb = load("efficientat", tiny=True, input_sample_rate=16000)
    >>> bb.sample_rate
    16000
    """
    base = EfficientATConfig.tiny() if tiny else EfficientATConfig()
    if checkpoint is None:
        return EfficientATBackbone(_make_config(base, overrides, "load_backbone")).eval()
    path = resolve_checkpoint(checkpoint)
    state_dict = load_state_dict_file(path)
    inferred: dict[str, Any] = {}
    width = infer_width(state_dict)
    if width is not None and "width_mult" not in overrides:
        inferred["width_mult"] = width
    head = state_dict.get("classifier.5.weight")
    if isinstance(head, torch.Tensor) and "num_classes" not in overrides:
        inferred["num_classes"] = head.shape[0]
    model = EfficientATBackbone(_make_config(base, {**inferred, **overrides}, str(path)))
    try:
        load_strict(model, state_dict, f"checkpoint {path}")
    except CheckpointError as exc:
        raise CheckpointError(f"{exc} (efficientat config: {model.config_dict()})") from exc
    return model.eval()


def build(name: str, config: dict[str, Any]) -> EfficientATBackbone:
    """Rebuild the architecture of :meth:`EfficientATBackbone.config_dict` with random weights."""
    return EfficientATBackbone(_make_config(EfficientATConfig(), dict(config), "efficientat config")).eval()
