"""Scores join to clips by file name one to one, or the evaluation refuses with the offending names."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from sslasd.errors import DataError
from sslasd.evaluation import evaluate_scores, join_scores

SPEC = {
    ("fan", "00", "source", "normal"): [0.1, 0.2],
    ("fan", "00", "source", "anomaly"): [0.9],
    ("fan", "00", "target", "normal"): [0.3],
    ("fan", "00", "target", "anomaly"): [0.8],
}
NAME = "section_00_source_test_normal_0000.wav"


@pytest.fixture
def clips_scores(clips_from):
    return clips_from(2024, SPEC)


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: _without(s, f"fan/{NAME}"), f"1 clips have no score: fan/{NAME}"),
        (lambda s: {**s, "fan/extra.wav": 0.5}, "1 scores name no test clip: fan/extra.wav"),
        (lambda s: {**s, "pump/" + NAME: 0.5}, f"1 scores name no test clip: pump/{NAME}"),
        (lambda s: {**s, NAME: 0.5}, f"1 clips have two scores .*: fan/{NAME}"),
        (lambda s: {**s, f"fan/{NAME}": math.nan}, f"1 scores are not a finite number: fan/{NAME}=nan"),
        (lambda s: {**s, f"fan/{NAME}": -math.inf}, f"scores are not a finite number: fan/{NAME}=-inf"),
        (lambda s: {**s, f"fan/{NAME}": "high"}, f"scores are not a finite number: fan/{NAME}='high'"),
        (lambda s: {**s, f"fan/{NAME}": None}, "scores are not a finite number"),
        (lambda s: {}, "5 clips have no score"),
    ],
)
def test_score_mismatch_is_refused(change, message, clips_scores) -> None:
    clips, scores = clips_scores
    with pytest.raises(DataError, match=message):
        evaluate_scores(clips, change(scores), year=2024)


def test_several_problems_are_reported_together(clips_scores) -> None:
    clips, scores = clips_scores
    broken = {**_without(scores, f"fan/{NAME}"), "fan/x.wav": 1.0}
    with pytest.raises(DataError) as info:
        evaluate_scores(clips, broken, year=2024)
    text = str(info.value)
    assert "do not match the 5 test clips one to one" in text
    assert f"1 clips have no score: fan/{NAME}" in text and "1 scores name no test clip: fan/x.wav" in text


def test_bare_names_join_when_unique_and_are_refused_when_ambiguous(clips_from) -> None:
    clips, scores = clips_from(2024, SPEC)
    bare = {k.split("/", 1)[1]: v for k, v in scores.items()}
    assert (
        evaluate_scores(clips, bare, year=2024).official_score
        == evaluate_scores(clips, scores, year=2024).official_score
    )
    other, other_scores = clips_from(2024, {("valve", *k[1:]): v for k, v in SPEC.items()})
    with pytest.raises(
        DataError, match=r"5 score keys match clips of several machines .*'<machine>/<file name>'"
    ):
        evaluate_scores(
            clips + other, {**bare, **{k.split("/", 1)[1]: v for k, v in other_scores.items()}}, year=2024
        )
    joined = join_scores(clips + other, {**scores, **other_scores})
    assert [j.machine for j in joined] == ["fan"] * 5 + ["valve"] * 5


def test_names_are_listed_up_to_20(clips_from) -> None:
    clips, _ = clips_from(2024, {**SPEC, ("fan", "00", "source", "normal"): [0.0] * 30})
    with pytest.raises(DataError) as info:
        evaluate_scores(clips, {}, year=2024)
    text = str(info.value)
    assert "33 clips have no score" in text and "... and 13 more" in text
    assert text.count("fan/section_") == 20


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: [*c, c[0]], f"1 clips are listed more than once: fan/{NAME}"),
        (
            lambda c: [replace(c[0], label="unknown"), *c[1:]],
            f"1 test clips have no normal/anomaly label .*fan/{NAME}",
        ),
        (
            lambda c: [replace(c[0], domain="unknown"), *c[1:]],
            f"1 test clips have no source/target domain .*fan/{NAME}",
        ),
        (lambda c: [], "no test clips to evaluate"),
    ],
)
def test_bad_clips_are_refused(change, message, clips_scores) -> None:
    clips, scores = clips_scores
    with pytest.raises(DataError, match=message):
        evaluate_scores(change(clips), scores, year=2024)


def test_2020_needs_no_domain(clips_from) -> None:
    clips, scores = clips_from(
        2020, {("fan", "00", "none", "normal"): [0.1], ("fan", "00", "none", "anomaly"): [0.2]}
    )
    assert evaluate_scores(clips, scores, year=2020).official_score == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: {**d, f"fan/{NAME}": 2}, f"decisions are not 0 or 1: fan/{NAME}=2"),
        (lambda d: {**d, f"fan/{NAME}": 0.5}, "decisions are not 0 or 1"),
        (lambda d: _without(d, f"fan/{NAME}"), f"1 clips have no decision: fan/{NAME}"),
    ],
)
def test_decision_mismatch_is_refused(change, message, clips_scores) -> None:
    clips, scores = clips_scores
    decisions = {k: int(v > 0.5) for k, v in scores.items()}
    with pytest.raises(DataError, match=message):
        evaluate_scores(clips, scores, year=2024, decisions=change(decisions))
