"""``sslasd fit``: train the model of a run, then embed the training clips into memory banks.

Steps, each idempotent: (1) ``fit/`` trains (resuming from ``fit/checkpoints/last.pt`` after a kill),
(2) ``banks/`` embeds the training clips and fits one back-end per machine/section, saving them
(``banks/backends.safetensors``) and their thresholds (``thresholds.json``). ``sslasd score`` then
needs nothing but the run folder.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from sslasd import __version__
from sslasd._common import (
    atomic_write_json,
    atomic_write_text,
    get_logger,
    resolve_device,
    seed_everything,
    sha256_file,
)
from sslasd.data import (
    AudioCache,
    Clip,
    ClipDataset,
    DatasetIndex,
    NoiseMixer,
    clip_seconds,
    collate_clips,
    index_dataset,
    noise_owners,
)
from sslasd.errors import ConfigError, DataError, RunError
from sslasd.evaluation.pseudo_labels import label_nmi, read_mode_truth
from sslasd.models.backbones.registry import resolve_checkpoint
from sslasd.pipeline.build import build_system
from sslasd.pipeline.config import RunConfig, config_diff, default_config, load_config
from sslasd.pipeline.detector import Detector, banks_of
from sslasd.pipeline.embedding import embed_clips, write_embeddings
from sslasd.pipeline.ensemble import RUN_MEMBER, fit_ensemble
from sslasd.pipeline.floors import fit_floors, fitted_floors, floor_backbones
from sslasd.pipeline.rundir import RunDir, data_record
from sslasd.training.checkpoint import load_weights
from sslasd.training.labels import LabelVocabulary
from sslasd.training.loop import train

log = get_logger("fit")


def fit(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    config: str | os.PathLike | RunConfig | None = None,
    set: Sequence[str] | None = None,
    year: int | None = None,
    devices: int | str | None = None,
    num_nodes: int | None = None,
    floors: bool = True,
    progress: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Train on the normal training clips of ``data`` and write a complete run folder ``out``.

    Parameters
    ----------
    data : path
        DCASE-layout root (``<root>/<machine>/train/*.wav``, or ``dev_data/`` + ``eval_data/``).
    out : path
        Run folder. A finished run is left as it is (no-op); an interrupted one resumes.
    config : preset name, YAML path or RunConfig, optional
        Default: ``cpu`` when its pretrained checkpoint is in the download cache, else the
        training-free ``logmel`` detector, with a message saying what to download
        (:func:`~sslasd.pipeline.config.default_config`). When ``out`` already holds a run, its saved
        config is used and a different requested config is refused (listing the differing keys).
    set : list of ``key=value``
        Overrides, e.g. ``["lora.rank=4", "mga.mode=none"]``.
    year, devices, num_nodes :
        Shortcuts for ``data.year``, ``train.devices``, ``train.num_nodes``.
    floors : bool
        Also fit the run's training-free floors (``RUN/floors/logmel``, ``RUN/floors/frozen``; see
        :mod:`sslasd.pipeline.floors`): a few seconds plus one embedding pass. ``--no-floors``.
    cache_dir : path, optional
        Where decoded audio is kept with ``data.cache`` (default ``RUN/cache``). Entries are keyed
        by file path, size, time and rate, so runs on the same data may share one folder (an
        ablation protocol does: one copy instead of one per run).

    Returns
    -------
    Path of the run folder.
    """
    run = RunDir.at(out)
    chosen, message = (config, None) if config is not None else default_config()
    requested = _requested_config(chosen, set, year, devices, num_nodes)
    cfg = _run_config(run, requested, explicit=config is not None or bool(set) or year is not None)
    # The data are checked before the run folder is made, so a bad --data leaves nothing behind.
    data_cfg = cfg.data
    index, clips = _training_clips(data, data_cfg.year, data_cfg.skip_bad, check_audio=False)
    record = data_record(data, clips)  # what the folder holds, before any audio is judged
    _check_same_data(run, record)
    wanted = _wanted_floors(cfg, floors)
    trains = RUN_MEMBER in cfg.ensemble.members  # a floors-only run trains nothing
    ensemble = cfg.ensemble.members != [RUN_MEMBER]
    model_done = not trains or (run.done("fit") and run.done("banks"))
    fitted = fitted_floors(run)  # (no set(): `set` is an argument of this function)
    floors_done = all(n in fitted for n in wanted) and (not ensemble or run.ensemble_path.is_file())
    if model_done and floors_done:
        log.warning("%s: already fitted, nothing to do", run.root)
        print(f"{run.root}: already fitted (delete fit/DONE or banks/DONE to redo a step)")
        return run.root
    # open every audio file now, so that a bad one is an error (or, with data.skip_bad, a listed
    # skip) before training starts rather than in its first epoch
    index, clips = _training_clips(data, data_cfg.year, data_cfg.skip_bad, check_audio=True)
    data_cfg.channel_policy().check_files(c.path for c in clips)  # e.g. mono files for channels=near
    noise = data_cfg.noise_mixer()  # a missing or empty data.noise.folder is an error now
    noise_clips = _noise_clips(noise, data_cfg.noise.folder, clips) if data_cfg.noise.as_class else []
    seed_everything(cfg.train.seed)
    # the backbone (checkpoint, overrides) is built before the run folder exists, so a bad value
    # leaves nothing that blocks the retry
    backbone = cfg.backbone.build()
    if not run.config_path.is_file():
        if message:
            log.warning("%s", message)
            print(message)
        run.root.mkdir(parents=True, exist_ok=True)
        run.write_config(cfg)
    vocab = LabelVocabulary.build(
        clips,
        vq=cfg.vq.enabled,
        n_codes=cfg.vq.n_codes,
        domain=cfg.head.domain_in_classes,
        noise_owners=[c.machine for c in noise_clips],
    )
    num_samples = _num_samples(cfg, index.year, clips, backbone.sample_rate)
    cache = AudioCache(cache_dir or run.cache_dir) if cfg.data.cache else None
    if not run.info_path.is_file():
        run.write_info(
            {
                **_run_info(cfg, index, data, vocab, num_samples, backbone.sample_rate),
                "train_data": record,
                **_noise_record(noise_clips),
            }
        )
    if trains:
        system = build_system(cfg, vocab, backbone)
        if not run.done("fit"):
            truth = read_mode_truth(data)
            _train(system, clips, vocab, cfg, run, num_samples, cache, progress, noise, noise_clips, truth)
        load_weights(system, run.weights_path)
        if not run.done("banks"):
            _banks(system, clips, vocab, cfg, run, num_samples, cache)
    if wanted:
        start = time.perf_counter()
        names = fit_floors(
            run,
            cfg,
            clips,
            vocab,
            seconds=num_samples / backbone.sample_rate,
            device=resolve_device("auto"),
            cache=cache,
            names=wanted,
        )
        log.info("floors %s fitted in %.1f s", ", ".join(names), time.perf_counter() - start)
    if ensemble and not run.ensemble_path.is_file():
        fit_ensemble(run)
    return run.root


def _wanted_floors(cfg: RunConfig, floors: bool) -> list[str]:
    """The floors to fit: all of them with ``floors``, and in any case the ensemble's members."""
    available = list(floor_backbones(cfg))
    members = [m for m in cfg.ensemble.members if m != RUN_MEMBER]
    missing = [m for m in members if m not in available]
    if missing:
        raise ConfigError(f"ensemble.members: {missing} is not a floor of a {cfg.backbone.name} run")
    return [n for n in available if floors or n in members]


def _requested_config(config, overrides, year, devices, num_nodes) -> RunConfig:
    extra = list(overrides or [])
    if year is not None:
        extra.append(f"data.year={year}")
    if devices is not None:
        extra.append(f"train.devices={devices}")
    if num_nodes is not None:
        extra.append(f"train.num_nodes={num_nodes}")
    return load_config(config, extra)


def _run_config(run: RunDir, requested: RunConfig, *, explicit: bool) -> RunConfig:
    """The run's config: the saved one when the folder is a run, else the requested one (the caller
    saves it once everything it needs has been checked)."""
    if run.root.exists() and not run.root.is_dir():
        raise RunError(f"{run.root}: is a file; --out must name a run folder (new or existing)")
    if run.config_path.is_file():
        try:
            saved = run.read_config()
        except ConfigError:
            if run.info_path.is_file():
                raise  # a run whose config was damaged: say what is wrong with it
            raise RunError(
                f"{run.root}: exists and is not an sslasd run (its config.yaml is not a run config); "
                "refusing to write into it (pick a new --out)"
            ) from None
        gaps = [] if run.done("fit") else run.unset_keys()
        if gaps:
            # finishing a training with today's defaults for keys it started without would make a
            # model that no config describes
            raise RunError(
                f"{run.root}/config.yaml has no {', '.join(gaps[:8])} (written by an older sslasd); "
                "write in the values its training started with to resume it, or pick a new --out"
            )
        diff = config_diff(saved, requested)
        if explicit and diff:
            raise RunError(
                f"{run.root} was made with another config ({'; '.join(diff[:8])}); "
                "pick a new --out, or delete the folder to start over"
            )
        return saved
    if run.root.exists() and any(run.root.iterdir()):
        raise RunError(
            f"{run.root}: exists and is not an sslasd run; refusing to write into it (pick a new --out)"
        )
    return requested


def _training_clips(
    data: str | os.PathLike, year: int | None, skip_bad: bool, *, check_audio: bool
) -> tuple[DatasetIndex, list[Clip]]:
    """The index of ``data`` and its normal training clips (at least one, else a DataError)."""
    index = index_dataset(data, year=year, skip_bad=skip_bad, check_audio=check_audio)
    clips = [c for c in index.select(split="train") if c.label != "anomaly"]
    if not clips:
        usable = " usable" if check_audio else ""
        raise DataError(f"{data}: no{usable} normal training clips found under <machine>/train/")
    trained = {(c.machine, c.section) for c in clips}
    untrained = sorted({(c.machine, c.section) for c in index.select(split="test")} - trained)
    if untrained:  # they could never be scored: say so now rather than after training
        named = ", ".join(f"{m} section {s}" for m, s in untrained)
        raise DataError(
            f"{data}: {named}: test clips but no{' usable' if check_audio else ''} normal training "
            "clips (the train/ folder is missing or empty); add their normal recordings or move "
            "those machines out of the data root"
        )
    return index, clips


def _check_same_data(run: RunDir, record: dict) -> None:
    """Refuse to continue (or call finished) a run on other training data than it was started on."""
    if not run.info_path.is_file():
        return
    info = run.read_info()
    saved = info.get("train_data") or {"data_root": info.get("data_root")}
    same = saved == record if "digest" in saved else saved["data_root"] in (None, record["data_root"])
    if not same:
        raise RunError(
            f"{run.root} was fitted on {saved['data_root']} ({saved.get('files', '?')} training files); "
            f"{record['data_root']} holds other training clips ({record['files']} files): pick a new --out"
        )


def _num_samples(cfg: RunConfig, year: int, clips: Sequence[Clip], sample_rate: int) -> int:
    """Clip length in samples: ``data.seconds``, else the year's policy capped at the longest clip."""
    if cfg.data.seconds is not None:
        seconds = cfg.data.seconds
    else:
        import soundfile as sf

        policy = max(clip_seconds(year, m) for m in {c.machine for c in clips})
        longest = max(sf.info(str(c.path)).duration for c in clips[:: max(1, len(clips) // 200)])
        seconds = min(policy, longest)
    return math.ceil(seconds * sample_rate)


def _run_info(
    cfg: RunConfig, index, data, vocab: LabelVocabulary, num_samples: int, sample_rate: int
) -> dict:
    checkpoint = cfg.backbone.checkpoint
    path = resolve_checkpoint(checkpoint) if checkpoint else None
    return {
        "sslasd_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "seed": cfg.train.seed,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "backbone": {
            "name": cfg.backbone.name,
            "checkpoint": str(path) if path else None,
            "sha256": sha256_file(path) if path else None,
        },
        "machines": list(vocab.machines),
        "year": index.year,
        "data_root": str(Path(data).resolve()),
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in index.skipped],
        "num_samples": num_samples,
        "sample_rate": sample_rate,
        "labels": vocab.to_dict(),
    }


def _noise_clips(noise: NoiseMixer | None, folder: str | None, clips: Sequence[Clip]) -> list[Clip]:
    """The noise-only clips as training records (``data.noise.as_class``), each with its owner (a
    machine, or ``""`` shared: :func:`~sslasd.data.noise_owners`) as ``machine`` and no section.

    They are read like clips but live apart from ``clips``: only :func:`_train` sees them, so the
    banks, thresholds, floors, VQ codebooks and the run's clip counts hold machine clips only.
    """
    if noise is None or folder is None:  # the config refuses as_class without a folder
        return []
    year = clips[0].year
    owners = noise_owners(noise.paths, Path(folder), {c.machine for c in clips})
    return [
        Clip(path, year, owner, "", "none", "train", "normal") for path, owner in zip(noise.paths, owners)
    ]


def _noise_record(noise_clips: Sequence[Clip]) -> dict:
    """``noise_classes``: noise clips per owner (``""``: shared), for the run's info; empty without."""
    if not noise_clips:
        return {}
    return {"noise_classes": dict(sorted(Counter(c.machine for c in noise_clips).items()))}


def _nmi_judge(truth: dict[tuple[str, str], str] | None, in_vq: Sequence[Clip]):
    """For a synthetic set (``truth``: its hidden modes), rate each re-clustering's pseudo-labels of
    the VQ groups' clips ``in_vq`` (in that order) by NMI against those modes; None for other data."""
    if truth is None:
        return None

    def judge(labels: torch.Tensor) -> dict[str, float]:
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for clip, label in zip(in_vq, labels.tolist()):
            groups.setdefault((clip.machine, clip.section), {})[clip.name] = int(label)
        return {"nmi": label_nmi(groups, truth)}

    return judge


def _train(
    system, clips, vocab, cfg, run: RunDir, num_samples, cache, progress, noise, noise_clips, truth
) -> None:
    encoded = vocab.encode(clips)
    labels = {k: torch.as_tensor(v) for k, v in encoded.items()}
    # the noise clips (data.noise.as_class) follow the machine clips in the training set only
    noise_labels = vocab.encode_noise([c.machine for c in noise_clips])
    trained = {k: np.concatenate([v, noise_labels[k]]) for k, v in encoded.items()}
    batch_labels = {k: torch.as_tensor(v) for k, v in trained.items()}

    def collate(items):
        batch = collate_clips(items)
        index = batch["index"]
        batch.update({k: v[index] for k, v in batch_labels.items()})
        return batch

    dataset = ClipDataset(
        [*clips, *noise_clips],
        sample_rate=system.embedder.sample_rate,
        num_samples=num_samples,
        train=True,
        cache=cache,
        seed=cfg.train.seed,
        channels=cfg.data.channel_policy(),
        noise=noise,
    )
    if cfg.vq.enabled and cfg.vq.refresh and vocab.vq_groups:
        # only the clips of VQ groups are re-clustered, so only they are embedded (on `small`, 3 of
        # 27 sections: a ninth of the pass over every clip)
        in_vq = np.flatnonzero(labels["vq_group"].numpy() >= 0)

        def vq_pass() -> tuple[torch.Tensor, torch.Tensor]:
            device = next(system.parameters()).device
            emb = embed_clips(
                system.embedder,
                [clips[i] for i in in_vq],
                labels["machine"].numpy()[in_vq],
                num_samples=num_samples,
                device=device,
                cache=cache,
                channels=cfg.data.channel_policy(),
            ).per_clip()
            return torch.from_numpy(emb), labels["vq_group"][in_vq]

        system.set_vq_pass(vq_pass, _nmi_judge(truth, [clips[i] for i in in_vq]))
    start = time.perf_counter()
    train(
        system,
        dataset,
        config=cfg.train,
        out_dir=run.fit_dir,
        collate_fn=collate,
        progress=progress,
        groups=_sampler_groups(vocab, trained),
    )
    log.info("trained in %.1f s", time.perf_counter() - start)
    if system.vq_history:
        atomic_write_json(run.vq_history_path, system.vq_history)
    if system.vq is not None:
        log.info("VQ: %d dead-code restarts during training", system.vq_restarts)
    gates = system.embedder.adapter_gates()
    if gates:
        atomic_write_json(run.adapter_gates_path, {"machines": list(vocab.machines), "gates": gates})
        # per adapter and group: the largest gate minus the smallest over machines
        spread = max(max(group) - min(group) for adapter in gates for group in zip(*adapter))
        log.info("adapter gates: largest difference between machines %.3f", spread)


def _sampler_groups(vocab: LabelVocabulary, enc: dict[str, np.ndarray]) -> np.ndarray:
    """Group of each clip (``enc``: :meth:`LabelVocabulary.encode` of the clips) for the grouped
    sampler: its class where fixed, its section where the pseudo-labels decide the class (they change
    during training)."""
    return np.where(enc["target"] >= 0, enc["target"], vocab.n_classes + enc["section"])


def _banks(system, clips, vocab, cfg: RunConfig, run: RunDir, num_samples, cache) -> None:
    """Embed the training clips (the same windows as scoring), fit and save the back-ends."""
    device = resolve_device("auto")
    ids = vocab.encode(clips)
    emb = embed_clips(
        system.embedder,
        clips,
        ids["machine"],
        num_samples=num_samples,
        device=device,
        cache=cache,
        channels=cfg.data.channel_policy(),
    ).per_clip()
    pseudo = system.to(device).pseudo_labels(
        torch.from_numpy(emb).to(device), torch.as_tensor(ids["vq_group"], device=device)
    )
    write_embeddings(run.bank_embeddings_path, clips, emb, pseudo.cpu().numpy())
    if vocab.vq_groups:
        _write_pseudo_labels(run.pseudo_labels_path, clips, pseudo.cpu().numpy())
    detector = Detector(
        system.embedder, vocab, cfg, banks_of(clips, emb), num_samples=num_samples, device=device
    )
    detector.write_backends(run.backends_path)
    thresholds: dict[str, dict[str, float]] = {}
    for (machine, section), backend in detector.backends.items():
        thresholds.setdefault(machine, {})[section] = float(backend.threshold_)
    atomic_write_json(run.thresholds_path, thresholds)
    atomic_write_json(
        run.backend_path,
        {"name": cfg.backend.name, "params": cfg.backend.params, "threshold": cfg.threshold.model_dump()},
    )
    run.mark_done("banks")


def _write_pseudo_labels(path: Path, clips: Sequence[Clip], codes: np.ndarray) -> None:
    """``file,machine,section,domain,code`` of every clip of a VQ group (its final pseudo-label)."""
    lines = ["file,machine,section,domain,code"]
    lines += [f"{c.name},{c.machine},{c.section},{c.domain},{int(k)}" for c, k in zip(clips, codes) if k >= 0]
    atomic_write_text(path, "\n".join(lines) + "\n")
