"""``sslasd score``: anomaly scores and decisions of every test clip, in the challenge's file format."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from sslasd._common import atomic_write_text, get_logger, step_lock
from sslasd._common.run_layout import DONE, EMBEDDINGS, is_done
from sslasd.data import AudioCache, Clip, DatasetIndex, index_dataset
from sslasd.errors import DataError, RunError
from sslasd.evaluation import write_challenge_files
from sslasd.pipeline.config import RunConfig
from sslasd.pipeline.detector import Detector
from sslasd.pipeline.embedding import write_embeddings
from sslasd.pipeline.floors import fitted_floors, floor_detector, floor_scores_dir
from sslasd.pipeline.load import load_run
from sslasd.pipeline.rundir import RunDir, data_record, read_done_record

log = get_logger("score")


def score(
    run: str | os.PathLike,
    data: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    precision: str = "auto",
    floors: bool = True,
    skip_bad: bool = False,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Score the test clips of ``data`` with the fitted run ``run``, and with its floors.

    Every clip is scored as ``sslasd detect`` and ``load().score`` score it (the run's windows and
    ``score.aggregate``: :meth:`Detector.score_clips`). Writes
    ``anomaly_score_<machine>_section_<XX>_test.csv`` and ``decision_result_...`` for every machine
    and section (the challenge's names for the data set's year), plus ``embeddings.npz``,
    into ``out`` (default ``RUN/scores/<data folder name>``). The folder is written under a
    temporary name and renamed when complete; an existing complete folder is left as it is.
    The run's fitted floors (:mod:`sslasd.pipeline.floors`) are scored the same way into
    ``RUN/floors/<name>/scores/<data folder name>`` (``<out>/floors/<name>`` with ``out``), unless
    ``floors=False``.

    ``precision``: ``auto`` (bf16 autocast on CUDA, float32 on the CPU), ``32`` or ``bf16``.
    ``skip_bad`` (or the run's ``data.skip_bad``): test files that cannot be used (name or audio) are
    left out and listed in the log instead of stopping the scoring; evaluate with ``skip_bad`` too.
    ``cache_dir``: where decoded audio is kept with ``data.cache`` (default ``RUN/cache``; see
    :func:`~sslasd.pipeline.fit.fit`).

    Returns
    -------
    Path of the scores folder.
    """
    rd = RunDir.at(run)
    config = rd.require_fitted()
    info = rd.read_info()
    skip = skip_bad or config.data.skip_bad
    # every test file is opened now, so that a bad one is named (or skipped) before any scoring
    index = index_dataset(data, year=config.data.year or info.get("year"), skip_bad=skip, check_audio=True)
    for bad in index.skipped:
        log.warning("skipped %s: %s", bad.path, bad.reason)
    clips = index.select(split="test")
    if not clips:
        raise DataError(f"{data}: no test clips found under <machine>/test/")
    config.data.channel_policy().check_files(c.path for c in clips)  # the run's policy, before any scoring
    record = data_record(data, clips)
    out_dir = _scores_dir(rd, data, out, record)

    def waiting() -> None:
        print(f"{out_dir}: another `sslasd score` is writing these scores; waiting for it to finish")

    # two scorings of the same data take turns; the second then finds the scores done
    with step_lock(out_dir.parent / f".{out_dir.name}.lock", on_wait=waiting):
        return _score_locked(rd, config, data, index, clips, record, out_dir, floors, precision, cache_dir)


def _score_locked(
    rd: RunDir,
    config: RunConfig,
    data: str | os.PathLike,
    index: DatasetIndex,
    clips: list[Clip],
    record: dict,
    out_dir: Path,
    floors: bool,
    precision: str,
    cache_dir: str | os.PathLike | None,
) -> Path:
    """The body of :func:`score`, under the lock of ``out_dir``."""
    names = fitted_floors(rd) if floors else []
    targets = [out_dir] + [floor_scores_dir(rd, out_dir, n) for n in names]
    if all(is_done(t) for t in targets):
        print(f"{out_dir}: already scored, nothing to do")
        return out_dir
    for target in targets:
        if not is_done(target) and target.exists() and any(target.iterdir()):
            raise RunError(f"{target}: exists and is not a finished scores folder; refusing to overwrite it")
    detector = load_run(rd.root, precision=precision)
    detector.check_known(clips, where=str(data))
    cache = AudioCache(cache_dir or rd.cache_dir) if config.data.cache else None
    _score_into(detector, clips, out_dir, index.year, cache, record)
    for name in names:
        floor = floor_detector(
            rd,
            name,
            config,
            detector.vocab,
            seconds=detector.num_samples / detector.sample_rate,
            device=detector.device,
            precision=precision,
        )
        _score_into(floor, clips, floor_scores_dir(rd, out_dir, name), index.year, cache, record)
    return out_dir


def _scores_dir(rd: RunDir, data: str | os.PathLike, out: str | os.PathLike | None, record: dict) -> Path:
    """The scores folder: ``out``, else ``RUN/scores/<data folder name>``.

    A finished folder that holds the scores of other clips (another data root with the same folder
    name, or changed files) is never taken for this data: with ``out`` it is an error, by default
    the scores go to ``RUN/scores/<name>-<digest>`` instead.
    """
    if out is not None:
        out_dir = Path(out).expanduser().resolve()
        done = read_done_record(out_dir)
        if done is not None and done != record:
            raise RunError(
                f"{out_dir} holds the scores of {done['data_root']} ({done['files']} test files), not of "
                f"{record['data_root']} ({record['files']}); pick another --out"
            )
        return out_dir
    out_dir = rd.scores_root / Path(data).resolve().name
    done = read_done_record(out_dir)
    if done is not None and done != record:
        out_dir = out_dir.with_name(f"{out_dir.name}-{record['digest'][:8]}")
        log.info("%s: scores of other clips already use that name; writing to %s", data, out_dir)
    return out_dir


def _score_into(
    detector: Detector,
    clips: list[Clip],
    out_dir: Path,
    year: int,
    cache: AudioCache | None,
    record: dict,
) -> None:
    """Score ``clips`` with ``detector`` into the challenge files of ``out_dir`` (atomic)."""
    if is_done(out_dir):
        return
    values, emb = detector.score_clips(clips, cache=cache)
    groups = sorted({(c.machine, c.section) for c in clips})
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would otherwise stick to the scores folder
    try:
        for machine, section in groups:
            rows = [i for i, c in enumerate(clips) if (c.machine, c.section) == (machine, section)]
            names = [clips[i].name for i in rows]
            threshold = detector.threshold(machine, section)
            write_challenge_files(
                tmp,
                machine,
                section,
                dict(zip(names, values[rows].tolist())),
                dict(zip(names, (values[rows] > threshold).astype(int).tolist())),
                year=year,
            )
        write_embeddings(tmp / EMBEDDINGS, clips, emb)
        atomic_write_text(tmp / DONE, json.dumps(record, indent=2))  # what was scored
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked by the caller)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("scored %d clips into %s", len(clips), out_dir)
