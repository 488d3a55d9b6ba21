"""The training system: loss parts, VQ classes, checkpointed buffers, frozen normalisation statistics."""

from __future__ import annotations

import pytest
import torch

from sslasd.data.clip import Clip
from sslasd.models.backbones import load_backbone
from sslasd.pipeline.build import build_system
from sslasd.pipeline.config import load_config
from sslasd.training.checkpoint import load_checkpoint, save_checkpoint
from sslasd.training.labels import LabelVocabulary

CLIPS = [
    Clip(f"{m}/train/x{i}.wav", 2024, m, "00", "source", "train", "normal", attrs, not attrs)
    for i, (m, attrs) in enumerate(
        [("fan", {"vel": "8"}), ("fan", {"vel": "6"}), ("fan", {"vel": "8"}), ("slider", {}), ("slider", {})]
    )
]


def _system(name: str, mode: str, *extra: str):
    cfg = load_config(
        "tiny", [f"backbone.name={name}", f"lora.mode={mode}", "head.emb_dim=8", "vq.n_codes=2", *extra]
    )
    vocab = LabelVocabulary.build(CLIPS, vq=True, n_codes=2)
    return build_system(cfg, vocab, load_backbone(name, tiny=True)), vocab


@pytest.mark.parametrize(
    ("name", "mode"), [("efficientat", "full"), ("efficientat", "fc_lora"), ("beats", "full")]
)
def test_checkpoint_buffers_are_persistent_state(name: str, mode: str) -> None:
    system, _ = _system(name, mode)
    buffers = system.checkpoint_buffers()
    assert set(buffers) <= set(system.state_dict())
    backbone_stats = [b for b in buffers if b.startswith("embedder.backbone.")]
    has_norm_stats = any("running_mean" in n for n, _ in system.embedder.backbone.named_buffers())
    assert bool(backbone_stats) == (mode == "full" and has_norm_stats)


def test_frozen_backbone_keeps_its_batchnorm_statistics() -> None:
    system, _ = _system("efficientat", "fc_lora")
    before = {n: b.clone() for n, b in system.embedder.backbone.named_buffers() if "running_mean" in n}
    system.train()
    with torch.no_grad():
        system.embedder(torch.randn(2, 32000))
    after = dict(system.embedder.backbone.named_buffers())
    assert before and all(torch.equal(v, after[n]) for n, v in before.items())


def test_training_step_reports_every_loss_part() -> None:
    torch.manual_seed(0)
    system, vocab = _system("beats", "full")
    enc = {k: torch.as_tensor(v) for k, v in vocab.encode(CLIPS).items()}
    batch = {"wave": torch.randn(len(CLIPS), 16000), **enc}
    out = system.train().training_step(batch, 0)
    assert {"loss", "loss_margin", "loss_contrastive", "loss_vq"} <= set(out)
    expected = out["loss_margin"] + 0.5 * out["loss_contrastive"] + 0.1 * out["loss_vq"]
    torch.testing.assert_close(out["loss"].detach(), expected)
    out["loss"].backward()
    assert system.classifier.weight.grad is not None


def test_each_epoch_re_clusters_the_codebooks_and_moves_their_classes() -> None:
    """A full pass seeds the codebooks from every clip, not one batch; each code's classifier rows
    follow it; on a second pass over the same separable clips nothing churns."""
    torch.manual_seed(0)
    system, _ = _system("efficientat", "full")
    centres = torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)
    emb = torch.cat([centres[0] + 0.05 * torch.randn(10, 8), centres[1] + 0.05 * torch.randn(10, 8)])
    groups = torch.zeros(20, dtype=torch.long)  # slider/00: the one VQ group
    system.set_vq_pass(lambda: (emb, groups))
    system.on_epoch_start(0)
    labels = system.pseudo_labels(emb, groups)
    assert len(set(labels[:10].tolist())) == 1 and labels[:10].tolist() != labels[10:].tolist()
    offset, k = int(system.vq_offsets[0]), system.classifier.subcenters
    for code in (0, 1):
        rows = system.classifier.weight[(offset + code) * k : (offset + code + 1) * k]
        torch.testing.assert_close(rows, system.vq.codebook[0, code].expand_as(rows))
    system.on_epoch_start(1)
    assert system.vq_history == [
        {"epoch": 0, "churn": None, "moved_codes": 2, "restarts": 0},
        {"epoch": 1, "churn": 0.0, "moved_codes": 0, "restarts": 0},
    ]
    assert torch.equal(system.pseudo_labels(emb, groups), labels)


def test_a_step_schedule_re_clusters_every_n_steps_and_kmeans_codes_do_not_drift() -> None:
    """``vq.refresh_every: 5``: seeded before step 0, then re-clustered at steps 5 and 10 and not at
    the next epoch's start; with ``vq.update: kmeans`` training steps leave the codes alone."""
    torch.manual_seed(0)
    cfg = load_config(
        "tiny",
        ["head.emb_dim=8", "vq.n_codes=2", "vq.refresh_every=5", "vq.update=kmeans", "lora.mode=full"],
    )
    vocab = LabelVocabulary.build(CLIPS, vq=True, n_codes=2)
    system = build_system(cfg, vocab, load_backbone("efficientat", tiny=True))
    centres = torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)
    emb = torch.cat([centres[0] + 0.05 * torch.randn(10, 8), centres[1] + 0.05 * torch.randn(10, 8)])
    groups = torch.zeros(20, dtype=torch.long)
    passes = []
    system.set_vq_pass(lambda: passes.append(1) or (emb, groups))
    system.on_epoch_start(0)
    codes = system.vq.codebook.clone()
    enc = {k: torch.as_tensor(v) for k, v in vocab.encode(CLIPS).items()}
    system.train().training_step({"wave": torch.randn(len(CLIPS), 16000), **enc}, 0)
    assert torch.equal(system.vq.codebook, codes)  # kmeans: the batch did not move the codes
    for step in range(12):
        system.on_step_start(step)
        if step == 7:
            system.on_epoch_start(1)
    assert len(passes) == 3
    assert [{k: v for k, v in h.items() if k in ("epoch", "step")} for h in system.vq_history] == [
        {"epoch": 0},
        {"step": 5},
        {"step": 10},
    ]
    assert system.vq_history[-1]["churn"] == 0.0


class _RankOneOfTwo:
    """A stand-in for Fabric in the second of two processes: ``broadcast`` hands over the tensor of
    the same name in ``rank_zero`` (the system of the first process)."""

    world_size = 2

    def __init__(self, rank_zero: torch.nn.Module, mine: torch.nn.Module) -> None:
        self.theirs = dict(rank_zero.named_buffers()) | dict(rank_zero.named_parameters())
        self.names = {id(t): n for n, t in (*mine.named_buffers(), *mine.named_parameters())}

    def broadcast(self, tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
        assert src == 0
        return self.theirs[self.names[id(tensor)]].clone()


def test_under_ddp_every_process_takes_rank_zeros_clustering() -> None:
    """k-means++ draws differ between processes; the codebooks and the moved classifier rows (which
    are parameters, never re-synchronised by DDP) must be rank 0's everywhere."""
    emb = torch.nn.functional.normalize(
        torch.randn(20, 8, generator=torch.Generator().manual_seed(1)), dim=-1
    )
    groups = torch.zeros(20, dtype=torch.long)
    systems = []
    for _ in range(2):  # rank 0 and rank 1: same weights; their random draws differ below
        torch.manual_seed(0)
        system, _ = _system("efficientat", "full")
        system.set_vq_pass(lambda: (emb, groups))
        systems.append(system)
    torch.manual_seed(0)
    systems[0].on_epoch_start(0)
    torch.manual_seed(1)
    systems[1].on_epoch_start(0, _RankOneOfTwo(systems[0], systems[1]))
    assert torch.equal(systems[1].vq.codebook, systems[0].vq.codebook)
    assert torch.equal(systems[1].classifier.weight, systems[0].classifier.weight)
    assert torch.equal(systems[1].pseudo_labels(emb, groups), systems[0].pseudo_labels(emb, groups))


def test_a_restarted_code_takes_its_class_rows_along() -> None:
    """A dead code re-seeded during a training batch moves its classifier rows to the new code, so
    its class does not keep pointing at the cluster it lost."""
    torch.manual_seed(0)
    system, _ = _system("efficientat", "full", "vq.update=ema")  # only EMA codebooks restart codes
    emb = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    groups = torch.zeros(6, dtype=torch.long)
    system.vq.init_from(emb, groups)
    with torch.no_grad():
        system.vq.cluster_size[0, 1] = 0.0  # code 1 is dead: the next batch re-seeds it
    offset, k = int(system.vq_offsets[0]), system.classifier.subcenters
    rows = slice((offset + 1) * k, (offset + 2) * k)
    system.train().classes_of(emb, torch.full((6,), -1), groups)
    assert system.vq.pop_restarted() == {}  # the system took them
    torch.testing.assert_close(system.classifier.weight[rows], system.vq.codebook[0, 1].expand(k, -1))
    # and counted it: the next re-clustering's history entry says how many restarts preceded it
    assert system.vq_restarts == 1
    system.set_vq_pass(lambda: (emb, groups))
    system.on_epoch_start(1)
    system.on_epoch_start(2)
    assert [h["restarts"] for h in system.vq_history] == [1, 0]


def test_the_vq_record_goes_through_a_resume_checkpoint(tmp_path) -> None:
    """``vq_history`` and the restart count are not tensors; the engine's checkpoint carries them
    (read back with ``weights_only``), so a resumed run's record starts at step 0, not at the resume."""
    emb = torch.nn.functional.normalize(torch.randn(6, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    groups = torch.zeros(6, dtype=torch.long)
    system, _ = _system("efficientat", "full")
    system.set_vq_pass(lambda: (emb, groups))
    system.on_epoch_start(0)
    system.vq_restarts = 2  # as if two dead codes had been re-seeded during epoch 0
    system.on_epoch_start(1)
    save_checkpoint(
        tmp_path / "last.pt", {"format": "sslasd-train-checkpoint", "extras": system.checkpoint_extras()}
    )
    resumed, _ = _system("efficientat", "full")
    resumed.load_checkpoint_extras(load_checkpoint(tmp_path / "last.pt")["extras"])
    assert resumed.vq_history == system.vq_history and resumed.vq_history[0]["churn"] is None
    assert [h["restarts"] for h in resumed.vq_history] == [0, 2]
    assert resumed.vq_restarts == 2
    resumed.set_vq_pass(lambda: (emb, groups))
    resumed.on_epoch_start(2)  # a new entry counts only the restarts since the last one
    assert len(resumed.vq_history) == 3 and resumed.vq_history[-1]["restarts"] == 0
    older, _ = _system("efficientat", "full")
    older.load_checkpoint_extras({})  # a checkpoint written before the record was kept
    assert older.vq_history == [] and older.vq_restarts == 0
