"""``sslasd ablate``: the ablation protocol, variants x training seeds x data sets, and a table that
can tell a real gain from noise.

One ablation run on one data set with one seed says little: on the small synthetic set a single
official score moves by about 2 points with the draw of its test clips alone, as much as most
component effects. The protocol therefore

1. trains every variant (the full system and each component switched off, see :data:`VARIANTS`)
   with every training seed on every data set, one ordinary run folder each
   (``OUT/runs/<data>/<variant>-seed<k>/``, made by :func:`sslasd.fit` and :func:`sslasd.score`);
   the first run of each data set also fits the floors (log-mel statistics and the frozen backbone,
   :mod:`sslasd.pipeline.floors`), which do not depend on the variant or the seed;
2. evaluates every run with the official rule, and
3. reports, per variant, the mean official score over data sets and seeds and the difference to
   the full system (or to another variant, ``reference``) with a 95 % interval from a two-level
   bootstrap: in every replicate each data set's test clips are resampled within
   machine/section/domain/label strata (the same draw for all variants, so the comparison is paired
   on clips), and each variant's training seeds are resampled with replacement (so seed-to-seed
   variation widens the interval). The data sets themselves are fixed: the interval speaks for
   these data sets, not for all possible ones.

Every run is resumable and every finished one is a no-op, so a killed protocol continues where it
stopped when the same command is run again. ``jobs`` runs several runs at once in separate
processes (each with ``cores / jobs`` threads); on a GPU machine runs use it like ``sslasd fit``.

The runs share one decoded-audio cache, ``OUT/cache`` (safe to delete; rebuilt when absent).
Writes ``OUT/table.md`` and ``OUT/table.json`` for the latest request, and keeps every request's
table as ``OUT/tables/<variants>_seed<seeds>_<data sets>.md/.json`` (one folder may answer several
requests: more variants, other seeds, a subset of the data sets); ``bench/readme_quality.py`` puts
tables into the README.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from sslasd._common import atomic_write_json, atomic_write_text, get_logger
from sslasd._common.run_layout import RunLayout, is_done
from sslasd.data import CHANNEL_POLICIES
from sslasd.errors import ConfigError, RunError
from sslasd.evaluation.bootstrap import ScoreTable, percentile_interval
from sslasd.evaluation.pseudo_labels import (
    kmeans_labels,
    nmi_replicates,
    read_mode_truth,
    read_pseudo_labels,
    section_nmi,
)
from sslasd.evaluation.result import DEFAULT_BOOT, Interval
from sslasd.pipeline.config import RunConfig, load_config
from sslasd.pipeline.embedding import read_embeddings
from sslasd.pipeline.floors import describe, floor_scores_dir
from sslasd.pipeline.rundir import RunDir

log = get_logger("ablate")

FULL = "paper"
#: a variant named ``config:<preset or YAML>`` runs another config (with the same ``--set``) on the
#: same data and seeds, so that two presets are compared paired on the same test clips
CONFIG_PREFIX = "config:"


def variant_overrides(config: RunConfig) -> dict[str, list[str]]:
    """Every variant of the protocol as ``--set`` overrides of the base ``config``.

    ``lora_equal_rank`` is plain LoRA with the total rank of the FC-LoRA it replaces (K branches of
    rank r -> rank K r, alpha scaled alike so the update has the same scale ``alpha / r``): the
    fair test of FC-LoRA's structure. ``lora_rank_r`` is plain LoRA of rank r (fewer parameters).
    ``no_ensemble`` scores with the run alone (no log-mel member), ``no_norm`` with raw kNN distances
    (no per-bank standardisation); both only make sense on a base config that has them (``cpu``).
    ``channels_<policy>`` gives the model another channel policy (``data.channels``, on two-channel
    data such as ``sslasd synth --year-format 2026``): ``--variants channels_subtract
    channels_stack`` with ``--set data.channels=near`` compares near, subtract and stack.
    """
    lora = config.lora
    k = lora.branches if lora.mode == "fc_lora" else 1
    grouped = (
        [] if config.train.sampler == "grouped" else ["train.sampler=grouped", "train.clips_per_group=4"]
    )
    return {
        FULL: [],
        "frozen": ["lora.mode=frozen"],
        "lora_equal_rank": ["lora.mode=lora", f"lora.rank={k * lora.rank}", f"lora.alpha={k * lora.alpha:g}"],
        "lora_rank_r": ["lora.mode=lora"],
        # LoRA also on the pointwise convolutions (CNN backbones; mn04's linears are only SE gates)
        "lora_convs": ["lora.convs=true"],
        "full_finetune": ["lora.mode=full"],
        "no_mga": ["mga.mode=none"],
        "mga_per_machine": ["mga.mode=per_machine"],
        "no_vq": ["vq.enabled=false"],
        "no_contrastive": ["contrastive.enabled=false"],
        "domain_classes": ["head.domain_in_classes=true"],
        "grouped_batches": ["train.sampler=grouped", "train.clips_per_group=4"],
        # the two-view loss (instance + class level, projection head) on grouped_batches' sampler,
        # which gives its class level positives; compare with grouped_batches to isolate the loss
        "contrastive_views": ["contrastive.form=views", *grouped],
        "random_gates": ["mga.gate_init=random"],
        # k-means with 8 starts (the current codes among them) at every (re-)clustering of the VQ
        "vq_restarts": ["vq.restarts=8"],
        # the paper's dynamic VQ (the default until the protocol preferred k-means codes): codes
        # drift by EMA every batch, re-clustered once per epoch from one k-means++ start
        "vq_ema": ["vq.update=ema", "vq.refresh_every=0", "vq.restarts=1"],
        # k-means once before training (on the initial model), the codes fixed after. Close to
        # ASDKit, which also clusters once, but it fixes each clip's label; here a clip takes the
        # nearest fixed code of its current embedding, which drifts away from the codes
        "vq_kmeans_once": ["vq.update=kmeans", f"vq.refresh_every={config.train.steps}"],
        "no_ensemble": ["ensemble.members=[run]"],
        "no_norm": ["backend.params.standardize=false"],
        **{f"channels_{policy}": [f"data.channels={policy}"] for policy in CHANNEL_POLICIES},
    }


#: the variants run by default: the full system, frozen, equal-rank plain LoRA, each component off
DEFAULT_VARIANTS = (FULL, "frozen", "lora_equal_rank", "no_mga", "no_vq", "no_contrastive")


@dataclass
class VariantRow:
    """One line of the table."""

    name: str
    overrides: list[str]
    scores: dict[str, list[float]] = field(default_factory=dict)  # data set -> official score per seed
    difference: Interval | None = None  # variant - reference (floors: reference - floor)
    description: str = ""
    # data set -> NMI of the pseudo-labels with the hidden modes, per seed (synthetic data only;
    # the frozen floor's row: k-means once on its embeddings)
    nmi: dict[str, list[float]] = field(default_factory=dict)
    # NMI of this row minus that of the reference, bootstrapped over sections and seeds (floors:
    # the frozen floor's k-means minus the reference, like the table shows its score)
    nmi_difference: Interval | None = None

    @property
    def mean_nmi(self) -> float | None:
        values = [v for per_seed in self.nmi.values() for v in per_seed]
        return statistics.mean(values) if values else None

    @property
    def mean(self) -> float:
        return statistics.mean(v for values in self.scores.values() for v in values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "overrides": self.overrides,
            "description": self.description,
            "official_scores": self.scores,
            "mean": self.mean,
            "difference": None if self.difference is None else self.difference.to_dict(),
            "nmi": self.nmi,
            "mean_nmi": self.mean_nmi,
            "nmi_difference": None if self.nmi_difference is None else self.nmi_difference.to_dict(),
        }


@dataclass
class AblationTable:
    """The protocol's result: one row per variant and per floor."""

    request: dict[str, Any]
    variants: list[VariantRow]
    floors: list[VariantRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "variants": [r.to_dict() for r in self.variants],
            "floors": [r.to_dict() for r in self.floors],
        }

    def to_markdown(self) -> str:
        """The table in markdown, with the command's settings in a line below it."""
        req = self.request
        ref = req.get("reference", FULL)  # tables written before there was a choice: the full system
        versus = "the full system" if ref == FULL else f"`{ref}`"
        show_nmi = any(r.mean_nmi is not None for r in self.variants)

        def nmi(row: VariantRow) -> str:
            if not show_nmi:
                return ""
            mean = "-" if row.mean_nmi is None else f"{row.mean_nmi:.3f}"
            diff = "-" if row.nmi_difference is None else row.nmi_difference.format(scale=1.0, digits=3)
            return f" {mean} | {diff} |"

        lines = [
            f"| detector | official score (%) | vs {versus}, points [95 % CI] | runs |"
            + (f" pseudo-label NMI | NMI vs {versus} [95 % CI] |" if show_nmi else ""),
            "|---|---|---|---|" + ("---|---|" if show_nmi else ""),
        ]
        for row in self.variants:
            diff = "(reference)" if row.difference is None else row.difference.format()
            runs = sum(len(v) for v in row.scores.values())
            lines.append(f"| {row.name} | {100 * row.mean:.2f} | {diff} | {runs} |{nmi(row)}")
        for row in self.floors:
            # stored as reference - floor; show floor - reference like the variants
            diff = "" if row.difference is None else row.difference.negated().format()
            lines.append(f"| floor: {row.description} | {100 * row.mean:.2f} | {diff} | - |{nmi(row)}")
        overrides = " ".join(f"`{x}`" for x in req["set"])
        channels = (
            f" The full system sees `data.channels={req['channels']}`."
            if any(v.startswith("channels_") for v in req["variants"])
            else ""
        )
        seeds = req["seeds"]
        levels = (
            "over test clips within strata and over training seeds"
            if len(seeds) > 1
            else "over test clips within strata only (one training seed: seed-to-seed variation is not in it)"
        )
        lines += [
            "",
            f"Data sets: {', '.join(req['data_names'])}; training seeds {seeds}; base config "
            f"`{req['config']}`{' ' + overrides if overrides else ''}; floors' difference is floor minus "
            f"{versus}; 95 % intervals from {req['n_boot']} bootstrap replicates {levels}.{channels}",
        ]
        if show_nmi:
            lines.append(
                "Pseudo-label NMI: normalised mutual information of the final VQ pseudo-labels "
                "(`fit/pseudo_labels.csv`) with the hidden operating modes of the unattributed "
                "sections (`synth_truth.csv`), mean over sections and runs; the frozen floor's "
                "value is k-means with as many clusters, once, on its embeddings. Its interval "
                "resamples those sections, the same draw for every variant"
                + (
                    ", and the training seeds."
                    if len(seeds) > 1
                    else " (one training seed: seed-to-seed variation is not in it)."
                )
            )
        return "\n".join(lines) + "\n"


def ablate(
    out: str | os.PathLike,
    data: Sequence[str | os.PathLike],
    *,
    config: str = "cpu",
    set: Sequence[str] = (),
    variants: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1),
    jobs: int = 1,
    n_boot: int = DEFAULT_BOOT,
    reference: str = FULL,
) -> AblationTable:
    """Run the protocol into ``out`` (resuming what is there) and return its table.

    Parameters
    ----------
    out : path
        Protocol folder. A folder made by another request (other data, config or overrides) is
        refused; more variants or seeds may be added to an existing one.
    data : paths
        DCASE-layout data sets (e.g. ``sslasd synth --preset small --seed N --test-per-group 50``).
    config, set :
        Base preset or YAML and overrides, for every run.
    variants : names, optional
        Default :data:`DEFAULT_VARIANTS`; all names: :func:`variant_overrides`.
    seeds : ints
        Training seeds (``train.seed``).
    jobs : int
        Runs at once, each in its own process.
    n_boot : int
        Bootstrap replicates of the intervals.
    reference : variant name
        What every difference is taken against (default the full system): a variant against its own
        control, e.g. ``contrastive_views`` against ``grouped_batches``, which shares its sampler.
        Added to the variants when missing. The full system is always run: the floors live in its
        first seed's run folder.
    """
    base = load_config(config, list(set))  # validated before any work starts
    known = variant_overrides(base)
    chosen = list(variants or DEFAULT_VARIANTS)
    unknown = [v for v in chosen if v not in known and not v.startswith(CONFIG_PREFIX)]
    if unknown:
        raise ConfigError(
            f"variants: unknown {unknown}; known: {', '.join(known)}, or {CONFIG_PREFIX}<preset or YAML>"
        )
    if reference not in known and not reference.startswith(CONFIG_PREFIX):
        raise ConfigError(f"reference: unknown variant {reference!r}; known: {', '.join(known)}")
    for must in dict.fromkeys((reference, FULL)):  # the full system first, then the reference
        if must not in chosen:
            chosen.insert(0, must)
    if not seeds:
        raise ConfigError("seeds: need at least one training seed")
    sources = {name: _source(config, set, known, name) for name in chosen}
    for source, overrides in sources.values():  # every variant's config validates before any run
        load_config(source, overrides)
    roots = [Path(d).expanduser().resolve() for d in data]
    names = _data_names(roots)
    root = Path(out).expanduser().resolve()
    request = {
        "data": [str(r) for r in roots],
        "data_names": names,
        "config": str(config),
        "set": list(set),
        "variants": chosen,
        "seeds": list(seeds),
        "n_boot": n_boot,
        "channels": base.data.channels,
        "reference": reference,
    }
    _open(root, request)
    # seed-major order: a protocol stopped early has every variant on every data set for some seeds
    tasks = [
        (
            str(root / "runs" / name / _folder(variant, seed)),
            str(data_root),
            sources[variant][0],
            [*sources[variant][1], f"train.seed={seed}"],
            variant == FULL and seed == seeds[0],
            str(root / "cache"),
        )
        for seed in seeds
        for name, data_root in zip(names, roots)
        for variant in chosen
    ]
    if jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            list(pool.map(_run_one, tasks, [threads] * len(tasks)))
    else:
        for task in tasks:
            _run_one(task, None)
    table = _table(root, request, names, roots, chosen, known, list(seeds), n_boot)
    kept = root / "tables" / _table_name(chosen, seeds, names, reference)
    kept.parent.mkdir(exist_ok=True)
    for path in (root / "table", kept):
        # name + suffix, not with_suffix: a stem may hold dots (a config variant's YAML path)
        atomic_write_json(path.parent / f"{path.name}.json", table.to_dict())
        atomic_write_text(path.parent / f"{path.name}.md", table.to_markdown())
    return table


def _table_name(
    variants: Sequence[str], seeds: Sequence[int], names: Sequence[str], reference: str = FULL
) -> str:
    """The file stem of a request's table: what it compares, readable, at most ~120 characters
    (a long request ends in a hash of the whole name, so two requests never share a file)."""
    parts = ["+".join(_slug(v) for v in variants)]
    parts += [f"seed{'-'.join(str(s) for s in seeds)}", "+".join(names)]
    if reference != FULL:
        parts.append(f"vs-{_slug(reference)}")
    name = "_".join(parts)
    if len(name) > 120:
        name = f"{name[:100]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return name


def _source(
    config: str | os.PathLike, set: Sequence[str], known: dict[str, list[str]], variant: str
) -> tuple[str, list[str]]:
    """The config and overrides of ``variant``'s runs."""
    if variant.startswith(CONFIG_PREFIX):
        return variant[len(CONFIG_PREFIX) :], list(set)
    return str(config), [*set, *known[variant]]


def _slug(variant: str) -> str:
    """A variant as a file name (``config:paper/dcase2024`` becomes ``config-paper-dcase2024``)."""
    return variant.replace(":", "-").replace("/", "-")


def _folder(variant: str, seed: int) -> str:
    """A run's folder name under ``OUT/runs/<data>/``."""
    return f"{_slug(variant)}-seed{seed}"


def _data_names(roots: list[Path]) -> list[str]:
    names = [r.name for r in roots]
    if len(set(names)) != len(names):
        names = [f"{i}-{r.name}" for i, r in enumerate(roots)]
    return names


def _open(root: Path, request: dict[str, Any]) -> None:
    """Create the protocol folder, or check that an existing one was made by a compatible request.

    The base config and overrides must be the same; data sets, variants and seeds may be added or
    left out (a table over a subset is made from the runs it needs), but a data set name must keep
    naming the same folder, since its runs are reused.
    """
    path = root / "protocol.json"
    known: dict[str, str] = {}
    if path.is_file():
        saved = json.loads(path.read_text())
        known = dict(zip(saved.get("data_names", []), saved.get("data", [])))
        fixed = ("config", "set")
        diff = [f"{k}: {saved.get(k)!r} -> {request[k]!r}" for k in fixed if saved.get(k) != request[k]]
        diff += [
            f"data set {name!r}: {known[name]} -> {data}"
            for name, data in zip(request["data_names"], request["data"])
            if known.get(name, data) != data
        ]
        if diff:
            raise RunError(
                f"{root} holds a protocol of another request ({'; '.join(diff)}); pick a new folder"
            )
    elif root.exists() and any(root.iterdir()):
        raise RunError(f"{root}: exists and is not an sslasd ablation folder; pick a new folder")
    root.mkdir(parents=True, exist_ok=True)
    known.update(zip(request["data_names"], request["data"]))
    atomic_write_json(path, {**request, "data_names": list(known), "data": list(known.values())})


def _run_one(task: tuple[str, str, str, list[str], bool, str], threads: int | None) -> str:
    """Fit and score one run (a no-op when both are done). Runs in a worker process with ``jobs``."""
    import torch

    from sslasd.pipeline.fit import fit
    from sslasd.pipeline.score import score

    if threads is not None:
        torch.set_num_threads(threads)
    # `cache`: one decoded-audio folder for all runs (its keys name the file), not a copy per run:
    # a protocol of 40 runs on `small` would otherwise keep about 90 GB of duplicate audio
    run, data, config, overrides, floors, cache = task
    log.info("protocol run %s", run)
    fit(data, run, config=config, set=overrides, floors=floors, progress=False, cache_dir=cache)
    score(run, data, floors=floors, cache_dir=cache)
    return run


def _table(
    root: Path,
    request: dict[str, Any],
    names: list[str],
    roots: list[Path],
    variants: list[str],
    known: dict[str, list[str]],
    seeds: list[int],
    n_boot: int,
) -> AblationTable:
    from sslasd.pipeline.evaluate import evaluate

    tables: dict[str, ScoreTable] = {}
    scores: dict[tuple[str, str], list[np.ndarray]] = {}  # (variant or floor:<name>, data) -> per seed
    # the same keys -> per seed, each section's pseudo-label NMI
    nmis: dict[tuple[str, str], list[dict[tuple[str, str], float]]] = {}
    for name, data_root in zip(names, roots):
        truth = read_mode_truth(data_root)
        for variant in variants:
            for seed in seeds:
                run = RunDir.at(root / "runs" / name / _folder(variant, seed))
                scores_dir = run.scores_root / data_root.name
                result = evaluate(scores_dir, data_root, floors=False)
                table = tables.setdefault(name, ScoreTable.from_result(result))
                scores.setdefault((variant, name), []).append(table.scores_of(result, str(scores_dir)))
                if truth is not None and run.pseudo_labels_path.is_file():
                    nmis.setdefault((variant, name), []).append(_nmi(run, truth))
                if variant == FULL and seed == seeds[0]:
                    if truth is not None and run.pseudo_labels_path.is_file():
                        frozen = _frozen_nmi(run, truth)
                        if frozen is not None:
                            nmis[("floor:frozen", name)] = [frozen]
                    for floor in ("logmel", "frozen"):
                        folder = floor_scores_dir(run, scores_dir, floor)
                        if is_done(folder):
                            floor_result = evaluate(folder, data_root, floors=False)
                            scores[(f"floor:{floor}", name)] = [table.scores_of(floor_result, str(folder))]
    ref = request["reference"]  # every difference is taken against it
    keys = [v for v in variants if any((v, n) in scores for n in names)]
    keys += sorted({k for k, _ in scores if k.startswith("floor:")})
    officials = {
        (k, name): [tables[name].official(s) for s in scores[(k, name)]]
        for k in keys
        for name in names
        if (k, name) in scores
    }
    replicates = _bootstrap(tables, scores, keys, names, n_boot)
    # paired NMI intervals need the reference's labelled sections in every run of a key
    with_nmi = [
        k
        for k in keys
        if all((ref, n) in nmis and (k, n) in nmis for n in names)
        and all(set(r) == set(nmis[(ref, n)][0]) for n in names for r in nmis[(k, n)])
    ]
    nmi_reps = (
        nmi_replicates({k: {n: nmis[(k, n)] for n in names} for k in with_nmi}, n_boot) if with_nmi else {}
    )
    # (key, data) -> each run's NMI, the mean over its sections
    nmi_means = {
        key: [statistics.mean(r.values()) if r else float("nan") for r in runs] for key, runs in nmis.items()
    }

    def nmi_of(k: str) -> tuple[dict[str, list[float]], Interval | None]:
        per_data = {name: nmi_means[(k, name)] for name in names if (k, name) in nmi_means}
        if k == ref or k not in nmi_reps:
            return per_data, None
        estimate = _mean_over_data(nmi_means, k, names) - _mean_over_data(nmi_means, ref, names)
        return per_data, percentile_interval(estimate, nmi_reps[k] - nmi_reps[ref])

    rows, floors = [], []
    for k in keys:
        per_data = {name: officials[(k, name)] for name in names if (k, name) in officials}
        if k.startswith("floor:"):
            floor = k.split(":", 1)[1]
            if set(per_data) != set(names):
                continue  # a floor missing on some data set is left out rather than half-averaged
            estimate = _mean_over_data(officials, ref, names) - _mean_over_data(officials, k, names)
            row = VariantRow(
                floor, [], per_data, percentile_interval(estimate, replicates[ref] - replicates[k])
            )
            row.description = describe(floor)
            row.nmi, row.nmi_difference = nmi_of(k)
            floors.append(row)
            continue
        diff = None
        if k != ref:
            estimate = _mean_over_data(officials, k, names) - _mean_over_data(officials, ref, names)
            diff = percentile_interval(estimate, replicates[k] - replicates[ref])
        nmi, nmi_diff = nmi_of(k)
        overrides = known[k] if k in known else [f"--config {k[len(CONFIG_PREFIX) :]}"]
        rows.append(VariantRow(k, overrides, per_data, diff, nmi=nmi, nmi_difference=nmi_diff))
    return AblationTable(request, rows, floors)


def _nmi(run: RunDir, truth: dict[tuple[str, str], str]) -> dict[tuple[str, str], float]:
    """Each section's NMI of ``run``'s final pseudo-labels with the hidden modes."""
    return section_nmi(read_pseudo_labels(run.pseudo_labels_path), truth)


def _frozen_nmi(run: RunDir, truth: dict[tuple[str, str], str]) -> dict[tuple[str, str], float] | None:
    """Each section's NMI of k-means once on ``run``'s frozen floor's embeddings of the clips its
    VQ labelled, with as many clusters (None without that floor)."""
    groups = read_pseudo_labels(run.pseudo_labels_path)
    bank = RunLayout.at(run.floor_dir("frozen")).bank_embeddings_path
    if not bank.is_file():
        return None
    emb = read_embeddings(bank)
    k = int(run.read_info()["labels"]["n_codes"])
    return section_nmi(kmeans_labels(emb["embeddings"], emb["machines"], emb["names"], groups, k), truth)


def _mean_over_data(officials: dict[tuple[str, str], list[float]], key: str, names: list[str]) -> float:
    return statistics.mean(statistics.mean(officials[(key, name)]) for name in names)


def _bootstrap(
    tables: dict[str, ScoreTable],
    scores: dict[tuple[str, str], list[np.ndarray]],
    keys: list[str],
    names: list[str],
    n_boot: int,
) -> dict[str, np.ndarray]:
    """Replicates of each key's mean (over data sets) official score, clips and seeds resampled."""
    rng = np.random.default_rng(0)
    out = {k: np.zeros(n_boot) for k in keys}
    for b in range(n_boot):
        for name in names:
            weights = tables[name].draw(rng)
            for k in keys:
                runs = scores.get((k, name))
                if not runs:
                    continue
                values = np.array([tables[name].official(r, weights) for r in runs])
                picks = rng.integers(0, len(runs), size=len(runs))
                out[k][b] += values[picks].mean() / len(names)
    return out
