"""The HTML report of a run: score tables, ROC curves, score histograms, embedding map, training curves.

:func:`read_run_files` reads what a run folder holds (every piece optional), :func:`build_report`
turns it into one self-contained HTML page (PNG figures embedded as base64, inline CSS, no script).
``sslasd.report(run)`` in :mod:`sslasd.pipeline.report` writes it to ``RUN/report.html``.
"""

from sslasd.report.build import build_report
from sslasd.report.run_files import EmbeddingSet, RunFiles, TrainingLog, read_run_files

__all__ = ["EmbeddingSet", "RunFiles", "TrainingLog", "build_report", "read_run_files"]
