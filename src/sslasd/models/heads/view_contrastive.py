"""Two-view contrastive loss: an instance level and a class level, on a projection head.

Why a second form: the label form (:mod:`sslasd.models.heads.contrastive`) compares one view of each
clip under the same class labels ArcFace already learns from, so it adds little that the margin loss
does not. This form brings information ArcFace lacks: every training clip is seen as two augmented
views and the loss has

* an **instance level** (NT-Xent, SimCLR; Chen et al., ICML 2020): the positive of a view is the
  other view of the same clip, every other view of the batch is a negative, so the embedding must
  tell apart clips of one class (what kNN scoring needs) and ignore the augmentations;
* a **class level** (SupCon, Khosla et al., NeurIPS 2020) over the same views: positives are the
  twin view and the views of the other clips of the same class or VQ pseudo-class (the class index
  ArcFace uses).

Both act on a small projection head (MLP, L2-normalised) that only this loss uses, as in SimCLR: the
head absorbs the invariances the loss demands, and scoring reads the embedding before it.

Layout: the embeddings are the views stacked view by view, ``emb[:B]`` the first views of the B
clips and ``emb[B:]`` their second views in the same order; labels are given once per clip.

Example
-------
>>> loss = TwoViewContrastiveLoss(8, hidden=16, proj_dim=4)
>>> out = loss(torch.randn(6, 8), torch.tensor([0, 0, 1]))
>>> sorted(out)
['class', 'instance', 'loss']
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslasd.errors import ConfigError, DataError
from sslasd.models.heads.contrastive import supcon_from_masks


class ProjectionHead(nn.Module):
    """``Linear -> ReLU -> Linear -> L2``: the space of the two-view loss, never used by scoring.

    Parameters
    ----------
    emb_dim : int
        Size of the embedding it reads.
    hidden : int
        Hidden units.
    proj_dim : int
        Size of the projected, L2-normalised output.
    """

    def __init__(self, emb_dim: int, hidden: int = 256, proj_dim: int = 128) -> None:
        super().__init__()
        bad = {k: v for k, v in {"emb_dim": emb_dim, "hidden": hidden, "proj_dim": proj_dim}.items() if v < 1}
        if bad:
            raise ConfigError(f"projection head: {bad}: expected sizes >= 1")
        self.fc1 = nn.Linear(emb_dim, hidden)
        self.fc2 = nn.Linear(hidden, proj_dim)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        """``[N, emb_dim] -> [N, proj_dim]``, unit rows."""
        return F.normalize(self.fc2(F.relu(self.fc1(emb))), dim=-1)


def view_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positive and contrast masks ``[2B, 2B]`` of the two levels, for views stacked view by view.

    Parameters
    ----------
    labels : Tensor
        ``[B]`` class of each clip; a label < 0 keeps the clip out of the class level (it still
        takes part in the instance level).

    Returns
    -------
    instance_positive : Tensor
        ``[i, j]`` True where ``j`` is the other view of ``i``'s clip.
    class_positive : Tensor
        ``[i, j]`` True where ``i`` and ``j`` (``j != i``) are views of clips of the same class,
        the twin view included.
    class_contrast : Tensor
        ``[i, j]`` True where both have a class (``j != i``).

    Examples
    --------
    >>> inst, pos, _ = view_masks(torch.tensor([3, 3, 5]))
    >>> inst[0].nonzero().flatten().tolist(), pos[0].nonzero().flatten().tolist()
    ([3], [1, 3, 4])
    """
    n = labels.shape[0]
    clip = torch.arange(n, device=labels.device).repeat(2)
    both = labels.repeat(2)
    off_diag = ~torch.eye(2 * n, dtype=torch.bool, device=labels.device)
    instance_positive = (clip[:, None] == clip[None, :]) & off_diag
    valid = both >= 0
    class_contrast = valid[:, None] & valid[None, :] & off_diag
    class_positive = class_contrast & (both[:, None] == both[None, :])
    return instance_positive, class_positive, class_contrast


class TwoViewContrastiveLoss(nn.Module):
    """Instance-level NT-Xent plus class-level SupCon over two views, through a projection head.

    Parameters
    ----------
    emb_dim : int
        Size of the embeddings it receives.
    hidden, proj_dim : int
        Projection head sizes (see :class:`ProjectionHead`).
    instance_weight, class_weight : float
        ``loss = instance_weight * instance + class_weight * class``.
    temperature : float
        Temperature of both levels (> 0).

    Raises
    ------
    ConfigError
        A weight < 0 or ``temperature`` <= 0.
    """

    def __init__(
        self,
        emb_dim: int,
        *,
        hidden: int = 256,
        proj_dim: int = 128,
        instance_weight: float = 1.0,
        class_weight: float = 1.0,
        temperature: float = 0.1,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"contrastive temperature: got {temperature}, expected > 0")
        if instance_weight < 0 or class_weight < 0:
            raise ConfigError(
                f"two-view contrastive weights: got instance {instance_weight}, class {class_weight}; "
                "expected >= 0"
            )
        self.projection = ProjectionHead(emb_dim, hidden, proj_dim)
        self.instance_weight = float(instance_weight)
        self.class_weight = float(class_weight)
        self.temperature = float(temperature)

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{"loss": weighted sum, "instance": ..., "class": ...}`` (scalars).

        Parameters
        ----------
        emb : Tensor
            ``[2B, D]`` embeddings, first views then second views (see the module docstring).
        labels : Tensor
            ``[B]`` class (or pseudo-class) of each clip; < 0: no class level for that clip.

        Raises
        ------
        DataError
            ``emb`` is not ``[2B, D]`` for the ``B`` labels.
        """
        if emb.dim() != 2 or labels.dim() != 1 or emb.shape[0] != 2 * labels.shape[0]:
            raise DataError(
                f"two-view contrastive loss: embeddings {tuple(emb.shape)} and labels {tuple(labels.shape)}; "
                "expected [2B, D] (first views, then second views) and [B]"
            )
        z = self.projection(emb)
        instance_positive, class_positive, class_contrast = view_masks(labels.to(emb.device))
        everything = torch.ones_like(instance_positive)  # NT-Xent: all other views are negatives
        instance = supcon_from_masks(z, instance_positive, everything, self.temperature)
        cls = supcon_from_masks(z, class_positive, class_contrast, self.temperature)
        return {
            "loss": self.instance_weight * instance + self.class_weight * cls,
            "instance": instance,
            "class": cls,
        }
