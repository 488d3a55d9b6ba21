"""Training labels: machine x section x attribute classes, and which groups get VQ pseudo-labels.

The margin classifier needs a class per operating condition. Where a clip's name carries
attributes, its class is ``machine | section | attribute string``. Where it does not (2020 IDs,
2021 sections, ``noAttribute`` machines) the (machine, section) becomes a *VQ group*: its clips
get ``n_codes`` pseudo-attribute classes whose membership the VQ codebook decides during training.
With VQ off, such a group is one class.

With ``domain=True`` (the published recipe's machine x section x domain x attribute labels) the
domain is part of every class: an attributed clip's class is ``machine|section|domain|attributes``,
and the target-domain clips of an unattributed section form one fixed class ``machine|section|
target|`` of their own instead of sharing pseudo-classes with the source clips (about ten clips: too
few to cluster). The VQ group then holds the source clips only.

The same class index is the fine label of the dual-level contrastive loss; the (machine, section)
index is its coarse label; the machine index drives the group adapter's gates.

Noise-only clips (``data.noise.as_class``) add classes after all others: ``<machine>|noise`` for the
noise clips that belong to a machine, ``noise`` for one shared class of the rest. They teach the
margin classifier that a background is not the machine (the extra classes of the top DCASE 2025
systems). A noise clip has no section (coarse label -1, so the contrastive loss leaves it out) and
no VQ group; its adapter id is its machine's, or -1 (the mean gate) for the shared class, which
belongs to no machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sslasd.data.clip import Clip
from sslasd.errors import DataError

#: Owner of noise-only clips that belong to no machine of the training set (one shared class)
SHARED_NOISE = ""


@dataclass(frozen=True)
class LabelVocabulary:
    """Label spaces of one training set.

    Attributes
    ----------
    machines : tuple of str
        Machine types; index = machine id of the group adapter.
    sections : tuple of (machine, section)
        Coarse labels.
    classes : tuple of str
        Fixed classes ``machine|section|attributes`` of attributed clips, then, for every VQ group,
        ``n_codes`` classes ``machine|section|vq<k>``.
    vq_groups : tuple of (machine, section)
        Groups whose clips get pseudo-labels (empty when VQ is off).
    n_codes : int
        Codes per VQ group.
    domain : bool
        Whether the domain is part of the classes (see the module docstring).
    noise : tuple of str
        Owner of each noise class, in class order after every other class: a machine, or
        ``SHARED_NOISE`` (``""``) for the shared class. Empty without noise classes.
    """

    machines: tuple[str, ...]
    sections: tuple[tuple[str, str], ...]
    classes: tuple[str, ...]
    vq_groups: tuple[tuple[str, str], ...]
    n_codes: int
    domain: bool = False
    noise: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        clips: Sequence[Clip],
        *,
        vq: bool,
        n_codes: int,
        domain: bool = False,
        noise_owners: Sequence[str] = (),
    ) -> LabelVocabulary:
        """Vocabulary of ``clips`` (training clips), sorted so that it is independent of file order.

        ``noise_owners``: the owner of every noise-only clip that joins training as a class (a machine
        of ``clips``, or ``SHARED_NOISE``); one class per distinct owner.

        Raises
        ------
        DataError
            A noise owner is not a machine of ``clips`` (nor ``SHARED_NOISE``).
        """
        machines = sorted({c.machine for c in clips})
        sections = sorted({(c.machine, c.section) for c in clips})
        fixed = sorted({_class_name(c, domain) for c in clips if not _quantisable(c, vq, domain)})
        vq_groups = sorted({(c.machine, c.section) for c in clips if _quantisable(c, vq, domain)})
        noise = sorted(set(noise_owners))
        strangers = [o for o in noise if o != SHARED_NOISE and o not in machines]
        if strangers:
            raise DataError(f"noise clips of {strangers}: not machines of the training clips {machines}")
        classes = fixed + [f"{m}|{s}|vq{k}" for m, s in vq_groups for k in range(n_codes)]
        classes += [noise_class_name(o) for o in noise]
        return cls(
            tuple(machines), tuple(sections), tuple(classes), tuple(vq_groups), n_codes, domain, tuple(noise)
        )

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def machine_id(self, machine: str) -> int:
        """Index of ``machine``, or -1 for a machine type not seen in training (mean adapter gate)."""
        return self.machines.index(machine) if machine in self.machines else -1

    def encode(self, clips: Sequence[Clip]) -> dict[str, np.ndarray]:
        """Integer labels of ``clips``: machine, section (coarse), target class (-1 where VQ decides)
        and vq_group (-1 where the class is fixed), plus ``vq_offset`` of each VQ group's first class."""
        section_index = {s: i for i, s in enumerate(self.sections)}
        class_index = {name: i for i, name in enumerate(self.classes)}
        group_index = {g: i for i, g in enumerate(self.vq_groups)}
        machine = np.array([self.machine_id(c.machine) for c in clips], dtype=np.int64)
        section = np.array([section_index.get((c.machine, c.section), -1) for c in clips], dtype=np.int64)
        group = np.array(
            [
                group_index.get((c.machine, c.section), -1) if _quantisable(c, True, self.domain) else -1
                for c in clips
            ],
            dtype=np.int64,
        )
        target = np.array(
            [
                -1 if g >= 0 else class_index.get(_class_name(c, self.domain), -1)
                for c, g in zip(clips, group)
            ],
            dtype=np.int64,
        )
        return {"machine": machine, "section": section, "target": target, "vq_group": group}

    def encode_noise(self, owners: Sequence[str]) -> dict[str, np.ndarray]:
        """Integer labels of noise-only clips (``owners`` as in :meth:`build`), keyed as
        :meth:`encode`'s: machine (-1 for the shared class: the mean adapter gate), section -1 (no
        coarse label), target = the owner's noise class, vq_group -1.

        Raises
        ------
        DataError
            An owner has no noise class in this vocabulary.
        """
        index = {name: i for i, name in enumerate(self.classes)}
        missing = sorted({o for o in owners if o not in self.noise})
        if missing:
            raise DataError(
                f"noise clips of {missing}: no noise class in this vocabulary ({list(self.noise)})"
            )
        none = np.full(len(owners), -1, dtype=np.int64)
        return {
            "machine": np.array([self.machine_id(o) for o in owners], dtype=np.int64).reshape(-1),
            "section": none,
            "target": np.array([index[noise_class_name(o)] for o in owners], dtype=np.int64).reshape(-1),
            "vq_group": none.copy(),
        }

    def vq_offsets(self) -> np.ndarray:
        """Class index of code 0 of each VQ group."""
        index = {name: i for i, name in enumerate(self.classes)}
        return np.array([index[f"{m}|{s}|vq0"] for m, s in self.vq_groups], dtype=np.int64)

    def to_dict(self) -> dict:
        return {
            "machines": list(self.machines),
            "sections": [list(s) for s in self.sections],
            "classes": list(self.classes),
            "vq_groups": [list(g) for g in self.vq_groups],
            "n_codes": self.n_codes,
            "domain": self.domain,
            "noise": list(self.noise),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabelVocabulary:
        return cls(
            tuple(data["machines"]),
            tuple(tuple(s) for s in data["sections"]),
            tuple(data["classes"]),
            tuple(tuple(g) for g in data["vq_groups"]),
            int(data["n_codes"]),
            bool(data.get("domain", False)),  # runs made before the option have no domain classes
            tuple(data.get("noise", ())),  # nor noise classes
        )


def noise_class_name(owner: str) -> str:
    """Class name of the noise clips of ``owner``: ``<machine>|noise``, or ``noise`` when shared."""
    return f"{owner}|noise" if owner != SHARED_NOISE else "noise"


def _quantisable(clip: Clip, vq: bool, domain: bool) -> bool:
    """Whether VQ decides ``clip``'s class: unattributed, VQ on, and (with domain classes) source."""
    return vq and not clip.attributes and not (domain and clip.domain == "target")


def _class_name(clip: Clip, domain: bool) -> str:
    attributes = clip.attribute_string if clip.attributes else ""
    if domain:
        return f"{clip.machine}|{clip.section}|{clip.domain}|{attributes}"
    return f"{clip.machine}|{clip.section}|{attributes}"
