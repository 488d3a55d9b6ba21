"""Compose the report page from the pieces of a run folder.

Each section is built by one function from :class:`~sslasd.report.run_files.RunFiles`; a
section whose input is missing shows the reason (the note recorded when the file was read)
instead of its figure, so a report can be made at any stage of a run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sslasd._common.run_layout import RunLayout
from sslasd.evaluation.result import floor_verdict
from sslasd.evaluation.rules import rule_of
from sslasd.report import html
from sslasd.report.distributions import plot_score_histograms
from sslasd.report.embedding_map import Projection, machine_points, plot_embedding_map
from sslasd.report.figures import png_data_uri
from sslasd.report.roc import group_clips, plot_roc_curves, roc_curves
from sslasd.report.run_files import RunFiles
from sslasd.report.score_tables import domain_table, official_table, pct
from sslasd.report.training_curves import plot_training_curves


def build_report(files: RunFiles, *, version: str, projection: Projection = "auto") -> str:
    """The complete HTML page for ``files`` (a string; the caller writes it).

    Parameters
    ----------
    files : RunFiles
        What :func:`~sslasd.report.run_files.read_run_files` read.
    version : str
        The sslasd version that makes the report (shown beside the run's own version).
    projection : {"auto", "pca", "tsne"}
        2-D projection of the embedding map (``auto``: t-SNE for small sets, else PCA).

    Example
    -------
    >>> page = build_report(read_run_files("runs/demo/run"), version="0.1.0")  # doctest: +SKIP
    """
    sections = [
        html.Section("scores", "Scores", _scores(files)),
        html.Section("roc", "ROC curves", _roc(files)),
        html.Section("distributions", "Score distributions", _distributions(files)),
        html.Section("embeddings", "Embedding map", _embeddings(files, projection)),
        html.Section("training", "Training", _training(files)),
        html.Section("config", "Configuration", _config(files)),
        html.Section("versions", "Versions", _versions(files, version)),
    ]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return html.page(
        title=f"sslasd report · {files.run.resolve().name}",
        header=_header(files),
        sections=sections,
        footer=f"Made by sslasd {version} on {now} from {files.run.resolve()}. "
        "Self-contained: images are embedded, no script, no external file.",
    )


def _missing(files: RunFiles, *pieces: str) -> str:
    return "".join(html.note(files.notes[p]) for p in pieces if p in files.notes)


def _header(files: RunFiles) -> str:
    info, metrics = files.info or {}, files.metrics
    backbone = info.get("backbone") or {}
    facts = [
        ("data", info.get("data_root")),
        ("DCASE naming", info.get("year")),
        ("backbone", backbone.get("name")),
        ("back-end", (files.backend or {}).get("name")),
        ("machines", len(info["machines"]) if isinstance(info.get("machines"), list) else None),
        ("test clips", len(metrics["clips"]) if metrics else None),
        ("scores", files.scores_dir.name if files.scores_dir else None),
        ("seed", info.get("seed")),
    ]
    facts_html = "".join(f"<span><b>{html.esc(k)}</b>{html.esc(v)}</span>" for k, v in facts if v is not None)
    if metrics:
        coverage = {"dev": "development set", "eval": "evaluation set"}.get(metrics.get("coverage", ""), "")
        rule = metrics.get("rule") or f"DCASE {metrics['year']} rule"
        card = (
            f'<div class="score-card"><div class="label">official score · DCASE {html.esc(metrics["year"])}'
            "</div>"
            f'<div class="value" id="official-score">{pct(metrics["official_score"])}</div>'
            f'<div class="rule">{html.esc(rule)}{html.esc(", " + coverage if coverage else "")}</div></div>'
        )
    else:
        card = (
            '<div class="score-card"><div class="label">official score</div><div class="value">–</div>'
            '<div class="rule">not evaluated yet</div></div>'
        )
    created = f" · created {info['created']}" if info.get("created") else ""
    return (
        f'<header class="top"><div><h1>sslasd report · {html.esc(files.run.resolve().name)}</h1>'
        f'<div class="subtitle">{html.esc(files.run.resolve())}{html.esc(created)}</div>'
        f'<div class="facts">{facts_html}</div></div>{card}</header>' + _floors_card(metrics)
    )


def _floors_card(metrics: dict[str, Any] | None) -> str:
    """The run beside its training-free floors (``metrics.json`` ``floors``), warning when it loses."""
    floors = (metrics or {}).get("floors") or []
    if not floors:
        return ""
    rows = [f'<tr><td class="l"><b>this run</b></td><td>{pct(metrics["official_score"])}</td><td></td></tr>']
    for f in floors:
        d = f["difference"]
        interval = f"{100 * d['estimate']:+.2f} [{100 * d['low']:+.2f}, {100 * d['high']:+.2f}]"
        rows.append(
            f'<tr><td class="l">floor: {html.esc(f["description"])}</td><td>{pct(f["official_score"])}</td>'
            f"<td>{html.esc(interval)}</td></tr>"
        )
    verdict_text = floor_verdict(metrics["official_score"], floors)
    verdict = html.note(verdict_text) if verdict_text else ""
    return (
        f'<section class="floors" id="floors">{verdict}<table><thead><tr><th class="l">detector</th>'
        "<th>official score (%)</th><th>run − floor, points [95 % paired bootstrap interval over test clips]"
        f"</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _scores(files: RunFiles) -> str:
    if files.metrics is None:
        return _missing(files, "metrics")
    m = files.metrics
    rule = rule_of(int(m["year"]))
    official = {
        "2020": "AUC and pAUC",
        "2021": "source and target AUC and pAUC",
        "2022": "source AUC, target AUC and pAUC",
    }[rule]
    mean = "arithmetic" if rule == "2020" else "harmonic"
    return (
        f'<p class="lead">Values in %. Bold: the {official} that the DCASE {html.esc(m["year"])} rule '
        f"averages ({mean} mean over all sections and machines) into the official score; grey: "
        "diagnostics it does not use. pAUC is the standardised partial AUC up to a false positive rate "
        "of 10 %.</p>"
        + official_table(m)
        + '<h3>Per domain</h3><p class="lead">Clip counts of the domain; AUC (rule) is the set the rule '
        "uses (from 2022: the domain's normal clips against all anomalies of the section), AUC and pAUC "
        "(domain) use the domain's clips only; precision, recall and F1 of the decisions at the "
        "threshold.</p>" + domain_table(m)
    )


def _figure(make: Callable[[], Any], alt: str, caption: str) -> str:
    return html.figure(png_data_uri(make()), alt, caption)


def _roc(files: RunFiles) -> str:
    if files.metrics is None:
        return _missing(files, "metrics")
    year, clips = int(files.metrics["year"]), files.metrics["clips"]
    curves = roc_curves(clips, year)
    groups = list(group_clips(clips))
    if not groups:
        return html.note("metrics.json lists no scored clips")
    sets = {
        "2020": "all clips of the machine ID",
        "2021": "each domain's normal and anomalous clips",
        "2022": "each domain's normal clips against all anomalous clips of the section",
    }[rule_of(year)]
    caption = (
        f"One panel per machine and section; curves over {sets} (the DCASE {year} rule). Shaded: FPR ≤ 0.1."
    )
    return _figure(lambda: plot_roc_curves(curves, groups), "ROC curves", caption)


def _distributions(files: RunFiles) -> str:
    if files.metrics is None:
        return _missing(files, "metrics")
    if not files.metrics["clips"]:
        return html.note("metrics.json lists no scored clips")
    caption = (
        "Anomaly scores of the normal (green) and anomalous (red) test clips of each domain; each clip is a "
        "tick under the axis. Dashed: the section's decision threshold (clips above it are called anomalous)."
    )
    body = _missing(files, "thresholds")
    return body + _figure(
        lambda: plot_score_histograms(files.metrics["clips"], files.thresholds), "score histograms", caption
    )


def _embeddings(files: RunFiles, projection: Projection) -> str:
    body = _missing(files, "train_embeddings", "test_embeddings")
    if files.train_embeddings is None and files.test_embeddings is None:
        return body
    labels = {c["name"]: c["label"] for c in files.metrics["clips"]} if files.metrics else None
    points, used = machine_points(
        files.train_embeddings, files.test_embeddings, method=projection, test_labels=labels
    )
    method = {"pca": "PCA", "tsne": "t-SNE"}[used]
    caption = (
        f"{method} of each machine's embeddings (its own projection). Dots: training clips; open circles: "
        "normal test clips; crosses: anomalous test clips. Columns: coloured by domain, by attribute, by "
        "VQ pseudo-label (grey: none)."
    )
    return body + _figure(lambda: plot_embedding_map(points), "embedding map", caption)


def _training(files: RunFiles) -> str:
    if files.training is None:
        return _missing(files, "training")
    if len(files.training) == 0:
        return html.note("fit/metrics.csv has a header but no rows yet")
    log = files.training
    last = {k: v[-1] for k, v in log.columns.items() if len(v)}
    status = (
        "finished" if log.finished else "not finished (no fit/DONE): the curves stop at the last logged step"
    )
    steps = f"{len(log)} logged steps, last step {int(last.get('step', 0))}"
    lead = f'<p class="lead">{steps}; training {status}.</p>'
    return lead + _figure(
        lambda: plot_training_curves(log),
        "training curves",
        "Loss and its components, learning rate, throughput.",
    )


def _config(files: RunFiles) -> str:
    body = _missing(files, "config")
    if files.config_text is not None:
        body += html.details("config.yaml (the resolved run configuration)", files.config_text, open_=False)
    if files.backend is not None:
        body += html.details(RunLayout(files.run).backend_path.name, json.dumps(files.backend, indent=2))
    if files.thresholds is not None:
        rows = [
            (f"{m} · section {s}", f"{t:.6g}") for m, by in files.thresholds.items() for s, t in by.items()
        ]
        body += "<h3>Decision thresholds</h3>" + html.key_values(rows)
    return body


def _versions(files: RunFiles, version: str) -> str:
    if files.info is None:
        return _missing(files, "info")
    info = files.info
    backbone = info.get("backbone") or {}
    labels = info.get("labels")
    items = [
        ("sslasd (run)", info.get("sslasd_version")),
        ("sslasd (report)", version),
        ("torch", info.get("torch_version")),
        ("python", info.get("python_version")),
        ("seed", info.get("seed")),
        ("created", info.get("created")),
        ("backbone", backbone.get("name")),
        ("checkpoint", backbone.get("checkpoint") or "none (random or tiny weights)"),
        ("checkpoint sha256", backbone.get("sha256")),
        ("machines", ", ".join(map(str, info.get("machines") or []))),
        ("classifier classes", _n_classes(labels)),
    ]
    return html.key_values([(k, v) for k, v in items if v is not None])


def _n_classes(labels: Any) -> int | None:
    """Number of classifier classes in run.json's ``labels`` (a list, or a dict with ``classes``)."""
    if isinstance(labels, dict):
        labels = labels.get("classes")
    return len(labels) if isinstance(labels, list) else None
