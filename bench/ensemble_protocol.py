"""Does domain normalisation help, and does the run + log-mel ensemble beat the log-mel floor?

Re-scores the finished runs of a protocol folder (``sslasd ablate``) from the embeddings they
stored (``banks/embeddings.npz``, ``scores/<data>/embeddings.npz``, and the log-mel floor's), with
the toolkit's own back-end and ensemble classes, so no model is trained or run again:

``run``          the run as the protocol scored it (its config's back-end)
``run+norm``     the same embeddings, kNN with each bank's distances standardised by the
                 leave-one-out distances of its own training clips (``standardize: true``)
``logmel floor`` the log-mel floor (standardised kNN), as ``sslasd fit`` fits it
``ensemble``     ScoreEnsemble of run+norm and the log-mel floor, equal weights, each member
                 standardised with its training scores: what ``ensemble.members: [run, logmel]``
                 scores

Every statistic comes from training clips. Differences are paired over the same test clips, with a
95 % bootstrap interval (clips resampled within machine/section/domain/label strata, and the
seeds of each data set resampled), averaged over data sets like the protocol's table.

    python bench/ensemble_protocol.py PROTOCOL [--variant paper] [--n-boot 1000]

Prints the table and writes bench/results/ensemble_protocol.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sslasd.backends import KNNScorer, ScoreEnsemble
from sslasd.evaluation.bootstrap import ScoreTable, percentile_interval
from sslasd.pipeline.embedding import read_embeddings
from sslasd.pipeline.evaluate import evaluate

RESULTS = Path(__file__).resolve().parent / "results" / "ensemble_protocol.json"
SYSTEMS = ("run", "run+norm", "logmel floor", "ensemble")
PAIRS = (("run+norm", "run"), ("ensemble", "logmel floor"), ("ensemble", "run"), ("run", "logmel floor"))


def _knn_scores(bank: dict, test: dict, standardize: bool) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """Per machine/section: (test scores, training leave-one-out scores, threshold) by kNN on stored
    embeddings."""
    out = {}
    for machine, section in sorted(set(zip(test["machines"].tolist(), test["sections"].tolist()))):
        b = (bank["machines"] == machine) & (bank["sections"] == section)
        t = (test["machines"] == machine) & (test["sections"] == section)
        domains = np.where(bank["domains"][b] == "target", "target", "source")
        knn = KNNScorer(standardize=standardize).fit(bank["embeddings"][b], domains=domains)
        out[f"{machine}/{section}"] = (
            knn.score_samples(test["embeddings"][t]),
            knn.train_scores_,
            knn.threshold_,
        )
    return out


def _in_table_order(table: ScoreTable, test: dict, per_section: dict, item: int = 0) -> np.ndarray:
    """Test scores (``item`` 0) or each clip's section threshold (``item`` 2) in the table's order."""
    found = {}
    for key, value in per_section.items():
        machine, section = key.split("/")
        rows = (test["machines"] == machine) & (test["sections"] == section)
        values = value[0] if item == 0 else np.full(rows.sum(), value[item])
        found |= {f"{machine}/{n}": float(v) for n, v in zip(test["names"][rows], values)}
    return np.array([found[k] for k in table.keys])


def _flagged_normal(table: ScoreTable, scores: np.ndarray, thresholds: np.ndarray) -> list[float]:
    """Per machine/section: the fraction of its normal test clips above its threshold."""
    sections = [k.split("/")[0] for k in table.keys]
    out = []
    for machine in sorted(set(sections)):
        for threshold in sorted(set(thresholds[[s == machine for s in sections]])):
            rows = np.array([s == machine for s in sections]) & (thresholds == threshold) & (table.y == 0)
            out.append(float(np.mean(scores[rows] > threshold)))
    return out


def _systems(run: Path, floor_run: Path, data: Path) -> tuple[ScoreTable, dict[str, np.ndarray]]:
    scores_dir = run / "scores" / data.name
    table = ScoreTable.from_result(evaluate(scores_dir, data, floors=False))
    bank, test = read_embeddings(run / "banks/embeddings.npz"), read_embeddings(scores_dir / "embeddings.npz")
    floor = floor_run / "floors" / "logmel"
    fbank = read_embeddings(floor / "banks/embeddings.npz")
    ftest = read_embeddings(floor / "scores" / data.name / "embeddings.npz")
    normed, logmel = _knn_scores(bank, test, True), _knn_scores(fbank, ftest, True)
    ensemble = {}
    for key in normed:
        combiner = ScoreEnsemble().fit([normed[key][1], logmel[key][1]])
        combined = combiner.combine([normed[key][0], logmel[key][0]])
        ensemble[key] = (combined, combiner.train_scores_, combiner.threshold_)
    as_scored = table.scores_of(evaluate(scores_dir, data, floors=False))
    systems = {
        "run": as_scored,
        "run+norm": _in_table_order(table, test, normed),
        "logmel floor": _in_table_order(table, ftest, logmel),
        "ensemble": _in_table_order(table, test, ensemble),
    }
    flagged = _flagged_normal(table, systems["ensemble"], _in_table_order(table, test, ensemble, 2))
    return table, systems, flagged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("protocol", type=Path)
    parser.add_argument("--variant", default="paper")
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args(argv)
    request = json.loads((args.protocol / "protocol.json").read_text())
    tables: dict[str, ScoreTable] = {}
    scores: dict[str, dict[str, list[np.ndarray]]] = {}
    seeds_used: dict[str, list[int]] = {}
    flagged: list[float] = []  # per run and section: normal test clips above the ensemble's threshold
    for name, root in zip(request["data_names"], request["data"]):
        runs = sorted((args.protocol / "runs" / name).glob(f"{args.variant}-seed*"))
        runs = [r for r in runs if (r / "scores" / Path(root).name / "DONE").is_file()]
        floor_run = args.protocol / "runs" / name / f"paper-seed{request['seeds'][0]}"
        if not runs or not (floor_run / "floors/logmel/scores" / Path(root).name / "DONE").is_file():
            continue
        seeds_used[name] = [int(r.name.rsplit("seed", 1)[1]) for r in runs]
        for run in runs:
            table, systems, flagged_here = _systems(run, floor_run, Path(root))
            flagged += flagged_here
            tables[name] = table
            for system, values in systems.items():
                scores.setdefault(name, {}).setdefault(system, []).append(values)
    names = list(scores)
    official = {
        s: {n: float(np.mean([tables[n].official(v) for v in scores[n][s]])) for n in names} for s in SYSTEMS
    }
    rng = np.random.default_rng(0)
    replicates = {s: np.zeros(args.n_boot) for s in SYSTEMS}
    for b in range(args.n_boot):
        for n in names:
            weights = tables[n].draw(rng)
            picks = rng.integers(0, len(seeds_used[n]), size=len(seeds_used[n]))
            for s in SYSTEMS:
                values = [tables[n].official(scores[n][s][i], weights) for i in picks]
                replicates[s][b] += float(np.mean(values)) / len(names)
    mean = {s: float(np.mean(list(official[s].values()))) for s in SYSTEMS}
    print(f"{'system':<14}" + "".join(f"{n:>12}" for n in names) + "      mean")
    for s in SYSTEMS:
        print(f"{s:<14}" + "".join(f"{100 * official[s][n]:12.2f}" for n in names) + f"{100 * mean[s]:10.2f}")
    diffs = {}
    for a, b in PAIRS:
        interval = percentile_interval(mean[a] - mean[b], replicates[a] - replicates[b])
        diffs[f"{a} - {b}"] = interval.to_dict()
        print(
            f"{a} - {b}: {100 * interval.estimate:+.2f} points "
            f"[{100 * interval.low:+.2f}, {100 * interval.high:+.2f}]"
        )
    outside = sum(not 0.02 <= f <= 0.30 for f in flagged)
    print(
        f"normal test clips flagged at the ensemble's threshold (q = 0.9), per section: min "
        f"{100 * min(flagged):.1f} %, median {100 * float(np.median(flagged)):.1f} %, max "
        f"{100 * max(flagged):.1f} %; {outside} of {len(flagged)} sections outside 2-30 %"
    )
    print(f"data sets and seeds: {seeds_used}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "protocol": str(args.protocol),
                "variant": args.variant,
                "seeds": seeds_used,
                "official_scores": official,
                "mean": mean,
                "differences": diffs,
                "flagged_normal_per_section": flagged,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
