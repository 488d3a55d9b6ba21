"""VQ dynamic clustering: pseudo-attributes for machines/sections whose attributes are missing.

Each unattributed machine/section (a *group*) owns a codebook of ``n_codes`` unit vectors in
embedding space. A clip's pseudo-label is the index of its nearest code by cosine similarity; in
training mode the codes follow the embeddings by exponential moving averages of the assigned
embeddings (van den Oord et al., 2017; Razavi et al., 2019), so labels are re-assigned as the
embedding space changes (dynamic), and codes that stop receiving clips are re-seeded from the
batch (dead-code restart). A commitment term pulls each embedding to its code. Follows Han et al.
(TASLP 2025); the details below are ours.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from sslasd.errors import ConfigError, DataError, NotFittedError

_INIT_MASS = 1.0  # EMA count given to a freshly seeded or restarted code


class DynamicVQ(nn.Module):
    """Per-group cosine codebooks updated by EMA, with dead-code restarts and a commitment loss.

    Parameters
    ----------
    dim : int
        Embedding size ``D``.
    n_codes : int
        ``K``, codes (pseudo-attributes) per group.
    n_groups : int
        Number of groups (unattributed machine/sections), ids ``0 .. n_groups - 1``.
    decay : float
        EMA decay in [0, 1): ``size <- decay size + (1 - decay) count``, same for the sums.
    eps : float
        Guards the normalisation of the EMA sums.
    dead_threshold : float
        A code whose EMA count (about the number of clips it receives per batch in which its
        group appears) falls under this is re-seeded from a random clip of its group in the
        batch. Seeded and restarted codes start at a count of 1, so with ``decay = 0.99`` an
        unused code is restarted after about 230 batches of its group at the default 0.1. It
        must be below ``decay`` (a count of 1 after one batch without clips), so that a code that
        was just seeded cannot be restarted at the next step.
    commitment : float
        Weight of the commitment loss.
    restarts : int
        k-means++ starts of each (re-)clustering; above 1 the current codes are one more start,
        and the clustering of the highest total cosine is kept (:meth:`refresh`).
    ema : bool
        Whether training batches move the codes (EMA updates and dead-code restarts). With
        ``False`` the codes are the centres of the last (re-)clustering and change only when
        :meth:`refresh` or :meth:`init_from` runs; labels still follow the embeddings (nearest
        code). The EMA drifts between re-clusterings: on the protocol's ``small`` runs the labels
        it left were further from the hidden modes (NMI 0.49) than a k-means of the same final
        embeddings (0.59).

    Attributes
    ----------
    codebook : buffer ``[n_groups, n_codes, D]``
        Unit-norm codes. The code is the normalised EMA sum: dividing by the EMA count first, as
        VQ-VAE's EMA does, would not change its direction.
    cluster_size : buffer ``[n_groups, n_codes]``
        EMA counts.
    embed_sum : buffer ``[n_groups, n_codes, D]``
        EMA sums of assigned (normalised) embeddings.
    initialized : buffer ``[n_groups]`` bool
        Whether a group has been seeded (by :meth:`init_from` or a first training batch).

    All state is in buffers, so ``state_dict()`` carries the codebooks. Randomness (seeding,
    restarts) uses torch's global generator: results are repeatable under ``torch.manual_seed``.
    Under DDP with ``broadcast_buffers=True`` (the default) every rank uses rank 0's codebooks;
    :meth:`set_all_reduce` makes every rank's EMA update use the statistics of the global batch,
    so N processes update the codebooks as one process would with the same global batch (without
    it they would follow rank 0's local quarter or half of each batch).

    Raises
    ------
    ConfigError
        Sizes < 1, ``decay`` outside [0, 1), negative ``eps``/``dead_threshold``/``commitment``.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> vq = DynamicVQ(8, 4, n_groups=2)
    >>> emb = F.normalize(torch.randn(16, 8), dim=-1)
    >>> groups = torch.tensor([0] * 8 + [1] * 7 + [-1])
    >>> labels, commit = vq(emb, groups)  # training mode: seeds both groups, then updates
    >>> labels[-1].item(), bool(labels[:15].ge(0).all()), commit.ndim
    (-1, True, 0)
    """

    def __init__(
        self,
        dim: int,
        n_codes: int,
        *,
        n_groups: int,
        decay: float = 0.99,
        eps: float = 1e-6,
        dead_threshold: float = 0.1,
        commitment: float = 0.25,
        restarts: int = 1,
        ema: bool = True,
    ) -> None:
        super().__init__()
        _check_config(dim, n_codes, n_groups, decay, eps, dead_threshold, commitment)
        if restarts < 1:
            raise ConfigError(f"vq restarts: got {restarts}, expected an integer >= 1")
        self.restarts = int(restarts)
        self.ema = bool(ema)
        self.dim = dim
        self.n_codes = n_codes
        self.n_groups = n_groups
        self.decay = float(decay)
        self.eps = float(eps)
        self.dead_threshold = float(dead_threshold)
        self.commitment = float(commitment)
        self.register_buffer("codebook", torch.zeros(n_groups, n_codes, dim))
        self.register_buffer("cluster_size", torch.zeros(n_groups, n_codes))
        self.register_buffer("embed_sum", torch.zeros(n_groups, n_codes, dim))
        self.register_buffer("initialized", torch.zeros(n_groups, dtype=torch.bool))
        self.all_reduce: Callable[[torch.Tensor], torch.Tensor] = _identity
        self._restarted: dict[int, list[int]] = {}  # (group -> codes) re-seeded since the last pop

    def set_all_reduce(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Sum the EMA statistics over processes with ``fn`` (the training loop passes Fabric's
        element-wise sum over all processes; the identity with one process)."""
        self.all_reduce = fn

    def forward(self, emb: torch.Tensor, group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pseudo-labels and commitment loss; in training mode also seed and update the codebooks.

        In training mode a group seen for the first time is seeded from this batch's clips of it
        by k-means++ (use :meth:`init_from` on more clips for a better start); then, with ``ema``,
        every group in the batch gets its EMA update and dead-code restarts. Groups absent from
        the batch are left untouched (their counts do not decay).

        Parameters
        ----------
        emb : Tensor
            ``[B, D]`` embeddings (normalised here).
        group_ids : Tensor
            ``[B]`` group of each item; negative (``-1``) = not vector-quantised.

        Returns
        -------
        pseudo_labels : Tensor
            ``[B]`` long, the nearest code before this batch's update; ``-1`` where the group is -1.
        commitment_loss : Tensor
            ``commitment * mean ||e - sg(code)||^2`` over the quantised items (0 when none).

        Raises
        ------
        DataError
            Bad shapes or a group id ``>= n_groups``. NotFittedError: a group without a codebook
            in evaluation mode.
        """
        with torch.autocast(device_type=emb.device.type, enabled=False):  # float32 codebook maths
            return self._forward(emb, group_ids)

    def _forward(self, emb: torch.Tensor, group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, ids = self._prepare(emb, group_ids)
        if self.training:
            with torch.no_grad():
                new = [g for g in _present(ids) if not self.initialized[g]]
                for g in new:
                    self._seed_group(g, z[ids == g].detach(), iters=0)
        labels = self.assign(emb, group_ids)
        quantised = ids >= 0
        if quantised.any():
            codes = self.codebook[ids[quantised], labels[quantised]]  # [n, D], a copy
            loss = self.commitment * (z[quantised] - codes).square().sum(dim=-1).mean()
        else:
            loss = z.sum() * 0.0
        if self.training and self.ema:
            self._ema_update(z.detach(), ids, labels)
        return labels, loss

    def pop_restarted(self) -> dict[int, list[int]]:
        """Codes re-seeded by dead-code restarts since the last call, per group (then forgotten):
        a classifier with a class per code should move those classes' rows to the new codes."""
        restarted, self._restarted = self._restarted, {}
        return restarted

    @torch.no_grad()
    def assign(self, emb: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
        """Nearest code (cosine) of each item within its group, ``[B]`` long; ``-1`` for group -1.

        Never updates anything. Raises NotFittedError for a group that has no codebook yet.
        """
        z, ids = self._prepare(emb, group_ids)
        labels = torch.full_like(ids, -1)
        quantised = ids >= 0
        if not quantised.any():
            return labels
        missing = [g for g in _present(ids) if not self.initialized[g]]
        if missing:
            raise NotFittedError(
                f"DynamicVQ: groups {missing} have no codebook yet; call init_from(emb, group_ids) "
                "or run a training-mode forward first"
            )
        codes = self.codebook[ids[quantised]]  # [n, K, D]
        with torch.autocast(device_type=z.device.type, enabled=False):
            sims = torch.einsum("nd,nkd->nk", z[quantised], codes)
        labels[quantised] = sims.argmax(dim=-1)
        return labels

    @torch.no_grad()
    def refresh(self, emb: torch.Tensor, group_ids: torch.Tensor, *, iters: int = 10) -> dict[int, list[int]]:
        """Re-cluster every group present by spherical k-means on ``emb`` (e.g. all its training
        clips, at the start of an epoch), keeping code indices stable.

        The new centres of an already seeded group are matched to its old codes (Hungarian
        assignment on cosine similarity), so a code keeps its index, and its class, when its
        cluster persists. Returns, per group, the codes whose centre moved to another cluster
        (matched cosine < 0.5; all codes of a group seeded for the first time), whose classifier
        rows the caller should move too.
        """
        from scipy.optimize import linear_sum_assignment

        z, ids = self._prepare(emb, group_ids)
        moved: dict[int, list[int]] = {}
        with torch.autocast(device_type=z.device.type, enabled=False):
            for g in _present(ids):
                old = self.codebook[g].clone()
                seeded = bool(self.initialized[g])
                self._seed_group(g, z[ids == g], iters=iters)
                if not seeded:
                    moved[g] = list(range(self.n_codes))
                    continue
                sims = (old @ self.codebook[g].T).cpu().numpy()  # [old K, new K]
                rows, cols = linear_sum_assignment(-sims)
                order = torch.as_tensor(cols[rows.argsort()], device=z.device)
                self.codebook[g] = self.codebook[g][order]
                self.embed_sum[g] = self.embed_sum[g][order]
                moved[g] = [int(k) for k in range(self.n_codes) if sims[k, int(order[k])] < 0.5]
        return moved

    @torch.no_grad()
    def init_from(self, emb: torch.Tensor, group_ids: torch.Tensor, *, iters: int = 10) -> None:
        """(Re-)seed the codebook of every group present: k-means++ then ``iters`` spherical k-means
        steps, e.g. on the embeddings of a first pass over the training set. A group with fewer
        clips than codes gets duplicate codes, which the dead-code restart later moves."""
        z, ids = self._prepare(emb, group_ids)
        with torch.autocast(device_type=z.device.type, enabled=False):
            for g in _present(ids):
                self._seed_group(g, z[ids == g], iters=iters)

    def _seed_group(self, g: int, e: torch.Tensor, iters: int) -> None:
        """Spherical k-means of group ``g`` on ``e``: one k-means++ start, or with ``restarts > 1``
        that many starts plus the current codes (once seeded), keeping the clustering of the
        highest total cosine. A single start often lands in a poor local optimum on a few hundred
        clips, and a fresh start every epoch relabels clips whose clusters did not change."""
        starts = [_kmeans_plus_plus(e, self.n_codes) for _ in range(self.restarts)]
        if self.restarts > 1 and bool(self.initialized[g]):
            starts.append(self.codebook[g].clone())
        best, best_fit = starts[0], -float("inf")
        for start in starts:
            centers = self._lloyd(e, start, iters)
            fit = float((e @ centers.T).max(dim=1).values.sum())
            if fit > best_fit:
                best, best_fit = centers, fit
        self.codebook[g] = best
        self.embed_sum[g] = best * _INIT_MASS
        self.cluster_size[g] = _INIT_MASS
        self.initialized[g] = True

    def _lloyd(self, e: torch.Tensor, centers: torch.Tensor, iters: int) -> torch.Tensor:
        """``iters`` spherical k-means steps from ``centers`` (a centre without clips stays put)."""
        for _ in range(iters):
            nearest = (e @ centers.T).argmax(dim=1)
            sums = torch.zeros_like(centers).index_add_(0, nearest, e)
            counts = torch.bincount(nearest, minlength=self.n_codes)
            centers = torch.where(counts[:, None] > 0, F.normalize(sums, dim=-1, eps=self.eps), centers)
        return centers

    @torch.no_grad()
    def _ema_update(self, z: torch.Tensor, ids: torch.Tensor, labels: torch.Tensor) -> None:
        """EMA of each code's count and sum over the (global) batch; groups absent from it keep
        theirs. Statistics are dense ``[G, K]`` / ``[G, K, D]`` so that every process sums the
        same shapes whatever groups its own part of the batch holds."""
        q = ids >= 0
        counts = torch.zeros_like(self.cluster_size)
        sums = torch.zeros_like(self.embed_sum)
        where = (ids[q], labels[q])
        counts.index_put_(where, torch.ones_like(labels[q], dtype=counts.dtype), accumulate=True)
        sums.index_put_(where, z[q].to(sums.dtype), accumulate=True)
        counts, sums = self.all_reduce(counts), self.all_reduce(sums)
        for g in counts.sum(dim=1).nonzero(as_tuple=True)[0].tolist():
            self.cluster_size[g].mul_(self.decay).add_(counts[g], alpha=1 - self.decay)
            self.embed_sum[g].mul_(self.decay).add_(sums[g], alpha=1 - self.decay)
            self.codebook[g] = F.normalize(self.embed_sum[g], dim=-1, eps=self.eps)
            dead = (self.cluster_size[g] < self.dead_threshold).nonzero(as_tuple=True)[0]
            local = z[ids == g]
            if dead.numel() and len(local):  # re-seeded from this process's clips (DDP: rank 0's win)
                self._restart(g, dead, local)

    def _restart(self, g: int, dead: torch.Tensor, e: torch.Tensor) -> None:
        """Re-seed codes ``dead`` of group ``g`` from distinct random rows of ``e`` (when enough)."""
        n = e.shape[0]
        if n >= dead.numel():
            picks = torch.randperm(n, device=e.device)[: dead.numel()]
        else:
            picks = torch.randint(n, (dead.numel(),), device=e.device)
        self.codebook[g, dead] = e[picks]
        self.embed_sum[g, dead] = e[picks] * _INIT_MASS
        self.cluster_size[g, dead] = _INIT_MASS
        self._restarted.setdefault(g, []).extend(int(k) for k in dead)

    def _prepare(self, emb: torch.Tensor, group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if emb.dim() != 2 or emb.shape[1] != self.dim:
            raise DataError(f"DynamicVQ embeddings: got shape {tuple(emb.shape)}, expected [B, {self.dim}]")
        if group_ids.shape != (emb.shape[0],):
            raise DataError(
                f"DynamicVQ group_ids: got shape {tuple(group_ids.shape)}, expected [{emb.shape[0]}]"
            )
        ids = group_ids.to(emb.device).long()
        if ids.numel() and ids.max() >= self.n_groups:
            raise DataError(
                f"DynamicVQ group_ids: got {int(ids.max())}, expected -1 or 0 .. {self.n_groups - 1}"
            )
        ids = ids.clamp(min=-1)
        return F.normalize(emb.to(self.codebook.dtype), dim=-1, eps=self.eps), ids

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, n_codes={self.n_codes}, n_groups={self.n_groups}, decay={self.decay}, "
            f"dead_threshold={self.dead_threshold}, commitment={self.commitment}, restarts={self.restarts}, "
            f"ema={self.ema}"
        )


def _identity(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _present(ids: torch.Tensor) -> list[int]:
    """Sorted group ids (>= 0) present in ``ids``."""
    return torch.unique(ids[ids >= 0]).tolist()


def _kmeans_plus_plus(e: torch.Tensor, k: int) -> torch.Tensor:
    """``k`` rows of ``e`` chosen by k-means++ (squared distance on the sphere); uniform once all
    remaining distances are zero."""
    n = e.shape[0]
    chosen = [int(torch.randint(n, (1,), device=e.device))]
    d2 = (e - e[chosen[0]]).square().sum(dim=-1)
    for _ in range(1, k):
        weights = d2 if d2.sum() > 0 else torch.ones_like(d2)
        idx = int(torch.multinomial(weights, 1))
        chosen.append(idx)
        d2 = torch.minimum(d2, (e - e[idx]).square().sum(dim=-1))
    return e[chosen].clone()


def _check_config(
    dim: int, n_codes: int, n_groups: int, decay: float, eps: float, dead_threshold: float, commitment: float
) -> None:
    for key, value in (("dim", dim), ("n_codes", n_codes), ("n_groups", n_groups)):
        if value < 1:
            raise ConfigError(f"vq {key}: got {value}, expected an integer >= 1")
    if not 0.0 <= decay < 1.0:
        raise ConfigError(f"vq decay: got {decay}, expected a value in [0, 1)")
    if dead_threshold >= _INIT_MASS * decay:
        raise ConfigError(
            f"vq dead_threshold: got {dead_threshold}, expected < decay ({decay}): a code seeded with a "
            f"count of {_INIT_MASS:g} would be restarted after one batch without clips"
        )
    for key, value in (("eps", eps), ("dead_threshold", dead_threshold), ("commitment", commitment)):
        if value < 0:
            raise ConfigError(f"vq {key}: got {value}, expected >= 0")
