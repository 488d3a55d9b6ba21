"""The embedder on every registered backbone: encode(preprocess) == extract, adapters start as identity,
SpecAugment only in training, unit-norm embeddings, machine ids route the adapters."""

from __future__ import annotations

import pytest
import torch

from sslasd.features import SpecAugment
from sslasd.models.adapters.config import MgaConfig
from sslasd.models.backbones import BACKBONES, load_backbone
from sslasd.models.embedder import Embedder
from sslasd.models.heads.config import HeadConfig

NAMES = sorted(BACKBONES)
NO_MGA = MgaConfig(mode="none")


@pytest.mark.parametrize("name", NAMES)
def test_encode_of_preprocess_is_extract(name: str) -> None:
    torch.manual_seed(0)
    backbone = load_backbone(name, tiny=True).eval()
    wave = torch.randn(2, backbone.sample_rate)
    with torch.no_grad():
        torch.testing.assert_close(backbone.encode(backbone.preprocess(wave)), backbone.extract(wave))
    assert backbone.feature_layout in ("BTF", "BFT", "BN")


@pytest.mark.parametrize("name", NAMES)
def test_zero_initialised_adapters_do_not_change_the_embedding(name: str) -> None:
    torch.manual_seed(0)
    backbone = load_backbone(name, tiny=True).eval()
    plain = Embedder(backbone, head=HeadConfig(emb_dim=8, pooling_hidden=4), mga=NO_MGA).eval()
    adapted = Embedder(
        backbone,
        head=HeadConfig(emb_dim=8, pooling_hidden=4),
        mga=MgaConfig(mode="grouped", hidden=8),
        n_machines=3,
    )
    adapted.pooling.load_state_dict(plain.pooling.state_dict())
    adapted.head.load_state_dict(plain.head.state_dict())
    wave = torch.randn(3, backbone.sample_rate)
    ids = torch.tensor([0, 1, -1])
    with torch.no_grad():
        expected = plain(wave)
        got = adapted.eval()(wave, ids)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got.norm(dim=1), torch.ones(3))


def test_trained_adapters_route_by_machine() -> None:
    torch.manual_seed(0)
    emb = Embedder(
        load_backbone("beats", tiny=True),
        head=HeadConfig(emb_dim=8),
        mga=MgaConfig(mode="per_machine", hidden=8),
        n_machines=2,
    )
    for adapter in emb.adapters:
        for p in adapter.parameters():
            torch.nn.init.normal_(p, std=0.5)
    wave = torch.randn(1, 16000).repeat(2, 1)
    with torch.no_grad():
        out = emb.eval()(wave, torch.tensor([0, 1]))
    assert not torch.allclose(out[0], out[1], atol=1e-4)


class _Spy(torch.nn.Module):
    """Records the shapes it is called with and masks nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape))
        return x


@pytest.mark.parametrize(("name", "called"), [("beats", True), ("efficientat", True), ("wav2vec2", False)])
def test_specaugment_runs_in_training_on_time_by_frequency_features(name: str, called: bool) -> None:
    torch.manual_seed(0)
    spy = _Spy()
    backbone = load_backbone(name, tiny=True)
    emb = Embedder(backbone, head=HeadConfig(emb_dim=8), mga=NO_MGA, spec_augment=spy)
    wave = torch.randn(2, backbone.sample_rate)
    with torch.no_grad():
        emb.eval()(wave)
        assert spy.shapes == []
        emb.train()(wave)
    features = backbone.preprocess(wave)
    if not called:
        assert spy.shapes == []
    else:
        expected = features.shape if backbone.feature_layout == "BTF" else features.transpose(1, 2).shape
        assert spy.shapes == [tuple(expected)]


def test_specaugment_masks_change_the_training_embedding() -> None:
    torch.manual_seed(0)
    backbone = load_backbone(
        "beats",
        tiny=True,
        encoder_layerdrop=0.0,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        dropout_input=0.0,
    )
    head = HeadConfig(emb_dim=8, norm="layernorm")  # no batch statistics in training mode
    emb = Embedder(backbone, head=head, mga=NO_MGA)
    masked = Embedder(
        backbone,
        head=head,
        mga=NO_MGA,
        spec_augment=SpecAugment(freq_masks=2, freq_width=30, time_masks=2, time_width=30),
    )
    masked.load_state_dict(emb.state_dict())
    wave = torch.randn(2, 16000)
    with torch.no_grad():
        torch.testing.assert_close(emb.train()(wave), emb.eval()(wave))
        assert not torch.allclose(masked.train()(wave), emb.eval()(wave), atol=1e-4)
