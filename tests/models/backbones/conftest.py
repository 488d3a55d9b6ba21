"""Fixtures of the backbone tests: tiny random models saved in each family's official format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def efficientat_tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny EfficientAT (width 0.1, 32 mels, 10 classes) saved as the original code saves it:
    a plain ``state_dict`` written by ``torch.save``, with BatchNorm statistics made non-trivial."""
    from sslasd.models.backbones.efficientat import EfficientATBackbone, EfficientATConfig

    torch.manual_seed(0)
    model = EfficientATBackbone(EfficientATConfig.tiny())
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.bias.data.uniform_(-0.2, 0.2)
    path = tmp_path_factory.mktemp("efficientat") / "mn01_tiny.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def hf_tiny_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random model per speech family, saved by transformers' own ``save_pretrained``
    (``config.json`` + ``model.safetensors``), the layout of the Hugging Face hub."""
    from sslasd.models.backbones.hf_speech import FAMILIES, load

    root = tmp_path_factory.mktemp("hf_speech")
    folders = {}
    for name in FAMILIES:
        torch.manual_seed(0)
        folders[name] = root / name
        load(name, tiny=True).model.save_pretrained(folders[name])
    return folders


def _perturbed(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Add small noise to every weight so that zero-initialised biases and unit gains are exercised."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(model.parameters()):
            tensor.add_(0.05 * torch.randn(tensor.shape, generator=generator))
    return model


@pytest.fixture(scope="session")
def beats_tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random BEATs saved in the official ``{"cfg", "model"}`` format: ``pretrained`` and
    ``finetuned`` (with a 5-class ``predictor``)."""
    from sslasd.models.backbones.beats import BeatsBackbone, BeatsConfig, save_beats_checkpoint

    root = tmp_path_factory.mktemp("beats")
    paths = {}
    for seed, (kind, finetuned) in enumerate((("pretrained", False), ("finetuned", True))):
        torch.manual_seed(seed)
        model = _perturbed(BeatsBackbone(BeatsConfig.tiny(finetuned_model=finetuned)), seed)
        paths[kind] = save_beats_checkpoint(model, root / f"beats_tiny_{kind}.pt")
    return paths


@pytest.fixture(scope="session")
def eat_tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random EAT saved twice: ``fairseq`` (``.pt``) and ``hf`` (folder with
    ``config.json`` + ``model.safetensors``, the Hugging Face port's layout)."""
    from sslasd.models.backbones.eat import EatBackbone, EatConfig, save_eat_checkpoint

    root = tmp_path_factory.mktemp("eat")
    torch.manual_seed(0)
    model = _perturbed(EatBackbone(EatConfig.tiny()), 0)
    return {
        "fairseq": save_eat_checkpoint(model, root / "eat_tiny.pt", format="fairseq"),
        "hf": save_eat_checkpoint(model, root / "eat_tiny_hf", format="hf"),
    }


@pytest.fixture(scope="session")
def whisper_tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny random Whisper encoder saved in the three formats sslasd reads: ``hf`` (folder),
    ``openai`` (``.pt``) and ``ctranslate2`` (``model.bin``), all float32."""
    from sslasd.models.backbones.whisper import WhisperBackbone, WhisperConfig, save_whisper_checkpoint

    root = tmp_path_factory.mktemp("whisper")
    torch.manual_seed(0)
    model = _perturbed(WhisperBackbone(WhisperConfig.tiny()), 0)
    return {
        "hf": save_whisper_checkpoint(model, root / "whisper_tiny_hf", "hf"),
        "openai": save_whisper_checkpoint(model, root / "whisper_tiny.pt", "openai"),
        "ctranslate2": save_whisper_checkpoint(model, root / "model.bin", "ctranslate2"),
    }
