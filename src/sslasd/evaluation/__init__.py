"""Official DCASE Task 2 scores (2020-2026), challenge files, and the join of scores to ground truth.

- :func:`evaluate_scores`: every AUC / pAUC a year's rule uses, per machine and section, the
  domain-wise diagnostics, decision metrics when decisions are given, and the official score.
- :func:`write_challenge_files`, :func:`read_challenge_dir`, :func:`challenge_file_name`: the
  ``anomaly_score_*.csv`` / ``decision_result_*.csv`` files of each year's grammar.
- :data:`MACHINES`, :data:`TEST_SECTIONS`: the dev and eval machine types and test sections per year.

Scores are joined to labelled clips by file name; any mismatch is an error, never a partial score.
"""

from sslasd.evaluation.challenge import (
    ChallengeScores,
    challenge_file_name,
    read_challenge_dir,
    read_challenge_file,
    write_challenge_files,
)
from sslasd.evaluation.join import ScoredClip, clip_key, join_scores
from sslasd.evaluation.metrics import DecisionMetrics, auc, decision_metrics, harmonic_mean, pauc
from sslasd.evaluation.result import EvaluationResult, SectionResult
from sslasd.evaluation.rules import evaluate_scores
from sslasd.evaluation.years import MACHINES, RULES, TEST_SECTIONS, YEARS, check_year, coverage

__all__ = [
    "MACHINES",
    "RULES",
    "TEST_SECTIONS",
    "YEARS",
    "ChallengeScores",
    "DecisionMetrics",
    "EvaluationResult",
    "ScoredClip",
    "SectionResult",
    "auc",
    "challenge_file_name",
    "check_year",
    "clip_key",
    "coverage",
    "decision_metrics",
    "evaluate_scores",
    "harmonic_mean",
    "join_scores",
    "pauc",
    "read_challenge_dir",
    "read_challenge_file",
    "write_challenge_files",
]
