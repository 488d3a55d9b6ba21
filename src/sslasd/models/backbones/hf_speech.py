"""Speech SSL backbones through ``transformers``: wav2vec 2.0, HuBERT, WavLM, data2vec-audio.

A model is read from a local folder in the Hugging Face layout (``config.json`` plus
``model.safetensors``, ``pytorch_model.bin`` or a sharded ``*.index.json``, and optionally
``preprocessor_config.json``), never from the network. Weights are read by sslasd's own safe
reader (safetensors or ``torch.load(weights_only=True)``) and loaded strictly, after two
conversions that the hub's older files need:

* a base-model prefix (``wav2vec2.``, ``hubert.``, ``wavlm.``, ``data2vec_audio.``) written by
  the task models (``ForCTC``, ``ForPreTraining``) is stripped and their heads are dropped;
* the weight-norm names of the positional convolution written by older PyTorch
  (``weight_g``/``weight_v``) are mapped to the parametrization names of current PyTorch
  (:data:`RENAMES`).

``transformers`` is imported inside the functions only, so that ``import sslasd`` stays cheap.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from sslasd._common import get_logger
from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.models.backbones._checkpoint import (
    hf_weight_files,
    load_state_dict_file,
    load_strict,
    resolve_checkpoint,
)
from sslasd.models.backbones._grouped_conv import guard_grouped_convs
from sslasd.models.backbones.base import Backbone

if TYPE_CHECKING:
    from transformers import PreTrainedModel

_log = get_logger(__name__)

#: registry name -> (transformers config class, model class, ``model_type`` in config.json).
FAMILIES: dict[str, tuple[str, str, str]] = {
    "wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model", "wav2vec2"),
    "hubert": ("HubertConfig", "HubertModel", "hubert"),
    "wavlm": ("WavLMConfig", "WavLMModel", "wavlm"),
    "data2vec": ("Data2VecAudioConfig", "Data2VecAudioModel", "data2vec-audio"),
}

#: Old -> new key suffixes (weight norm of the positional convolution, PyTorch < 2.1 naming).
RENAMES: dict[str, str] = {
    ".weight_g": ".parametrizations.weight.original0",
    ".weight_v": ".parametrizations.weight.original1",
}

#: Leaf names of the projections inside an encoder layer that LoRA may wrap.
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj", "intermediate_dense", "output_dense")

#: A few-thousand-parameter config of every family (same 320-sample hop as the real models).
_TINY: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": (16, 16, 16),
    "conv_kernel": (10, 8, 8),
    "conv_stride": (5, 8, 8),
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
    "feat_extract_norm": "layer",
    "do_stable_layer_norm": True,
}
_TINY_FAMILY: dict[str, dict[str, Any]] = {
    "wav2vec2": {},
    "hubert": {},
    "wavlm": {"num_buckets": 16, "max_bucket_distance": 32},
    "data2vec": {"num_conv_pos_embeddings": 2, "conv_pos_kernel_size": 5},
}
#: Our own keys beside the transformers config: the feature extractor's two switches.
_EXTRACTOR_KEYS = ("do_normalize", "return_attention_mask")


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise ConfigError(
            "the speech backbones (wav2vec2, hubert, wavlm, data2vec) need transformers: "
            "pip install 'sslasd[hf]'"
        ) from exc
    return transformers


def _family(name: str) -> tuple[type, type, str]:
    if name not in FAMILIES:
        raise ConfigError(f"hf_speech: unknown backbone {name!r}; known: {', '.join(FAMILIES)}")
    config_cls, model_cls, model_type = FAMILIES[name]
    module = _transformers()
    return getattr(module, config_cls), getattr(module, model_cls), model_type


class HFSpeechBackbone(Backbone):
    """A ``transformers`` speech encoder behind the sslasd :class:`Backbone` interface.

    Parameters
    ----------
    name : str
        Registry name (``"wav2vec2"``, ``"hubert"``, ``"wavlm"``, ``"data2vec"``).
    model : transformers.PreTrainedModel
        The base model (``Wav2Vec2Model`` ...), held as :attr:`model`.
    do_normalize : bool
        Normalise each waveform to zero mean, unit variance (feature extractor's switch; True for
        wav2vec 2.0 and data2vec, False for HuBERT-base and WavLM).
    return_attention_mask : bool
        Pass an attention mask for padded batches (True for models whose feature encoder uses
        layer norm; the group-norm base models were trained on zero padding without one).

    Attributes
    ----------
    sample_rate : int
        16000.
    dim : int
        ``config.hidden_size`` (768 base, 1024 large).

    Example
    -------
    >>> bb = load("wav2vec2", tiny=True)
    >>> bb.extract(torch.zeros(2, 16000)).shape
    torch.Size([2, 49, 32])
    """

    sample_rate = 16000
    feature_layout = "BN"

    def __init__(
        self, name: str, model: PreTrainedModel, do_normalize: bool, return_attention_mask: bool
    ) -> None:
        super().__init__()
        self.name = name
        self.model = model
        self.do_normalize = do_normalize
        self.return_attention_mask = return_attention_mask
        self.dim = model.config.hidden_size

    def preprocess(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The model input: each waveform normalised to zero mean and unit variance over its
        unpadded samples (``(x - mean) / sqrt(var + 1e-7)``, padded samples set to 0) when
        ``do_normalize``, as ``Wav2Vec2FeatureExtractor`` does clip by clip; else unchanged."""
        if waveform.ndim != 2:
            raise DataError(f"waveform: shape {tuple(waveform.shape)}, expected [batch, samples]")
        waveform = waveform.float()
        valid = torch.ones_like(waveform) if padding_mask is None else (~padding_mask).to(waveform.dtype)
        if not self.do_normalize:
            return waveform * valid
        count = valid.sum(dim=1, keepdim=True).clamp_min(1.0)
        mean = (waveform * valid).sum(dim=1, keepdim=True) / count
        var = ((waveform - mean) ** 2 * valid).sum(dim=1, keepdim=True) / count
        return (waveform - mean) / torch.sqrt(var + 1e-7) * valid

    def extract(self, waveform: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Last hidden state ``[B, T, dim]`` (T = frames of 20 ms). With ``padding_mask`` (True =
        padded) the padded samples are zeroed and, if :attr:`return_attention_mask`, masked out
        of attention, so a clip's valid frames do not depend on the rest of the batch."""
        return self.encode(self.preprocess(waveform, padding_mask), padding_mask)

    def encode(self, features: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The transformers model on the normalised waveform (``extract == encode(preprocess)``)."""
        attention_mask = None
        if padding_mask is not None and self.return_attention_mask:
            attention_mask = (~padding_mask).long()
        return self.model(features, attention_mask=attention_mask).last_hidden_state

    def blocks(self) -> list[nn.Module]:
        """The transformer layers ``model.encoder.layers``. In transformers 5 a wav2vec 2.0,
        HuBERT or data2vec layer returns the hidden states ``[B, T, dim]`` as a tensor, a WavLM
        layer the tuple ``(hidden_states, position_bias)``; older versions return tuples whose
        first element is the hidden states. A hook should therefore edit element 0 of a tuple."""
        return list(self.model.encoder.layers)

    def linear_names(self) -> list[str]:
        """Attention and feed-forward projections of every encoder layer (``q_proj``, ``k_proj``,
        ``v_proj``, ``out_proj``, ``intermediate_dense``, ``output_dense``)."""
        return [
            name
            for name, module in self.named_modules()
            if isinstance(module, nn.Linear)
            and ".encoder.layers." in name
            and name.rsplit(".", 1)[-1] in PROJECTIONS
        ]

    def config_dict(self) -> dict[str, Any]:
        """``{"hf_config": config.to_dict(), "do_normalize": ..., "return_attention_mask": ...}``."""
        return {
            "hf_config": self.model.config.to_dict(),
            "do_normalize": self.do_normalize,
            "return_attention_mask": self.return_attention_mask,
        }


def _split_overrides(overrides: dict[str, Any], config: Any, source: str) -> dict[str, Any]:
    """Apply the transformers-config overrides to ``config``; return our extractor keys."""
    extractor = {k: bool(overrides[k]) for k in _EXTRACTOR_KEYS if k in overrides}
    unknown = sorted(k for k in overrides if k not in _EXTRACTOR_KEYS and not hasattr(config, k))
    if unknown:
        raise ConfigError(f"{source}: unknown keys {unknown} for a {config.model_type} config")
    for key, value in overrides.items():
        if key not in _EXTRACTOR_KEYS:
            setattr(config, key, value)
    return extractor


def _build_model(name: str, config: Any, extractor: dict[str, Any]) -> HFSpeechBackbone:
    _, model_cls, _ = _family(name)
    model = model_cls(config)
    # The positional convolution (``encoder.pos_conv_embed.conv``, data2vec's
    # ``pos_conv_embed.layers.N.conv``) is grouped: float32 under CPU autocast, because oneDNN's
    # bf16 grouped kernel is wrong for few channels per group (see _grouped_conv). Only the
    # instances' forward changes, so the official checkpoints still load strictly.
    guard_grouped_convs(model)
    do_normalize = extractor.get("do_normalize", True)
    return_mask = extractor.get(
        "return_attention_mask", getattr(config, "feat_extract_norm", "layer") == "layer"
    )
    return HFSpeechBackbone(name, model, do_normalize, return_mask).eval()


def convert_state_dict(state_dict: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Strip the task model's ``prefix.`` (dropping its heads) and rename old weight-norm keys.

    Example
    -------
    >>> sd = {"wav2vec2.encoder.pos_conv_embed.conv.weight_g": 1, "lm_head.weight": 2}
    >>> convert_state_dict(sd, "wav2vec2")
    {'encoder.pos_conv_embed.conv.parametrizations.weight.original0': 1}
    """
    if any(key.startswith(prefix + ".") for key in state_dict):
        dropped = sorted(key for key in state_dict if not key.startswith(prefix + "."))
        if dropped:
            _log.info("dropping %d head tensors outside %r: %s", len(dropped), prefix, dropped[:5])
        state_dict = {
            key[len(prefix) + 1 :]: v for key, v in state_dict.items() if key.startswith(prefix + ".")
        }
    converted = {}
    for key, value in state_dict.items():
        for old, new in RENAMES.items():
            if key.endswith(old):
                key = key[: -len(old)] + new
        converted[key] = value
    return converted


def load(
    name: str, checkpoint: str | os.PathLike | None = None, *, tiny: bool = False, **overrides: Any
) -> HFSpeechBackbone:
    """Load speech backbone ``name`` from a local Hugging Face model folder, or random weights.

    Parameters
    ----------
    name : str
        ``"wav2vec2"``, ``"hubert"``, ``"wavlm"`` or ``"data2vec"``.
    checkpoint : path or str, optional
        A model folder (``config.json`` + weights), or its name in the download cache
        (``sslasd download wavlm-base-plus`` puts it at ``SSLASD_HOME/checkpoints/wavlm-base-plus``).
        None builds random weights from the family's default (base-size) or tiny config.
    tiny : bool
        With no checkpoint: a 2-layer, 32-wide config for tests.
    **overrides
        transformers config fields (``layerdrop=0.0``) and ``do_normalize`` /
        ``return_attention_mask`` (default: the folder's ``preprocessor_config.json``).

    Raises
    ------
    CheckpointError
        Missing folder or weights, a folder holding another model type, keys that do not fit.
    ConfigError
        Unknown override keys, transformers not installed.

    Example
    -------
    >>> bb = load("hubert", tiny=True)
    >>> len(bb.blocks()), bb.dim
    (2, 32)
    """
    config_cls, _, model_type = _family(name)
    if checkpoint is None:
        config = config_cls(**{**_TINY, **_TINY_FAMILY[name]}) if tiny else config_cls()
        return _build_model(name, config, _split_overrides(overrides, config, "load_backbone"))
    folder = resolve_checkpoint(checkpoint)
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{folder}: not a Hugging Face model folder (no config.json)")
    raw = json.loads((folder / "config.json").read_text())
    if raw.get("model_type") != model_type:
        raise CheckpointError(
            f"{folder}/config.json: model_type {raw.get('model_type')!r}, "
            f"but backbone {name!r} needs {model_type!r}"
        )
    config = config_cls.from_dict(raw)
    extractor: dict[str, Any] = {}
    if (folder / "preprocessor_config.json").is_file():
        pre = json.loads((folder / "preprocessor_config.json").read_text())
        extractor = {k: bool(pre[k]) for k in _EXTRACTOR_KEYS if k in pre}
    extractor.update(_split_overrides(overrides, config, str(folder / "config.json")))
    backbone = _build_model(name, config, extractor)
    state_dict: dict[str, Any] = {}
    for path in hf_weight_files(folder):
        state_dict.update(load_state_dict_file(path))
    state_dict = convert_state_dict(state_dict, backbone.model.base_model_prefix)
    load_strict(backbone.model, state_dict, f"checkpoint {folder}")
    return backbone.eval()


def build(name: str, config: dict[str, Any]) -> HFSpeechBackbone:
    """Rebuild the architecture of :meth:`HFSpeechBackbone.config_dict` with random weights."""
    config_cls, _, _ = _family(name)
    if "hf_config" not in config:
        raise ConfigError(f"{name} config: missing key 'hf_config' (got keys {sorted(config)})")
    extractor = {k: bool(config[k]) for k in _EXTRACTOR_KEYS if k in config}
    return _build_model(name, config_cls.from_dict(dict(config["hf_config"])), extractor)
