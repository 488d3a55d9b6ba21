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
import json
from pathlib import Path

import numpy as np

from sslasd.evaluation.pseudo_labels import kmeans_labels, label_nmi, read_mode_truth
from sslasd.pipeline.embedding import read_embeddings

RESULTS = Path(__file__).resolve().parent / "results" / "vq_nmi.json"


def groups_of(run: Path, data: Path) -> list[dict[str, object]]:
    """NMI of each VQ group of ``run`` (trained on ``data``) for the three labelings."""
    truth = read_mode_truth(data)
    if truth is None:
        raise SystemExit(f"{data}: no synth_truth.csv (only synthetic sets know their hidden modes)")
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
    for key, by_file in sorted(codes.items()):
        one = {key: by_file}
        out: dict[str, object] = {
            "group": "/".join(key),
            "clips": len(by_file),
            "modes": len({truth[(key[0], n)] for n in by_file}),
            "vq": label_nmi(one, truth),
        }
        for label, emb in (("kmeans frozen", frozen), ("kmeans run", own)):
            found = kmeans_labels(emb["embeddings"], emb["machines"], emb["names"], one, n_codes)
            out[label] = label_nmi(found, truth)
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
