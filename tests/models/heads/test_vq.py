"""Dynamic VQ: cluster recovery, EMA maths by hand, dead-code restarts, eval mode, state, determinism."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score

from sslasd.errors import ConfigError, DataError, NotFittedError
from sslasd.models.heads.vq import DynamicVQ


def _clusters(n_groups: int, n_clusters: int, per_cluster: int, dim: int, seed: int):
    """Unit embeddings in well-separated clusters; returns (emb, group_ids, true cluster ids)."""
    g = torch.Generator().manual_seed(seed)
    emb, groups, truth = [], [], []
    for group in range(n_groups):
        centres = F.normalize(torch.randn(n_clusters, dim, generator=g), dim=-1)
        for c in range(n_clusters):
            points = centres[c] + 0.05 * torch.randn(per_cluster, dim, generator=g)
            emb.append(F.normalize(points, dim=-1))
            groups += [group] * per_cluster
            truth += [c] * per_cluster
    return torch.cat(emb), torch.tensor(groups), torch.tensor(truth)


def _set_codebook(vq: DynamicVQ, group: int, codes: torch.Tensor, size: float = 1.0) -> None:
    with torch.no_grad():
        vq.codebook[group] = F.normalize(codes, dim=-1)
        vq.embed_sum[group] = vq.codebook[group] * size
        vq.cluster_size[group] = size
        vq.initialized[group] = True


def test_recovers_well_separated_clusters(seed: int) -> None:
    emb, groups, truth = _clusters(n_groups=2, n_clusters=4, per_cluster=25, dim=16, seed=1)
    vq = DynamicVQ(16, 4, n_groups=2)
    vq.init_from(emb, groups)
    for _ in range(5):  # a few training epochs of shuffled mini-batches: codes stay on their clusters
        for batch in torch.randperm(len(emb)).split(32):
            vq(emb[batch], groups[batch])
    labels = vq.assign(emb, groups)
    for group in (0, 1):
        rows = groups == group
        assert adjusted_rand_score(truth[rows].numpy(), labels[rows].numpy()) == 1.0


def test_ema_update_matches_manual_computation(seed: int) -> None:
    vq = DynamicVQ(3, 2, n_groups=3, decay=0.9, dead_threshold=0.0, commitment=0.25)
    codes = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    _set_codebook(vq, 0, codes)
    _set_codebook(vq, 2, codes.flip(0), size=2.0)
    untouched = {k: v.clone() for k, v in vq.state_dict().items()}
    emb = torch.tensor(
        [[2.0, 0.1, 0.0], [0.9, 0.2, 0.3], [0.1, 1.0, 0.2], [0.0, 0.0, 1.0]], requires_grad=True
    )
    groups = torch.tensor([0, 0, 0, -1])
    labels, commitment = vq(emb, groups)

    z = F.normalize(emb.detach(), dim=-1)
    expected_labels = torch.tensor([0, 0, 1, -1])
    assert torch.equal(labels, expected_labels)
    count = torch.tensor([2.0, 1.0])
    total = torch.stack([z[0] + z[1], z[2]])
    torch.testing.assert_close(vq.cluster_size[0], 0.9 * 1.0 + 0.1 * count)
    torch.testing.assert_close(vq.embed_sum[0], 0.9 * codes + 0.1 * total)
    torch.testing.assert_close(vq.codebook[0], F.normalize(0.9 * codes + 0.1 * total, dim=-1))
    manual_commitment = 0.25 * sum((z[i] - codes[expected_labels[i]]).square().sum() for i in range(3)) / 3
    torch.testing.assert_close(commitment, manual_commitment)
    for key in ("codebook", "cluster_size", "embed_sum"):  # groups absent from the batch: no decay
        torch.testing.assert_close(getattr(vq, key)[1:], untouched[key][1:])
    commitment.backward()
    assert emb.grad[:3].abs().sum() > 0 and torch.equal(emb.grad[3], torch.zeros(3))


def test_dead_code_is_restarted_from_its_group(seed: int) -> None:
    vq = DynamicVQ(3, 3, n_groups=2, decay=0.5, dead_threshold=0.3)
    # counts of 0.5: codes that have already gone a batch without clips
    _set_codebook(
        vq, 0, torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [-1.0, -1.0, -1.0]]), size=0.5
    )  # 2 faces away
    _set_codebook(vq, 1, torch.eye(3), size=0.5)
    emb = F.normalize(
        torch.tensor([[1.0, 0.1, 0.1], [0.1, 1.0, 0.1], [0.9, 0.2, 0.2], [0.0, 0.0, 1.0]]), dim=-1
    )
    groups = torch.tensor([0, 0, 0, 1])
    labels, _ = vq(emb, groups)
    assert labels[:3].tolist() == [0, 1, 0]
    restarted = vq.codebook[0, 2]
    assert min((restarted - emb[i]).abs().max() for i in range(3)) < 1e-6  # a clip of group 0, not of group 1
    assert vq.cluster_size[0, 2] == 1.0
    torch.testing.assert_close(vq.cluster_size[0, :2], torch.tensor([0.25 + 0.5 * 2, 0.25 + 0.5 * 1]))
    # group 1: codes 0 and 1 got nothing (0.25 < 0.3) and were restarted from its single clip
    torch.testing.assert_close(vq.codebook[1, 0], emb[3])
    torch.testing.assert_close(vq.codebook[1, 1], emb[3])
    assert vq.pop_restarted() == {0: [2], 1: [0, 1]} and vq.pop_restarted() == {}


def test_no_update_in_eval_mode(seed: int) -> None:
    emb, groups, _ = _clusters(n_groups=2, n_clusters=2, per_cluster=5, dim=4, seed=2)
    vq = DynamicVQ(4, 2, n_groups=2)
    vq.init_from(emb, groups)
    before = {k: v.clone() for k, v in vq.state_dict().items()}
    vq.eval()
    labels, _ = vq(emb, groups)
    assert torch.equal(labels, vq.assign(emb, groups))
    for key, value in vq.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_unseeded_group_raises_in_eval_and_is_seeded_in_training(seed: int) -> None:
    vq = DynamicVQ(4, 2, n_groups=3)
    emb = F.normalize(torch.randn(6, 4), dim=-1)
    groups = torch.tensor([0, 0, 0, 2, 2, -1])
    with pytest.raises(NotFittedError, match=r"groups \[0, 2\]"):
        vq.assign(emb, groups)
    vq.eval()
    with pytest.raises(NotFittedError):
        vq(emb, groups)
    vq.train()
    labels, _ = vq(emb, groups)
    assert vq.initialized.tolist() == [True, False, True]
    assert labels[:5].ge(0).all() and labels[5] == -1
    assert torch.allclose(vq.codebook[0].norm(dim=-1), torch.ones(2))


def test_only_unquantised_items_give_zero_loss_and_labels() -> None:
    vq = DynamicVQ(4, 2, n_groups=1)
    emb = torch.randn(3, 4, requires_grad=True)
    labels, loss = vq(emb, torch.full((3,), -1))
    assert labels.tolist() == [-1, -1, -1] and loss.item() == 0.0
    loss.backward()
    assert torch.equal(emb.grad, torch.zeros_like(emb))


def test_deterministic_given_the_seed() -> None:
    emb, groups, _ = _clusters(n_groups=2, n_clusters=3, per_cluster=10, dim=8, seed=3)
    states = []
    for _ in range(2):
        torch.manual_seed(42)
        vq = DynamicVQ(8, 5, n_groups=2, decay=0.5, dead_threshold=0.3)  # 5 codes, 3 clusters: restarts
        for batch in torch.randperm(len(emb)).split(16):
            vq(emb[batch], groups[batch])
        states.append(vq.state_dict())
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key


def test_state_dict_carries_the_codebooks(seed: int) -> None:
    emb, groups, _ = _clusters(n_groups=2, n_clusters=3, per_cluster=6, dim=8, seed=4)
    vq = DynamicVQ(8, 3, n_groups=2)
    vq.init_from(emb, groups)
    state = vq.state_dict()
    assert set(state) == {"codebook", "cluster_size", "embed_sum", "initialized"}
    assert not list(vq.parameters())
    fresh = DynamicVQ(8, 3, n_groups=2)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.assign(emb, groups), vq.assign(emb, groups))


def test_init_from_with_fewer_clips_than_codes(seed: int) -> None:
    vq = DynamicVQ(4, 5, n_groups=1)
    emb = F.normalize(torch.randn(2, 4), dim=-1)
    vq.init_from(emb, torch.zeros(2, dtype=torch.long))
    codes = vq.codebook[0]
    for code in codes:  # every code is one of the clips
        assert min((code - e).abs().max() for e in emb) < 1e-6
    assert {tuple(c.tolist()) for c in codes} == {tuple(e.tolist()) for e in emb}


@pytest.mark.parametrize(
    ("emb", "groups", "match"),
    [
        (torch.randn(3, 5), torch.zeros(3, dtype=torch.long), "embeddings"),
        (torch.randn(3, 4), torch.zeros(2, dtype=torch.long), "group_ids"),
        (torch.randn(3, 4), torch.tensor([0, 2, 1]), r"got 2, expected -1 or 0 \.\. 1"),
    ],
)
def test_bad_inputs(emb: torch.Tensor, groups: torch.Tensor, match: str) -> None:
    with pytest.raises(DataError, match=match):
        DynamicVQ(4, 2, n_groups=2)(emb, groups)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"decay": 1.0}, "decay"), ({"n_groups": 0}, "n_groups"), ({"commitment": -1.0}, "commitment")],
)
def test_bad_config(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DynamicVQ(4, 2, **{"n_groups": 1, **kwargs})


def test_bf16_autocast_gives_float32_state(seed: int) -> None:
    emb, groups, _ = _clusters(n_groups=1, n_clusters=3, per_cluster=8, dim=8, seed=5)
    vq = DynamicVQ(8, 3, n_groups=1)
    vq.init_from(emb, groups)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        labels, loss = vq(emb.bfloat16(), groups)
    assert loss.dtype == torch.float32 and vq.embed_sum.dtype == torch.float32
    assert torch.equal(labels, vq.assign(emb.bfloat16().float(), groups))


def test_a_code_seeded_from_a_batch_is_not_restarted_at_the_next_step(seed: int) -> None:
    """With the run's default settings, a code that misses one batch keeps its place (the old
    default dead_threshold of 1.0 restarted it at once, so pseudo-labels churned at chance level)."""
    from sslasd.pipeline.config import load_config

    cfg = load_config("tiny").vq
    vq = DynamicVQ(3, 3, n_groups=1, decay=cfg.decay, dead_threshold=cfg.dead_threshold)
    emb, groups, _ = _clusters(n_groups=1, n_clusters=3, per_cluster=4, dim=3, seed=5)
    vq(emb[[0, 4, 8]], groups[[0, 4, 8]])  # seeds the three codes from a batch of one clip each
    seeded = vq.codebook.clone()
    near_one = emb[:2]  # a batch whose clips all sit near one code
    vq(near_one, torch.zeros(2, dtype=torch.long))
    untouched = [
        k for k in range(3) if k not in vq.assign(near_one, torch.zeros(2, dtype=torch.long)).tolist()
    ]
    assert untouched and all(torch.allclose(vq.codebook[0, k], seeded[0, k], atol=1e-6) for k in untouched)


def test_a_dead_threshold_that_would_fire_on_a_seeded_code_is_refused() -> None:
    with pytest.raises(ConfigError, match="dead_threshold"):
        DynamicVQ(3, 3, n_groups=1, decay=0.99, dead_threshold=1.0)


def test_refresh_recovers_the_clusters_and_keeps_code_indices(seed: int) -> None:
    emb, groups, truth = _clusters(n_groups=2, n_clusters=3, per_cluster=20, dim=8, seed=6)
    vq = DynamicVQ(8, 3, n_groups=2)
    first = vq.refresh(emb, groups)
    assert first == {0: [0, 1, 2], 1: [0, 1, 2]}  # seeded for the first time: every code moved
    labels = vq.assign(emb, groups)
    for g in (0, 1):  # each true cluster is one code
        rows = groups == g
        pairs = set(zip(truth[rows].tolist(), labels[rows].tolist()))
        assert len(pairs) == 3 and len({p[1] for p in pairs}) == 3
    again = vq.refresh(emb, groups)  # same clusters: nothing moves, no label changes (no churn)
    assert again == {0: [], 1: []}
    assert torch.equal(vq.assign(emb, groups), labels)


def test_processes_that_sum_their_statistics_update_as_one_process_with_the_global_batch() -> None:
    """Two ranks, each with half of a batch, summing the EMA statistics through ``set_all_reduce``,
    end with the codebooks of one process that saw the whole batch (what DDP training relies on)."""
    torch.manual_seed(0)
    start = DynamicVQ(8, 3, n_groups=2, decay=0.9)
    start.init_from(F.normalize(torch.randn(60, 8), dim=-1), torch.arange(60) % 2)
    emb = F.normalize(torch.randn(32, 8), dim=-1)
    groups = torch.tensor([0, 1, -1, 0] * 8)
    groups[:16] = 0  # rank 0's half holds only group 0: it must still update group 1 like rank 1
    whole, rank0, rank1 = (copy.deepcopy(start) for _ in range(3))
    whole(emb, groups)
    sent: list[torch.Tensor] = []
    rank1.set_all_reduce(lambda t: sent.append(t.clone()) or t)  # what rank 1 contributes
    rank1(emb[16:], groups[16:])
    rank0.set_all_reduce(lambda t: t + sent.pop(0))
    rank0(emb[:16], groups[:16])
    for name in ("codebook", "cluster_size", "embed_sum"):
        torch.testing.assert_close(getattr(rank0, name), getattr(whole, name), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(rank1.cluster_size, whole.cluster_size)  # alone, a half is not the batch


def _overlapping(seed: int, k: int = 5, per: int = 30, dim: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """One group of ``k`` overlapping clusters (where one k-means start often lands badly)."""
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(k, dim, generator=g), dim=-1)
    emb = torch.cat([F.normalize(c + 0.35 * torch.randn(per, dim, generator=g), dim=-1) for c in centres])
    return emb, torch.arange(k).repeat_interleave(per)


def test_restarts_cluster_better_and_relabel_less_between_refreshes() -> None:
    """Re-clustering the same embeddings twice: with one start per clustering about a quarter of the
    clips change code (label churn with nothing changed); with restarts (the current codes among the
    starts) almost none, and the clusters match the truth better."""
    result = {}
    for restarts in (1, 8):
        ari, churn = [], []
        for seed in range(10):
            torch.manual_seed(seed)
            emb, truth = _overlapping(seed)
            groups = torch.zeros(len(emb), dtype=torch.long)
            vq = DynamicVQ(8, 5, n_groups=1, restarts=restarts)
            vq.refresh(emb, groups)
            first = vq.assign(emb, groups)
            vq.refresh(emb, groups)
            ari.append(adjusted_rand_score(truth.numpy(), first.numpy()))
            churn.append(float((vq.assign(emb, groups) != first).float().mean()))
        result[restarts] = (sum(ari) / 10, sum(churn) / 10)
    assert result[1][1] > 0.1 and result[8][1] < result[1][1] / 3
    assert result[8][0] > result[1][0] + 0.05
    with pytest.raises(ConfigError, match="restarts"):
        DynamicVQ(8, 5, n_groups=1, restarts=0)


def test_the_ema_statistics_of_a_clustering_are_those_of_the_clustering_kept() -> None:
    """With several k-means starts the EMA sums must be seeded from the best one, else the first
    training batch moves every code to the last start's centres."""
    torch.manual_seed(0)
    emb, _ = _overlapping(3)
    groups = torch.zeros(len(emb), dtype=torch.long)
    vq = DynamicVQ(8, 5, n_groups=1, restarts=8)
    vq.refresh(emb, groups)
    torch.testing.assert_close(F.normalize(vq.embed_sum[0], dim=-1), vq.codebook[0])
    before = vq.codebook[0].clone()
    vq.train()(emb[:8], groups[:8])  # one batch: decay 0.99 moves a code by a percent at most
    assert float((before * vq.codebook[0]).sum(dim=-1).min()) > 0.99


def test_without_ema_only_a_clustering_moves_the_codes(seed: int) -> None:
    """``ema=False``: training batches leave the codes at the last clustering's centres (no drift,
    no restarts), while labels still follow the embeddings to their nearest code."""
    emb, groups, _ = _clusters(n_groups=1, n_clusters=3, per_cluster=20, dim=8, seed=2)
    vq = DynamicVQ(8, 3, n_groups=1, ema=False, dead_threshold=0.0)
    vq.refresh(emb, groups)
    codes = vq.codebook.clone()
    labels = vq.assign(emb, groups)
    shifted = F.normalize(emb + 0.5 * F.normalize(torch.randn(8), dim=-1), dim=-1)
    for _ in range(50):
        got, _ = vq.train()(shifted[:6], groups[:6])
    assert torch.equal(vq.codebook, codes)
    assert torch.equal(got, vq.assign(shifted[:6], groups[:6]))
    vq.refresh(shifted, groups)  # the clustering follows the shifted clips; the clusters persist
    assert not torch.equal(vq.codebook, codes)
    assert torch.equal(vq.assign(shifted, groups), labels)
    assert "ema=False" in repr(vq)
