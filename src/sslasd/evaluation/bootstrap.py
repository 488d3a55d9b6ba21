"""How sure is a difference of official scores? A paired bootstrap over the test clips.

Two detectors scored on the same test clips are compared by resampling those clips with
replacement, within strata of (machine, section, domain, label) so that every replicate keeps the
set's design (each section keeps its normals and anomalies of each domain), and recomputing both
official scores on the same replicate. The percentile interval of the differences says whether the
gap could come from which clips happened to be in the test set. It says nothing about training
seeds: the ablation protocol (``sslasd ablate``) adds that level on top of :class:`ScoreTable`.

Example
-------
>>> from sslasd.evaluation.join import ScoredClip
>>> clips = [ScoredClip(f"{i}.wav", "fan", "00", d, lab, 0.0, None)
...          for i, (d, lab) in enumerate([(d, lab) for d in ("source", "target")
...                                        for lab in ("normal", "anomaly") for _ in range(20)])]
>>> table = ScoreTable(2022, clips)
>>> perfect = table.y.astype(float)  # scores are arrays in the table's order (see ScoreTable.keys)
>>> iv = paired_interval(table, perfect, np.zeros(len(table)), n_boot=200)
>>> round(iv.estimate, 3), iv.low > 0
(0.5, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sslasd.errors import DataError
from sslasd.evaluation.join import ScoredClip
from sslasd.evaluation.metrics import MAX_FPR, weighted_auc, weighted_pauc
from sslasd.evaluation.result import DEFAULT_BOOT, EvaluationResult, Interval
from sslasd.evaluation.rules import combine_official, official_subsets


class ScoreTable:
    """The labelled test clips of one data set, in a fixed order, ready to be resampled.

    Parameters
    ----------
    year : int
        The DCASE rule.
    clips : sequence of ScoredClip
        The test clips (their scores are ignored; pass scores to :meth:`official`).

    Attributes
    ----------
    keys : list of str
        ``machine/name`` of each clip, sorted: the order of every score array this class takes
        (:meth:`scores_of` puts an :class:`EvaluationResult`'s scores in it).
    y : ndarray of int
        1 for anomalies, in that order.
    """

    def __init__(self, year: int, clips: Sequence[ScoredClip]) -> None:
        ordered = sorted(clips, key=lambda c: (c.machine, c.section, c.name))
        self.year = year
        self.keys = [f"{c.machine}/{c.name}" for c in ordered]
        machine = np.array([c.machine for c in ordered])
        section = np.array([c.section for c in ordered])
        domain = np.array([c.domain for c in ordered])
        self.y = np.array([c.label == "anomaly" for c in ordered], dtype=int)
        strata: dict[tuple[str, str, str, int], list[int]] = {}
        for i, key in enumerate(zip(machine, section, domain, self.y)):
            strata.setdefault(key, []).append(i)
        # every clip's stratum as (its members in one flat array, start and size of its block)
        self._members = np.concatenate([np.asarray(v) for v in strata.values()])
        sizes = np.array([len(v) for v in strata.values()])
        self._block_size = np.repeat(sizes, sizes)
        self._block_start = np.repeat(np.cumsum(sizes) - sizes, sizes)
        self._sections = []
        for m, s in sorted(set(zip(machine.tolist(), section.tolist()))):
            rows = np.flatnonzero((machine == m) & (section == s))
            subsets = official_subsets(self.year, self.y[rows], domain[rows])
            self._sections.append((m, rows, list(subsets.values())))

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_result(cls, result: EvaluationResult) -> ScoreTable:
        return cls(result.year, result.clips)

    def scores_of(self, result: EvaluationResult, what: str = "scores") -> np.ndarray:
        """The scores of ``result`` in this table's order; the clips must be the same."""
        found = {f"{c.machine}/{c.name}": c.score for c in result.clips}
        if set(found) != set(self.keys):
            missing = sorted(set(self.keys) - set(found))[:3]
            extra = sorted(set(found) - set(self.keys))[:3]
            raise DataError(
                f"{what}: not the same test clips as the comparison (missing {missing}, extra {extra})"
            )
        return np.array([found[k] for k in self.keys], dtype=float)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """Counts of each clip in one replicate: every stratum resampled to its own size."""
        picks = self._block_start + (rng.random(len(self._members)) * self._block_size).astype(int)
        return np.bincount(self._members[picks], minlength=len(self.keys)).astype(float)

    def official(self, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
        """The year's official score of ``scores`` with each clip counted ``weights`` times."""
        w = np.ones(len(self.keys)) if weights is None else weights
        values: dict[str, list[float]] = {}
        for machine, rows, subsets in self._sections:
            y, s, ws = self.y[rows], scores[rows], w[rows]
            for metric, mask in subsets:
                if metric == "auc":
                    value = weighted_auc(y[mask], s[mask], ws[mask])
                else:
                    value = weighted_pauc(y[mask], s[mask], ws[mask], max_fpr=MAX_FPR)
                values.setdefault(machine, []).append(value)
        return combine_official(self.year, values)


def percentile_interval(estimate: float, replicates: np.ndarray, level: float = 0.95) -> Interval:
    """:class:`Interval` from bootstrap replicates of a statistic."""
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return Interval(float(estimate), float(low), float(high), level, len(replicates))


def paired_interval(
    table: ScoreTable,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    *,
    n_boot: int = DEFAULT_BOOT,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Official score of ``a`` minus that of ``b`` on the same clips, with its bootstrap interval."""
    rng = np.random.default_rng(seed)
    estimate = table.official(scores_a) - table.official(scores_b)
    replicates = np.empty(n_boot)
    for i in range(n_boot):
        w = table.draw(rng)
        replicates[i] = table.official(scores_a, w) - table.official(scores_b, w)
    return percentile_interval(estimate, replicates, level)


def compare_results(
    a: EvaluationResult, b: EvaluationResult, *, n_boot: int = DEFAULT_BOOT, seed: int = 0
) -> Interval:
    """``a.official_score - b.official_score`` with a paired bootstrap interval over test clips."""
    table = ScoreTable.from_result(a)
    other = table.scores_of(b, "the compared scores")
    return paired_interval(table, table.scores_of(a), other, n_boot=n_boot, seed=seed)
