"""The floors of a run: training-free detectors on the same data, which the run must beat.

A fine-tuned system earns its cost only if it beats what needs no training. Every ``sslasd fit``
therefore also fits (unless ``--no-floors``), on the same training clips:

``logmel``
    log-mel power in dB (:mod:`sslasd.models.backbones.logmel`), mean and standard deviation of
    every band over time, cosine 1-NN with separate source and target banks, score = the smaller
    (standardised) distance: the plain detector practitioners start from. A few seconds.
``frozen``
    the run's own backbone with its pretrained weights and no LoRA, adapter or head, the same
    statistics of its frame features, the same back-end: what the training added is the
    difference. One embedding pass. (Skipped when the run's backbone is ``logmel`` itself.)

Both use cosine 1-NN with each bank's distances standardised by the leave-one-out distances of its
own training clips (:data:`FLOOR_BACKEND`; training statistics only), and the run's threshold rule,
whatever back-end the run uses, so that a floor is the same detector in every run. The
standardisation puts the sparse target bank and the dense source bank on one scale; it is the
stronger floor on every data set we measured (``bench/floor_settings.py``: +3.6 to +5.3 points on
the three ``small`` protocol sets), and a floor must be the strongest honest one. Layout, mirroring
the run's::

    RUN/floors/<name>/floor.json          what the floor is (backbone, its settings, back-end)
    RUN/floors/frozen/backbone.safetensors  the weights, only when the backbone has no checkpoint
                                          (random weights must be the same when scoring)
    RUN/floors/<name>/banks/embeddings.npz, backends.safetensors, DONE
    RUN/floors/<name>/scores/<tag>/       challenge CSVs, embeddings.npz, metrics.json, DONE

``sslasd score`` scores the floors beside the run; ``sslasd evaluate`` and the report put the run
beside them with a paired bootstrap interval of the difference.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from sslasd._common import atomic_write_bytes, atomic_write_json, get_logger
from sslasd._common.run_layout import RunLayout, is_done
from sslasd.backends.config import BackendConfig
from sslasd.data import AudioCache, Clip
from sslasd.errors import RunError
from sslasd.models.backbones import build_backbone
from sslasd.models.backbones._checkpoint import load_strict
from sslasd.models.backbones.config import BackboneConfig
from sslasd.models.stats_embedder import StatsEmbedder
from sslasd.pipeline.config import RunConfig
from sslasd.pipeline.detector import Detector, banks_from_arrays, banks_of, read_fitted_backends
from sslasd.pipeline.embedding import embed_clips, read_embeddings, write_embeddings
from sslasd.pipeline.rundir import RunDir
from sslasd.training.labels import LabelVocabulary

log = get_logger("floors")

FLOOR_NAMES = ("logmel", "frozen")
FLOOR_BACKEND = BackendConfig(name="knn", params={"standardize": True})
_DESCRIPTIONS = {
    "logmel": "log-mel statistics + cosine kNN (no training)",
    "frozen": "frozen backbone statistics + cosine kNN (no training)",
}


def describe(name: str) -> str:
    """One line saying what floor ``name`` is."""
    return _DESCRIPTIONS.get(name, name)


def floor_backbones(config: RunConfig) -> dict[str, BackboneConfig]:
    """The backbone of each floor of a run with ``config`` (``frozen`` = the run's own backbone)."""
    out = {"logmel": BackboneConfig(name="logmel")}
    if config.backbone.name != "logmel":
        out["frozen"] = config.backbone.model_copy()
    return out


def floor_config(config: RunConfig, backbone: BackboneConfig, backend: BackendConfig) -> RunConfig:
    """The run's config with the floor's backbone and back-end."""
    return config.model_copy(update={"backbone": backbone, "backend": backend})


def fit_floors(
    run: RunDir,
    config: RunConfig,
    clips: Sequence[Clip],
    vocab: LabelVocabulary,
    *,
    seconds: float,
    device: torch.device,
    cache: AudioCache | None = None,
    names: Sequence[str] | None = None,
) -> list[str]:
    """Embed the training clips with each floor (or those in ``names``) and write its banks and
    fitted back-ends; finished floors are skipped. ``seconds``: the run's clip length, so that a
    floor whose backbone runs at another rate cuts the same windows."""
    done = []
    ids = vocab.encode(clips)["machine"]
    for name, backbone_cfg in floor_backbones(config).items():
        if names is not None and name not in names:
            continue
        folder = RunLayout(run.floor_dir(name))
        if folder.done("banks"):
            done.append(name)
            continue
        backbone = backbone_cfg.build()
        if backbone_cfg.name != "logmel" and backbone_cfg.checkpoint is None:
            state = {k: v.detach().clone() for k, v in backbone.state_dict().items()}  # shared: copies
            atomic_write_bytes(folder.floor_weights_path, safetensors.torch.save(state))
        embedder = StatsEmbedder(backbone)
        num_samples = samples_at(seconds, embedder.sample_rate)
        emb = embed_clips(
            embedder,
            clips,
            ids,
            num_samples=num_samples,
            device=device,
            cache=cache,
            channels=config.data.channel_policy(),  # a floor sees what the run sees
        ).per_clip()
        atomic_write_json(
            folder.floor_info_path,
            {
                "name": name,
                "description": describe(name),
                "backbone": backbone_cfg.model_dump(mode="json"),
                "backbone_config": backbone.config_dict(),
                "embedding": "mean and population std over time of each frame channel",
                "backend": FLOOR_BACKEND.model_dump(mode="json"),
            },
        )
        write_embeddings(folder.bank_embeddings_path, clips, emb)
        config_of_floor = floor_config(config, backbone_cfg, FLOOR_BACKEND)
        Detector(
            embedder, vocab, config_of_floor, banks_of(clips, emb), num_samples=num_samples, device=device
        ).write_backends(folder.backends_path)
        folder.mark_done("banks")
        log.info("floor %s: %d training clips embedded (%d-d)", name, len(clips), emb.shape[1])
        done.append(name)
    return done


def fitted_floors(run: RunDir) -> list[str]:
    """Names of the floors of ``run`` whose banks are complete, in :data:`FLOOR_NAMES` order."""
    return [n for n in FLOOR_NAMES if RunLayout(run.floor_dir(n)).done("banks")]


def floor_detector(
    run: RunDir,
    name: str,
    config: RunConfig,
    vocab: LabelVocabulary,
    *,
    seconds: float,
    device: str | torch.device = "auto",
    precision: str = "32",
) -> Detector:
    """The fitted detector of floor ``name`` of ``run`` (its saved back-ends; refitted on its banks
    for a floor fitted before they were saved); ``seconds``: the run's clip length."""
    folder = RunLayout(run.floor_dir(name))
    if not folder.done("banks"):
        raise RunError(
            f"{folder.root}: floor {name!r} was not fitted; run `sslasd fit --out {run.root}` again"
        )
    meta: dict[str, Any] = json.loads(folder.floor_info_path.read_text())
    backbone_cfg = BackboneConfig.model_validate(meta["backbone"])
    if backbone_cfg.name == "logmel":
        backbone = build_backbone("logmel", meta["backbone_config"])
    else:
        backbone = backbone_cfg.build()
        weights = folder.floor_weights_path
        if weights.is_file():
            load_strict(backbone, safetensors.torch.load_file(str(weights)), str(weights))
    data = read_embeddings(folder.bank_embeddings_path)
    return Detector(
        StatsEmbedder(backbone),
        vocab,
        floor_config(config, backbone_cfg, BackendConfig.model_validate(meta["backend"])),
        banks_from_arrays(data),
        num_samples=samples_at(seconds, backbone.sample_rate),
        device=device,
        precision=precision,
        backends=read_fitted_backends(folder.backends_path),
    )


def samples_at(seconds: float, sample_rate: int) -> int:
    """The run's clip length in samples at a floor's own rate (the log-mel floor runs at 16 kHz,
    a run's backbone may not: EfficientAT runs at 32 kHz)."""
    return round(seconds * sample_rate)


def floor_scores_dir(run: RunDir, scores_dir: Path, name: str) -> Path:
    """Where floor ``name``'s scores of the run's ``scores_dir`` live.

    ``RUN/scores/<tag>`` -> ``RUN/floors/<name>/scores/<tag>``; a scores folder elsewhere (``--out``)
    keeps its floors inside it, ``<out>/floors/<name>``.
    """
    scores_dir = Path(scores_dir).resolve()
    if scores_dir.parent == run.scores_root:
        return RunLayout(run.floor_dir(name)).scores_root / scores_dir.name
    return scores_dir / "floors" / name


def run_of_scores(scores_dir: Path) -> RunDir | None:
    """The run a scores folder belongs to (``RUN/scores/<tag>``), or None."""
    scores_dir = Path(scores_dir).resolve()
    candidate = RunDir.at(scores_dir.parent.parent)
    if scores_dir.parent.name == "scores" and candidate.config_path.is_file():
        return candidate
    return None


def floors_of_scores(scores_dir: Path) -> dict[str, Path]:
    """Finished floor score folders next to a run's scores folder, by floor name."""
    run = run_of_scores(scores_dir)
    folders = {
        n: floor_scores_dir(run, scores_dir, n) if run else Path(scores_dir).resolve() / "floors" / n
        for n in FLOOR_NAMES
    }
    return {n: folder for n, folder in folders.items() if is_done(folder)}
