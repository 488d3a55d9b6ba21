"""``sslasd report``: one self-contained HTML file that shows what a run did and how well."""

from __future__ import annotations

import os
from pathlib import Path

from sslasd import __version__
from sslasd._common import atomic_write_text, get_logger
from sslasd._common.run_layout import RunLayout
from sslasd.report import build_report, read_run_files
from sslasd.report.embedding_map import Projection

log = get_logger("report")


def report(
    run: str | os.PathLike,
    *,
    scores: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    projection: Projection = "auto",
) -> Path:
    """Write the HTML report of run folder ``run`` and return its path.

    The page holds the official score and the score table per machine, section and domain, ROC
    curves, score histograms with the decision threshold, a 2-D map of the embeddings, the
    training curves, the run's config and versions. It embeds its images, needs no script and
    opens from disk in any browser. Missing pieces (a run not yet scored or evaluated, no
    pseudo-labels...) give a note in their section, not an error. Re-running rewrites the file.

    Parameters
    ----------
    run : path
        Run folder made by ``sslasd fit``.
    scores : path or tag, optional
        Scores folder (or its tag under ``RUN/scores/``); default: the most recently evaluated one.
    out : path, optional
        Where to write; default ``RUN/report.html``. Written atomically.
    projection : {"auto", "pca", "tsne"}
        Projection of the embedding map; ``auto`` uses t-SNE for up to 1500 points, else PCA.

    Returns
    -------
    Path of the HTML file.

    Raises
    ------
    RunError
        As :func:`~sslasd.report.run_files.read_run_files`, which reads the run.

    Example
    -------
    >>> import sslasd
    >>> sslasd.report("runs/demo/run")  # doctest: +SKIP
    PosixPath('runs/demo/run/report.html')
    """
    files = read_run_files(run, scores)
    target = Path(out).expanduser() if out is not None else RunLayout(files.run).report_path
    page = build_report(files, version=__version__, projection=projection)
    atomic_write_text(target, page)
    log.info("wrote %s (%d kB)", target, len(page) // 1024)
    return target
