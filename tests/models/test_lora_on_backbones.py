"""FC-LoRA injects into every registered backbone's linear_names() and starts as the frozen model."""

from __future__ import annotations

import pytest
import torch

from sslasd.models.adapters import inject_lora, merge_lora, set_trainable
from sslasd.models.backbones import BACKBONES, load_backbone

WITH_WEIGHTS = sorted(set(BACKBONES) - {"logmel"})  # logmel has no layers to adapt


def test_logmel_offers_no_linear_layer() -> None:
    assert load_backbone("logmel", tiny=True).linear_names() == []


@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_lora_wraps_every_listed_linear_and_starts_unchanged(name: str) -> None:
    torch.manual_seed(0)
    backbone = load_backbone(name, tiny=True).eval()
    wave = torch.randn(2, backbone.sample_rate)
    with torch.no_grad():
        before = backbone.extract(wave)
    names = backbone.linear_names()
    assert names, f"{name} lists no linear layer for LoRA"
    wrapped = inject_lora(backbone, names, rank=2, branches=2, alpha=4.0)
    assert sorted(wrapped) == sorted(names)
    set_trainable(backbone, "fc_lora")
    trainable = [n for n, p in backbone.named_parameters() if p.requires_grad]
    assert trainable and all("lora" in n for n in trainable)
    with torch.no_grad():
        torch.testing.assert_close(backbone.extract(wave), before)
    merge_lora(backbone)
    with torch.no_grad():
        torch.testing.assert_close(backbone.extract(wave), before)
