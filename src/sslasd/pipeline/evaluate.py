"""``sslasd evaluate``: official DCASE scores of a folder of challenge files against a data set."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from sslasd._common import atomic_write_json, get_logger
from sslasd._common.run_layout import METRICS
from sslasd.data import apply_ground_truth, check_audio_file, index_dataset, read_ground_truth
from sslasd.data.clip import Clip
from sslasd.errors import DataError
from sslasd.evaluation import ChallengeScores, EvaluationResult, clip_key, evaluate_scores, read_challenge_dir
from sslasd.evaluation.bootstrap import compare_results
from sslasd.evaluation.join import format_names
from sslasd.evaluation.result import DEFAULT_BOOT, FloorComparison
from sslasd.pipeline.floors import describe, floors_of_scores

log = get_logger("evaluate")


def evaluate(
    scores: str | os.PathLike,
    data: str | os.PathLike,
    *,
    ground_truth: str | os.PathLike | None = None,
    year: int | None = None,
    json: str | os.PathLike | None = None,
    floors: bool = True,
    n_boot: int = DEFAULT_BOOT,
    skip_bad: bool = False,
) -> EvaluationResult:
    """Score the challenge files in ``scores`` against the test clips of ``data``.

    Parameters
    ----------
    scores : path
        Folder of ``anomaly_score_*.csv`` (and optionally ``decision_result_*.csv``) files, in the
        year's challenge grammar (as ``sslasd score`` writes them).
    data : path
        DCASE-layout data root (``<machine>/test/*.wav``). When it holds both a development and an
        evaluation set, the set whose clips the score files name is used.
    ground_truth : path, optional
        Labels of evaluation-set clips (any form :func:`sslasd.data.read_ground_truth` reads).
    year : int, optional
        DCASE rule to apply; by default the year the data set's file names follow.
    json : path, optional
        Write :meth:`EvaluationResult.to_dict` there (atomically), e.g. ``<scores>/metrics.json`` for
        ``sslasd report``. Each floor's own result goes to ``metrics.json`` in its scores folder.
    floors : bool
        When ``scores`` is a run's scores folder whose floors were scored (``sslasd score`` does it),
        evaluate them too and compare: ``result.floors`` holds each floor's official score and the
        run-minus-floor difference with a 95 % paired bootstrap interval over the test clips
        (resampled within machine/section/domain/label), ``n_boot`` replicates.
    skip_bad : bool
        Leave out test files that cannot be used (bad name or audio), as ``sslasd score --skip-bad``
        did, so that the scores and the clips agree.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    DataError
        Malformed challenge files; scores that do not name exactly the labelled test clips of the
        data set (missing, extra, or filed under the wrong machine/section); unlabelled clips without
        ``ground_truth``; decision files for some sections only.

    Example
    -------
    >>> import sslasd
    >>> r = sslasd.evaluate("runs/x/scores/dev", "data/dcase2024/dev_data")  # doctest: +SKIP
    >>> print(r.format_table().splitlines()[-1])  # doctest: +SKIP
    official score (DCASE 2024 rule, development set): 61.02
    """
    index = index_dataset(data, year=year, skip_bad=skip_bad, check_audio=skip_bad)
    if ground_truth is not None:
        index = apply_ground_truth(index, read_ground_truth(ground_truth))
    year = index.year if year is None else year
    files = read_challenge_dir(scores, year=year)
    keyed = _keyed(files)
    clips = _test_clips(index.select(split="test"), keyed)
    _check_sections(clips, files)
    unlabelled = [clip_key(c) for c in clips if c.label == "unknown"]
    if unlabelled:
        raise DataError(
            f"{data}: {len(unlabelled)} test clips have no label ({format_names(unlabelled)}); "
            "pass the evaluation set's ground truth (ground_truth=..., --ground-truth FILE)"
        )
    try:
        result = evaluate_scores(clips, keyed, year=year, decisions=_decisions(files))
    except DataError as exc:
        unscored = [c for c in clips if clip_key(c) not in keyed]
        if skip_bad or not unscored or not all(_unreadable(c) for c in unscored):
            raise
        raise DataError(
            f"{exc}; those files cannot be read as audio: if the scores were made with "
            "`sslasd score --skip-bad`, pass --skip-bad here too to leave them out"
        ) from None
    if floors:
        result = _with_floors(result, Path(scores), clips, year, json is not None, n_boot)
    if json is not None:
        atomic_write_json(json, result.to_dict())
        log.info("wrote %s", json)
    return result


def _unreadable(clip: Clip) -> bool:
    """True when ``clip``'s file is one that ``--skip-bad`` would leave out."""
    try:
        check_audio_file(clip.path)
    except DataError:
        return True
    return False


def _with_floors(
    result: EvaluationResult, scores: Path, clips: list[Clip], year: int, write: bool, n_boot: int
) -> EvaluationResult:
    """``result`` with its run's floors evaluated on the same clips and compared."""
    comparisons = []
    for name, folder in floors_of_scores(scores).items():
        files = read_challenge_dir(folder, year=year)
        floor = evaluate_scores(clips, _keyed(files), year=year, decisions=_decisions(files))
        if write:
            atomic_write_json(folder / METRICS, floor.to_dict())
        comparisons.append(
            FloorComparison(
                name, describe(name), floor.official_score, compare_results(result, floor, n_boot=n_boot)
            )
        )
    return replace(result, floors=comparisons)


def _keyed(files: dict[tuple[str, str], ChallengeScores]) -> dict[str, float]:
    """Every score of the challenge files keyed ``<machine>/<file name>``."""
    return {f"{m}/{name}": value for (m, _), cs in files.items() for name, value in cs.scores.items()}


def _test_clips(clips: list[Clip], keyed: dict[str, float]) -> list[Clip]:
    """The test clips of the release(s) (dev/eval) that the score files name; all if they name none."""
    named = {c.dataset for c in clips if clip_key(c) in keyed}
    return [c for c in clips if c.dataset in named] if named else clips


def _check_sections(clips: list[Clip], files: dict[tuple[str, str], ChallengeScores]) -> None:
    """Refuse scores filed under another section than their clip's."""
    section_of = {clip_key(c): c.section for c in clips}
    misplaced = [
        f"{m}/{name} (file section {s}, clip section {section_of[f'{m}/{name}']})"
        for (m, s), cs in files.items()
        for name in cs.scores
        if section_of.get(f"{m}/{name}", s) != s
    ]
    if misplaced:
        raise DataError(f"{len(misplaced)} scores are in another section's file: {format_names(misplaced)}")


def _decisions(files: dict[tuple[str, str], ChallengeScores]) -> dict[str, int] | None:
    """All decisions keyed ``<machine>/<name>``, None when there are no decision files at all."""
    without = [f"{m} section {s}" for (m, s), cs in files.items() if cs.decisions is None]
    if len(without) == len(files):
        return None
    if without:
        raise DataError(
            f"decision_result files are missing for {len(without)} sections: {format_names(without)}"
        )
    return {f"{m}/{name}": v for (m, _), cs in files.items() for name, v in (cs.decisions or {}).items()}
