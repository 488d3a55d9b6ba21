"""``sslasd demo``: the whole toolkit on a synthetic data set, in minutes on a laptop CPU.

Stages: synth -> fit -> score -> evaluate -> report, each announced with a progress line and
timed. The demo folder ``OUT/`` holds ``data/`` (the synthetic set), ``run/`` (the run folder,
with ``run/report.html``) and ``demo.json``, which records the finished stages: running the demo
again skips them, and an interrupted demo goes on where it stopped (training resumes from its
last checkpoint).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from sslasd._common import atomic_write_json, get_logger
from sslasd._common.run_layout import DONE, METRICS, RunLayout
from sslasd.errors import ConfigError, RunError, SslasdError
from sslasd.evaluation.result import format_floors
from sslasd.pipeline.config import PRETRAINED_ASSET, default_config, load_config, pretrained_checkpoint

log = get_logger("demo")
PRESETS = ("tiny", "small")
STAGES = ("synth", "fit", "score", "evaluate", "report")


@dataclass(frozen=True)
class DemoResult:
    """What a demo made, and how long each stage took.

    Attributes
    ----------
    out, data, run, scores, report : Path
        The demo folder, the synthetic data set, the run folder, its scores folder, the HTML report.
    official_score : float
        The official DCASE score (a fraction) by the rule of the data set's naming year.
    machine_scores : dict[str, float]
        Each machine's score by the same rule.
    floors : list of dict
        The run's training-free floors on the same clips (``metrics.json`` records: name,
        description, official_score, difference with its interval).
    config : str
        The training config used (``cpu`` with a pretrained backbone, ``logmel`` without).
    pretrained : bool
        Whether the backbone started from pretrained weights.
    seconds : dict[str, float]
        Wall time of each stage in this call (0 for a stage that was already done).
    """

    out: Path
    data: Path
    run: Path
    scores: Path
    report: Path
    official_score: float
    machine_scores: dict[str, float]
    floors: list[dict[str, Any]]
    config: str
    pretrained: bool
    seconds: dict[str, float] = field(default_factory=dict)

    def floors_summary(self) -> str:
        """The run beside its floors, with a warning when it does not beat them (empty without)."""
        return format_floors(self.official_score, self.floors)


def demo_config(fetch: bool = True) -> tuple[str, str | None]:
    """The demo's config (:func:`~sslasd.pipeline.config.default_config`) and a message or None;
    with ``fetch``, the pretrained checkpoint is first downloaded when it is missing and the network
    allows (4 MB, SHA-256 checked), so that a fresh machine runs the real system."""
    if fetch and not pretrained_checkpoint().is_file():
        from sslasd.pipeline.download import download

        try:
            download(PRETRAINED_ASSET)
        except (SslasdError, OSError) as exc:
            log.info("could not download %s: %s", PRETRAINED_ASSET, exc)
    return default_config()


def demo(
    *,
    out: str | os.PathLike = "runs/demo",
    preset: str = "small",
    config: str | os.PathLike | None = None,
    seed: int = 0,
    year_format: int = 2024,
    channels: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> DemoResult:
    """Build a synthetic data set, train, score, evaluate and report, all in ``out``.

    Parameters
    ----------
    out : path
        Demo folder; made if absent. A finished demo there is a no-op; an unfinished one resumes.
    preset : {"tiny", "small"}
        Size of the synthetic data set: ``tiny`` (seconds, for CI) or ``small`` (the demo).
    config : preset name or YAML path, optional
        Training config; default ``cpu`` when the EfficientAT mn04 checkpoint is in the cache or can
        be downloaded now (``sslasd download efficientat-mn04``), else ``logmel`` (the
        training-free log-mel detector).
    seed : int
        Seed of the data set and of training.
    year_format : int
        DCASE edition whose names (and, for 2026, two microphones) the synthetic set follows.
    channels : {"mean", "near", "far", "stack", "subtract"}, optional
        Channel policy of the run (``data.channels``); default: the config's (``mean``).
    overwrite : bool
        Delete an earlier demo in ``out`` (made with other settings) and start over.
    progress : bool
        Print a line per stage and the training progress bar.

    Returns
    -------
    DemoResult

    Raises
    ------
    ConfigError
        ``preset`` or ``config`` is unknown.
    RunError
        ``out`` holds something else than a demo, or a demo with other settings (without ``overwrite``).

    Example
    -------
    >>> result = demo(out="runs/demo", preset="tiny")  # doctest: +SKIP
    >>> print(f"{100 * result.official_score:.2f}", result.report)  # doctest: +SKIP
    """
    if preset not in PRESETS:
        raise ConfigError(f"preset: {preset!r} is not one of {', '.join(PRESETS)}")
    console = Console(quiet=not progress, highlight=False, soft_wrap=True)
    message = None
    if config is None:
        config, message = demo_config()
    root = Path(out).expanduser().resolve()
    settings = {
        "preset": preset,
        "seed": seed,
        "config": str(config),
        "year_format": year_format,
        "channels": channels,
    }
    state = _open_demo(root, settings, overwrite)
    if message:
        console.print(f"[yellow]{message}[/]")
    console.print(
        f"[bold]sslasd demo[/]: {preset} synthetic set (DCASE {year_format} format), {config} config"
        f"{f', data.channels={channels}' if channels else ''}, seed {seed}, in {root}"
    )
    run = RunLayout(root / "run")
    paths = {"data": root / "data", "run": run.root, "scores": run.scores_root / "data"}
    paths["report"] = run.report_path
    overrides = [f"train.seed={seed}"] + ([f"data.channels={channels}"] if channels else [])
    load_config(config, overrides)  # a bad channel policy is refused before any work
    actions = _actions(paths, preset, str(config), overrides, year_format, progress)
    seconds: dict[str, float] = {}
    for i, stage in enumerate(STAGES, start=1):
        seconds[stage] = _run_stage(console, state, root, i, stage, actions[stage])
    metrics = json.loads((paths["scores"] / METRICS).read_text())
    total = sum(seconds.values())
    console.print(f"[bold green]done[/] in {total:.0f} s")
    return DemoResult(
        out=root,
        data=paths["data"],
        run=paths["run"],
        scores=paths["scores"],
        report=paths["report"],
        official_score=float(metrics["official_score"]),
        machine_scores={
            m: float(v["score"]) for m, v in (metrics.get("machines") or {}).items() if "score" in v
        },
        floors=list(metrics.get("floors") or []),
        config=str(config),
        pretrained=load_config(config).backbone.checkpoint is not None,
        seconds=seconds,
    )


def _actions(
    paths: dict[str, Path], preset: str, config: str, overrides: list[str], year_format: int, progress: bool
) -> dict[str, Any]:
    """Per stage: (what it does, the call that does it, the file whose presence means done)."""
    from sslasd.pipeline.evaluate import evaluate
    from sslasd.pipeline.fit import fit
    from sslasd.pipeline.report import report
    from sslasd.pipeline.score import score
    from sslasd.pipeline.synth import synth

    data, run, scores = paths["data"], paths["run"], paths["scores"]
    layout = RunLayout(run)
    cfg = load_config(config, overrides)
    seed = cfg.train.seed
    return {
        "synth": (
            f"build the {preset} synthetic data set",
            lambda: synth(data, preset=preset, seed=seed, year_format=year_format),
            data,
        ),
        "fit": (
            f"train ({config} config) and build the memory banks",
            lambda: fit(data, run, config=config, set=overrides, progress=progress),
            layout.banks_dir / DONE if cfg.ensemble.members == ["run"] else layout.ensemble_path,
        ),
        "score": ("score the test clips", lambda: score(run, data), scores / DONE),
        "evaluate": (
            "official DCASE scores",
            lambda: evaluate(scores, data, json=scores / METRICS),
            scores / METRICS,
        ),
        "report": ("write the HTML report", lambda: report(run, scores=scores), paths["report"]),
    }


def _run_stage(
    console: Console,
    state: dict[str, Any],
    root: Path,
    i: int,
    stage: str,
    action: tuple[str, Callable, Path],
) -> float:
    what, call, product = action
    head = f"[bold cyan][{i}/{len(STAGES)}] {stage}[/]: {what}"
    if stage in state["done"] and product.exists():
        console.print(f"{head} [dim]already done[/]")
        return 0.0
    console.print(f"{head} ...")
    start = time.perf_counter()
    call()
    elapsed = time.perf_counter() - start
    state["done"][stage] = round(elapsed, 2)
    atomic_write_json(root / "demo.json", state)
    console.print(f"    [green]done[/] in {elapsed:.1f} s")
    return elapsed


_SETTING_DEFAULTS = {"year_format": 2024, "channels": None}


def _open_demo(root: Path, settings: dict[str, Any], overwrite: bool) -> dict[str, Any]:
    """The demo's state (``demo.json``), after checking that ``root`` can hold this demo."""
    marker = root / "demo.json"
    if root.exists() and any(root.iterdir()) and not marker.is_file():
        raise RunError(f"{root}: exists and is not an sslasd demo folder (no demo.json); pick another --out")
    if marker.is_file():
        state = json.loads(marker.read_text())
        earlier = {k: state.get(k, _SETTING_DEFAULTS.get(k)) for k in settings}  # older demos lack some
        if earlier == settings and not overwrite:
            return state
        if not overwrite:
            raise RunError(
                f"{root} holds a demo made with {earlier}, not {settings}; "
                "pass --overwrite to delete it and start over, or pick another --out"
            )
        shutil.rmtree(root)
    state = {**settings, "done": {}}
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_json(marker, state)
    return state
