"""Join anomaly scores (and decisions) to labelled test clips by file name, or refuse.

The organisers' evaluators sort each score file and the ground truth by name and pair them by
position, so a missing or extra clip silently shifts every label. Here each score is looked up by
name, and anything but an exact one-to-one match is an error that lists the offending names.

DCASE file names repeat across machine types (``fan/test/section_00_...wav`` and
``valve/test/section_00_...wav``), so a score key is either the bare file name, when that name is
unique among the clips, or ``"<machine>/<file name>"`` (:func:`clip_key`), which always is.

Example
-------
>>> from sslasd.data.clip import Clip
>>> c = Clip("fan/test/normal_id_00_0.wav", 2020, "fan", "00", "none", "test", "normal")
>>> clip_key(c)
'fan/normal_id_00_0.wav'
>>> [s.score for s in join_scores([c], {"normal_id_00_0.wav": 0.5})]
[0.5]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sslasd.data.clip import Clip
from sslasd.errors import DataError

MAX_LISTED = 20


@dataclass(frozen=True)
class ScoredClip:
    """A labelled test clip with its anomaly score (higher = more anomalous) and optional decision.

    Attributes
    ----------
    name, machine, section, domain, label : str
        From the :class:`~sslasd.data.clip.Clip`.
    score : float
    decision : int or None
        1 = anomaly, 0 = normal; None when no decisions were given.
    """

    name: str
    machine: str
    section: str
    domain: str
    label: str
    score: float
    decision: int | None

    def to_dict(self) -> dict[str, object]:
        """JSON-able dict with the keys name, machine, section, domain, label, score, decision."""
        return {
            "name": self.name,
            "machine": self.machine,
            "section": self.section,
            "domain": self.domain,
            "label": self.label,
            "score": self.score,
            "decision": self.decision,
        }


def clip_key(clip: Clip) -> str:
    """``"<machine>/<file name>"``: a score key that is unique across machine types."""
    return f"{clip.machine}/{clip.name}"


def format_names(names: Iterable[str], limit: int = MAX_LISTED) -> str:
    """``"a, b, c"`` for up to ``limit`` sorted names, then ``"... and N more"``."""
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    return shown if len(ordered) <= limit else f"{shown} ... and {len(ordered) - limit} more"


def join_scores(
    clips: Sequence[Clip],
    scores: Mapping[str, float],
    decisions: Mapping[str, int] | None = None,
    *,
    need_domain: bool = False,
) -> list[ScoredClip]:
    """Pair every clip with exactly one score (and decision), in the order of ``clips``.

    Parameters
    ----------
    clips : sequence of Clip
        The labelled test clips.
    scores : mapping of str to float
        Score per clip, keyed by file name or by ``"<machine>/<file name>"``.
    decisions : mapping of str to int, optional
        0/1 decision per clip, keyed the same way; must cover the same clips.
    need_domain : bool
        Require every clip's domain to be ``source`` or ``target`` (the 2021-2026 rules).

    Raises
    ------
    DataError
        On an empty clip list, a clip listed twice, an unlabelled clip (or a clip without a domain when
        ``need_domain``), a clip without a score, a score naming no clip, a name that is ambiguous
        across machines, a clip given two scores, a score that is not a finite number, or a decision
        that is not 0 or 1. The message lists up to 20 offending names and their count.
    """
    if not clips:
        raise DataError("no test clips to evaluate")
    _check_clips(clips, need_domain)
    score_of = _numbers(_resolve(clips, scores, "score"), "score", math.isfinite)
    decision_of = None
    if decisions is not None:
        decision_of = _numbers(_resolve(clips, decisions, "decision"), "decision", lambda v: v in (0.0, 1.0))
    return [
        ScoredClip(
            name=c.name,
            machine=c.machine,
            section=c.section,
            domain=c.domain,
            label=c.label,
            score=score_of[clip_key(c)],
            decision=None if decision_of is None else int(decision_of[clip_key(c)]),
        )
        for c in clips
    ]


def _check_clips(clips: Sequence[Clip], need_domain: bool) -> None:
    counts = Counter(clip_key(c) for c in clips)
    _raise_if({key for key, n in counts.items() if n > 1}, "clips are listed more than once")
    _raise_if(
        {clip_key(c) for c in clips if c.label not in ("normal", "anomaly")},
        "test clips have no normal/anomaly label (apply the ground truth first)",
    )
    if need_domain:
        _raise_if(
            {clip_key(c) for c in clips if c.domain not in ("source", "target")},
            "test clips have no source/target domain (apply the ground truth first)",
        )


def _resolve(clips: Sequence[Clip], values: Mapping[str, object], what: str) -> dict[str, object]:
    """Map each clip key to its value; raise on missing, unknown, ambiguous or doubly given entries."""
    by_key = {clip_key(c): c for c in clips}
    by_name: dict[str, list[str]] = {}
    for c in clips:
        by_name.setdefault(c.name, []).append(clip_key(c))
    resolved: dict[str, object] = {}
    given_twice: set[str] = set()
    unknown: set[str] = set()
    ambiguous: set[str] = set()
    for key, value in values.items():
        key = str(key)
        if key in by_key:
            target = key
        elif len(by_name.get(key, ())) == 1:
            target = by_name[key][0]
        elif key in by_name:
            ambiguous.add(key)
            continue
        else:
            unknown.add(key)
            continue
        if target in resolved:
            given_twice.add(target)
        resolved[target] = value
    missing = set(by_key) - set(resolved)
    problems = [
        (missing, f"clips have no {what}"),
        (unknown, f"{what}s name no test clip"),
        (ambiguous, f"{what} keys match clips of several machines (use '<machine>/<file name>')"),
        (given_twice, f"clips have two {what}s (by file name and by '<machine>/<file name>')"),
    ]
    message = "; ".join(_describe(names, text) for names, text in problems if names)
    if message:
        raise DataError(f"{what}s do not match the {len(clips)} test clips one to one: {message}")
    return resolved


def _numbers(values: dict[str, object], what: str, ok: Callable[[float], bool]) -> dict[str, float]:
    """The values as floats; raise listing those that are not numbers or fail ``ok``."""
    numbers: dict[str, float] = {}
    bad = set()
    for key, value in values.items():
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = math.nan
        if ok(number):
            numbers[key] = number
        else:
            bad.add(f"{key}={value!r}")
    expected = "a finite number" if what == "score" else "0 or 1"
    _raise_if(bad, f"{what}s are not {expected}")
    return numbers


def _describe(names: set[str], text: str) -> str:
    return f"{len(names)} {text}: {format_names(names)}"


def _raise_if(names: set[str], text: str) -> None:
    if names:
        raise DataError(_describe(names, text))
