"""The two-view contrastive form in the training system: both views carry their clip's labels and
pseudo-label, the projection head trains and is checkpointed, and scoring never depends on it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sslasd.data.clip import Clip
from sslasd.errors import CheckpointError
from sslasd.models.backbones import load_backbone
from sslasd.models.heads import DualLevelContrastiveLoss, TwoViewContrastiveLoss
from sslasd.pipeline.build import build_system
from sslasd.pipeline.config import load_config
from sslasd.training.checkpoint import load_trainable_state, trainable_state
from sslasd.training.labels import LabelVocabulary

CLIPS = [
    Clip(f"{m}/train/x{i}.wav", 2024, m, "00", "source", "train", "normal", attrs, not attrs)
    for i, (m, attrs) in enumerate(
        [("fan", {"vel": "8"}), ("fan", {"vel": "6"}), ("fan", {"vel": "8"}), ("slider", {}), ("slider", {})]
    )
]
SMALL = ["head.emb_dim=8", "vq.n_codes=2", "contrastive.projection_hidden=16", "contrastive.projection_dim=4"]


def _system(form: str, *extra: str, seed: int = 0):
    cfg = load_config("tiny", [*SMALL, f"contrastive.form={form}", *extra])
    vocab = LabelVocabulary.build(CLIPS, vq=cfg.vq.enabled, n_codes=2)
    torch.manual_seed(seed)
    return build_system(cfg, vocab, load_backbone("beats", tiny=True)), vocab


def _batch(vocab: LabelVocabulary) -> dict[str, torch.Tensor]:
    enc = {k: torch.as_tensor(v) for k, v in vocab.encode(CLIPS).items()}
    return {"wave": torch.randn(len(CLIPS), 16000, generator=torch.Generator().manual_seed(1)), **enc}


def test_labels_form_is_the_default_and_has_no_projection_head() -> None:
    assert load_config("tiny").contrastive.form == "labels"
    system, _ = _system("labels")
    assert isinstance(system.contrastive, DualLevelContrastiveLoss) and not system.views
    assert not any("projection" in name for name in system.state_dict())


def test_views_step_reports_both_levels_and_trains_the_projection_head() -> None:
    system, vocab = _system("views")
    assert isinstance(system.contrastive, TwoViewContrastiveLoss)
    out = system.train().training_step(_batch(vocab), 0)
    assert {"loss", "loss_margin", "loss_contrastive", "loss_instance", "loss_class", "loss_vq"} <= set(out)
    torch.testing.assert_close(out["loss_contrastive"], out["loss_instance"] + out["loss_class"])
    expected = out["loss_margin"] + 0.5 * out["loss_contrastive"] + 0.1 * out["loss_vq"]
    torch.testing.assert_close(out["loss"].detach(), expected)
    out["loss"].backward()
    head = system.contrastive.projection
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert system.classifier.weight.grad is not None


def test_both_views_share_one_pseudo_label_from_their_mean() -> None:
    """VQ sees one embedding per clip, the normalised mean of its two views: the codebook's EMA
    counts each clip once and both views of a clip get the same class."""
    system, vocab = _system("views")
    seen: dict[str, torch.Tensor] = {}
    system.embedder.register_forward_hook(lambda m, i, o: seen.__setitem__("emb", o.detach()))
    forward = system.vq.forward

    def recording(emb: torch.Tensor, groups: torch.Tensor):
        seen["vq"] = emb.detach()
        return forward(emb, groups)

    system.vq.forward = recording
    system.train().training_step(_batch(vocab), 0)
    n = len(CLIPS)
    assert seen["emb"].shape[0] == 2 * n and seen["vq"].shape[0] == n
    torch.testing.assert_close(seen["vq"], F.normalize(seen["emb"].reshape(2, n, -1).mean(dim=0), dim=-1))


@pytest.mark.parametrize("lam", [0.3, 0.8])
def test_mixup_partners_follow_both_views(lam: float) -> None:
    system, vocab = _system("views", "vq.enabled=false")
    seen: dict[str, torch.Tensor] = {}
    system.embedder.register_forward_hook(lambda m, i, o: seen.__setitem__("emb", o))
    batch = _batch(vocab) | {"mix_lambda": torch.tensor(lam), "mix_index": torch.tensor([4, 3, 2, 1, 0])}
    out = system.train().training_step(batch, 0)
    classes = batch["target"]
    rows, partners = classes.repeat(2), classes[batch["mix_index"]].repeat(2)
    with torch.no_grad():
        emb = seen["emb"]
        expected = lam * F.cross_entropy(system.classifier(emb, rows), rows) + (1 - lam) * F.cross_entropy(
            system.classifier(emb, partners), partners
        )
    torch.testing.assert_close(out["loss_margin"], expected)


def test_scoring_embeddings_do_not_depend_on_the_projection_head() -> None:
    """Same seed: the embedder of a views system equals that of a labels system (the head is built
    after it, outside it), and changing the head changes no scoring embedding."""
    views, _ = _system("views")
    labels, _ = _system("labels")
    assert not any("projection" in name for name in views.embedder.state_dict())
    wave, machines = torch.randn(3, 16000), torch.tensor([0, 1, 0])
    with torch.no_grad():
        before = views.eval().embedder(wave, machines)
        torch.testing.assert_close(before, labels.eval().embedder(wave, machines))
        for p in views.contrastive.projection.parameters():
            p.add_(torch.randn_like(p))
        torch.testing.assert_close(views.embedder(wave, machines), before)


def test_the_projection_head_is_checkpointed_and_resumed() -> None:
    trained, vocab = _system("views", seed=0)
    out = trained.train().training_step(_batch(vocab), 0)
    out["loss"].backward()
    with torch.no_grad():
        for p in trained.contrastive.projection.parameters():
            p.sub_(0.1 * p.grad)
    state = trainable_state(trained)
    assert {"contrastive.projection.fc1.weight", "contrastive.projection.fc2.bias"} <= set(state)
    fresh, _ = _system("views", seed=1)
    load_trainable_state(fresh, state, source="memory")
    for (name, p), q in zip(trained.named_parameters(), fresh.parameters()):
        assert torch.equal(p, q), name
    labels_form, _ = _system("labels")
    with pytest.raises(CheckpointError, match="projection"):
        load_trainable_state(labels_form, state, source="memory")


def test_clips_without_a_section_stay_out_of_the_class_level() -> None:
    """Noise-class clips (section -1) are left out of the class level, as the label form leaves them out."""
    system, vocab = _system("views", "vq.enabled=false")
    seen: dict[str, torch.Tensor] = {}
    forward = system.contrastive.forward

    def recording(emb: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        seen["labels"] = labels
        return forward(emb, labels)

    system.contrastive.forward = recording
    batch = _batch(vocab)
    batch["section"] = torch.tensor([0, 0, -1, 1, 1])
    system.train().training_step(batch, 0)
    assert seen["labels"].tolist() == [*batch["target"][:2].tolist(), -1, *batch["target"][3:].tolist()]
