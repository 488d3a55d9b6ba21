"""Do the VQ pseudo-labels find the hidden operating modes? NMI against the synthetic ground truth.

``sslasd synth`` writes ``synth_truth.csv`` with every clip's true condition, including the modes of
the machines whose file names say ``noAttribute``. For each VQ group of a fitted run this compares,
by normalised mutual information with those conditions:

``vq``            the run's final pseudo-labels (``RUN/fit/pseudo_labels.csv``; read from the
                  bank's ``embeddings.npz``, which holds the same, so older runs work too)
``kmeans frozen`` k-means (k = the run's codes per group, L2-normalised embeddings, 10 restarts) on
                  the frozen backbone's embeddings (the run's ``frozen`` floor), the approach of
                  ASDKit-style systems that cluster once before training
``kmeans run``    the same k-means on the run's own final embeddings

    python bench/vq_nmi.py RUN DATA [RUN DATA ...]

Prints one row per group and the mean; writes bench/results/vq_nmi.json.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from sslasd.pipeline.embedding import read_embeddings

RESULTS = Path(__file__).resolve().parent / "results" / "vq_nmi.json"


def _truth(data: Path) -> dict[tuple[str, str], str]:
    with open(data / "synth_truth.csv", newline="") as f:
        return {(r["machine"], Path(r["file_name"]).name): r["condition"] for r in csv.DictReader(f)}


def _kmeans(emb: np.ndarray, k: int) -> np.ndarray:
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(unit)


def groups_of(run: Path, data: Path) -> list[dict[str, object]]:
    """NMI of each VQ group of ``run`` (trained on ``data``) for the three labelings."""
    truth = _truth(data)
    own = read_embeddings(run / "banks" / "embeddings.npz")
    codes: dict[tuple[str, str], dict[str, int]] = {}
    # the bank's copy of the final pseudo-labels (runs made before fit/pseudo_labels.csv existed)
    for machine, section, name, code in zip(
        own["machines"], own["sections"], own["names"], own["pseudo_labels"]
    ):
        if code >= 0:
            codes.setdefault((str(machine), str(section)), {})[str(name)] = int(code)
    n_codes = json.loads((run / "run.json").read_text())["labels"]["n_codes"]
    frozen = read_embeddings(run / "floors" / "frozen" / "banks" / "embeddings.npz")
    rows = []
    for (machine, section), by_file in sorted(codes.items()):
        names = sorted(by_file)
        y = [truth[(machine, n)] for n in names]
        out: dict[str, object] = {"group": f"{machine}/{section}", "clips": len(names), "modes": len(set(y))}
        out["vq"] = normalized_mutual_info_score(y, [by_file[n] for n in names])
        for label, emb in (("kmeans frozen", frozen), ("kmeans run", own)):
            index = {(m, n): i for i, (m, n) in enumerate(zip(emb["machines"], emb["names"]))}
            x = emb["embeddings"][[index[(machine, n)] for n in names]]
            out[label] = normalized_mutual_info_score(y, _kmeans(x, n_codes))
        rows.append(out)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", help="RUN DATA [RUN DATA ...]")
    args = parser.parse_args(argv)
    if len(args.pairs) % 2:
        parser.error("give RUN DATA pairs")
    rows = []
    for run, data in zip(args.pairs[::2], args.pairs[1::2]):
        for row in groups_of(Path(run), Path(data)):
            rows.append({"run": run, **row})
    keys = ("vq", "kmeans frozen", "kmeans run")
    print(f"{'run':<40} {'group':<14} {'clips':>5} {'modes':>5}" + "".join(f"{k:>15}" for k in keys))
    for r in rows:
        print(
            f"{str(r['run'])[-40:]:<40} {r['group']:<14} {r['clips']:>5} {r['modes']:>5}"
            + "".join(f"{r[k]:15.3f}" for k in keys)
        )
    means = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    print(f"{'mean':<66}" + "".join(f"{means[k]:15.3f}" for k in keys))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"groups": rows, "mean": means}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
