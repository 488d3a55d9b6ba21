"""A run whose scores combine several detectors: the run itself and its floors (``ensemble.members``).

Each member scores the same windows of a recording with its own embedder and back-end; per
machine/section a :class:`sslasd.backends.ScoreEnsemble` puts each member's window scores on the
scale of its training scores (leave-one-out, normal training clips only) and sums them with the
configured weights; the recording's score then reduces its windows like any detector's. So a run
can always include the log-mel detector: a fine-tuned member adds what it knows, and a weak one
cannot take the run far below the floor it is combined with. The fitted combiners are saved in
``RUN/ensemble.json`` and in exported bundles; loading never refits them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sslasd import __version__
from sslasd._common import atomic_write_json
from sslasd.backends import ScoreEnsemble
from sslasd.data import AudioCache, Clip
from sslasd.errors import CheckpointError, RunError
from sslasd.pipeline.config import RunConfig, config_from_dict
from sslasd.pipeline.detector import (
    BUNDLE_FORMAT,
    AudioInput,
    Detector,
    _key_name,
    _key_of,
    windows_by_section,
)
from sslasd.pipeline.embedding import WindowEmbeddings
from sslasd.pipeline.floors import floor_detector
from sslasd.pipeline.rundir import RunDir
from sslasd.training.labels import LabelVocabulary

RUN_MEMBER = "run"


class EnsembleDetector(Detector):
    """A :class:`Detector` whose scores are a :class:`ScoreEnsemble` of its members' scores.

    The first member answers the questions that do not depend on scores (machines, sections,
    windows, :meth:`embed`); every member must know the same machine/sections and cut recordings
    into the same windows.

    Parameters
    ----------
    members : dict
        Member name (``run``, ``logmel``, ``frozen``) -> fitted Detector, in ensemble order.
    combiners : dict
        ``(machine, section)`` -> fitted ScoreEnsemble (see :meth:`fit_combiners`).
    config : RunConfig
        The run's config (its ``ensemble``, ``threshold`` and ``score`` sections).
    """

    def __init__(
        self,
        members: dict[str, Detector],
        combiners: dict[tuple[str, str], ScoreEnsemble],
        config: RunConfig,
    ) -> None:
        first = next(iter(members.values()))
        super().__init__(
            first.embedder,
            first.vocab,
            config,
            first.banks,
            num_samples=first.num_samples,
            device=first.device,
            precision=first.precision,
            backends=first.backends,
        )
        seconds = first.num_samples / first.sample_rate
        for name, member in members.items():
            same_windows = abs(member.num_samples / member.sample_rate - seconds) < 1e-3
            if set(member.backends) != set(first.backends) or not same_windows:
                raise CheckpointError(
                    f"ensemble member {name!r} does not score the same machine/sections and windows "
                    f"as {next(iter(members))!r}"
                )
        if set(combiners) != set(first.backends):
            raise CheckpointError(
                f"ensemble: combiners for {sorted(combiners)}, banks for {sorted(first.backends)}"
            )
        self.members = members
        self.combiners = combiners

    @staticmethod
    def fit_combiners(
        members: dict[str, Detector], config: RunConfig
    ) -> dict[tuple[str, str], ScoreEnsemble]:
        """One ScoreEnsemble per machine/section, fitted on the members' training scores only."""
        first = next(iter(members.values()))
        return {
            key: ScoreEnsemble(
                config.ensemble.weights, threshold=config.threshold.method, threshold_q=config.threshold.q
            ).fit([m.backends[key].train_scores_ for m in members.values()])
            for key in sorted(first.backends)
        }

    # -- scores ---------------------------------------------------------------------------------
    def threshold(self, machine: str, section: str | None = None) -> float:
        return float(self.combiners[self.resolve(machine, section)].threshold_)

    def score_windows(
        self,
        item: AudioInput,
        machine: str,
        section: str | None = None,
        *,
        sample_rate: int | None = None,
        hop_seconds: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        key = self.resolve(machine, section)
        parts = [
            m.score_windows(item, machine, section, sample_rate=sample_rate, hop_seconds=hop_seconds)
            for m in self.members.values()
        ]
        one = [np.zeros(len(p[0]), dtype=np.int64) for p in parts]
        scores = [p[0][aligned_windows(one[0], o)] for p, o in zip(parts, one)]
        return self.combiners[key].combine(scores), parts[0][1]

    def clip_window_scores(
        self, clips: Sequence[Clip], *, cache: AudioCache | None = None, batch_size: int = 32
    ) -> tuple[WindowEmbeddings, np.ndarray]:
        parts = [
            m.clip_window_scores(clips, cache=cache, batch_size=batch_size) for m in self.members.values()
        ]
        emb = parts[0][0]
        scores = [p[1][aligned_windows(emb.owner, p[0].owner)] for p in parts]
        combined = np.zeros(len(emb.owner), dtype=np.float64)
        for key, rows in windows_by_section(clips, emb.owner).items():
            combined[rows] = self.combiners[key].combine([s[rows] for s in scores])
        return emb, combined

    # -- files ----------------------------------------------------------------------------------
    @classmethod
    def from_run(
        cls, run: str | os.PathLike, *, device: str | torch.device = "auto", precision: str = "auto"
    ) -> EnsembleDetector:
        """The run's ensemble: its members from the run folder, the combiners from ``ensemble.json``."""
        rd = RunDir.at(run)
        config = rd.read_config()
        if not rd.ensemble_path.is_file():
            raise RunError(f"{rd.root}: ensemble.json is missing; run `sslasd fit --out {rd.root}` again")
        members = run_members(rd, config, device=device, precision=precision)
        saved = json.loads(rd.ensemble_path.read_text())
        if saved.get("members") != list(members):
            raise CheckpointError(
                f"{rd.ensemble_path}: members {saved.get('members')}, config says {list(members)}"
            )
        combiners = {_key_of(k): ScoreEnsemble.from_dict(v) for k, v in saved["combiners"].items()}
        return cls(members, combiners, config)

    @classmethod
    def from_bundle_meta(
        cls,
        meta: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        where: str,
        *,
        device: str | torch.device = "auto",
        precision: str = "auto",
    ) -> EnsembleDetector:
        """The ensemble that :meth:`bundle` wrote."""
        vocab = LabelVocabulary.from_dict(meta["labels"])
        members = {
            name: Detector.from_bundle_part(
                part, tensors, f"member.{name}.", vocab, where, device=device, precision=precision
            )
            for name, part in meta["members"].items()
        }
        combiners = {_key_of(k): ScoreEnsemble.from_dict(v) for k, v in meta["ensemble"]["combiners"].items()}
        return cls(members, combiners, config_from_dict(meta["config"], f"{where} (config)"))

    def ensemble_state(self) -> dict[str, Any]:
        """``RUN/ensemble.json``: the member names and each machine/section's fitted combiner."""
        return {
            "members": list(self.members),
            "combiners": {_key_name(k): c.to_dict() for k, c in sorted(self.combiners.items())},
        }

    def bundle(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """Every member (tensors ``member.<name>.*``) and the combiners: the bundle scores as the run."""
        members: dict[str, Any] = {}
        tensors: dict[str, torch.Tensor] = {}
        for name, member in self.members.items():
            members[name], part = member.bundle_part(f"member.{name}.")
            tensors.update(part)
        meta = {
            "format": BUNDLE_FORMAT,
            "sslasd_version": __version__,
            "labels": self.vocab.to_dict(),
            "config": self.config.model_dump(mode="json"),
            "members": members,
            "ensemble": self.ensemble_state(),
        }
        return meta, tensors


def aligned_windows(owner: np.ndarray, member_owner: np.ndarray) -> np.ndarray:
    """For each window of ``owner`` (clip index of each window, clips in order), the index of the
    member's window at the same relative place in the same clip.

    Members running at different rates cut windows of the same length in seconds, but resampling
    may round a recording's length so that one member has a window more; the j-th of W windows then
    maps to window round(j (W_m - 1) / (W - 1)) of the member's W_m. Identity when the counts agree.
    """
    if np.array_equal(owner, member_owner):
        return np.arange(len(owner))
    n = int(max(owner.max(), member_owner.max())) + 1
    count, member_count = np.bincount(owner, minlength=n), np.bincount(member_owner, minlength=n)
    first, member_first = np.cumsum(count) - count, np.cumsum(member_count) - member_count
    j = np.arange(len(owner)) - first[owner]
    scale = (member_count[owner] - 1) / np.maximum(count[owner] - 1, 1)
    return member_first[owner] + np.rint(j * scale).astype(np.int64)


def run_members(
    rd: RunDir, config: RunConfig, *, device: str | torch.device = "auto", precision: str = "auto"
) -> dict[str, Detector]:
    """The fitted detectors named by ``config.ensemble.members``, in that order."""
    info = rd.read_info()
    vocab = LabelVocabulary.from_dict(info["labels"])
    return {
        name: Detector.from_run(rd.root, device=device, precision=precision)
        if name == RUN_MEMBER
        else floor_detector(
            rd,
            name,
            config,
            vocab,
            seconds=info["num_samples"] / info["sample_rate"],
            device=device,
            precision=precision,
        )
        for name in config.ensemble.members
    }


def fit_ensemble(rd: RunDir, *, device: str | torch.device = "auto") -> None:
    """Fit and save the run's combiners (``RUN/ensemble.json``) once its members are fitted, and
    their thresholds as the run's ``thresholds.json``."""
    config = rd.read_config()
    members = run_members(rd, config, device=device, precision="32")
    combiners = EnsembleDetector.fit_combiners(members, config)
    atomic_write_json(rd.ensemble_path, EnsembleDetector(members, combiners, config).ensemble_state())
    # the run's decision thresholds are the ensemble's (the report draws them on its scores)
    thresholds: dict[str, dict[str, float]] = {}
    for (machine, section), combiner in combiners.items():
        thresholds.setdefault(machine, {})[section] = combiner.threshold_
    atomic_write_json(rd.thresholds_path, thresholds)
