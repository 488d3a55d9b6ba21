"""Leave-one-out kNN on the 62 real DCASE 2020 clips: frozen mn04 vs random mn04 vs log-mel statistics.

There is no training split in ``../shared/data/dcase2020-dev-clips`` (5-7 normal and 3-5
anomalous test clips per machine), so each clip is scored against the normal clips of its
machine type, leaving itself out: score = cosine distance to the nearest OTHER normal clip
(higher = more anomalous). AUC per machine for three 16-kHz clip embeddings:

* ``mn04``: the pooled 384-d embedding of the AudioSet-trained EfficientAT mn04 (frozen);
* ``mn04-random``: the same network with the original random initialisation (seed 0);
* ``log-mel``: mean and standard deviation over time of EfficientAT's 128-bin log mel (256-d).

With so few clips an AUC moves in steps of 1/(normals x anomalies) (1/25 to 1/30): read it as a
sanity check that real weights carry machine-sound information, not as a benchmark.
The JSON result goes to ``bench/results/real_clips_knn.json`` (git-ignored).

Usage::

    python bench/real_clips_knn.py [--clips ../shared/data/dcase2020-dev-clips]
                                   [--weights ../shared/weights/efficientat_mn04_as_mAP_432.pt]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from sslasd._common import atomic_write_json
from sslasd.data import load_audio
from sslasd.models.backbones import load_backbone

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "real_clips_knn.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=ROOT.parent / "shared" / "data" / "dcase2020-dev-clips")
    parser.add_argument(
        "--weights", type=Path, default=ROOT.parent / "shared" / "weights" / "efficientat_mn04_as_mAP_432.pt"
    )
    return parser.parse_args(argv)


def leave_one_out_scores(embeddings: np.ndarray, is_normal: np.ndarray) -> np.ndarray:
    """Cosine distance of every row to its nearest normal row other than itself."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    distance = 1.0 - unit @ unit[is_normal].T  # [clips, normals]
    own = np.flatnonzero(is_normal)
    distance[own, np.arange(len(own))] = np.inf
    return distance.min(axis=1)


@torch.no_grad()
def _embeddings(waves: list[np.ndarray], pretrained: torch.nn.Module, random_init: torch.nn.Module) -> dict:
    out: dict[str, list[np.ndarray]] = {"mn04": [], "mn04-random": [], "log-mel": []}
    for wave in waves:
        batch = torch.from_numpy(wave)[None]
        out["mn04"].append(pretrained.embed(batch)[0].numpy())
        out["mn04-random"].append(random_init.embed(batch)[0].numpy())
        mel = pretrained.preprocess(batch)[0]  # [128, T]
        out["log-mel"].append(torch.cat([mel.mean(1), mel.std(1)]).numpy())
    return {k: np.stack(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    pretrained = load_backbone("efficientat", args.weights, input_sample_rate=16000)
    torch.manual_seed(0)
    random_init = load_backbone("efficientat", input_sample_rate=16000)
    machines = sorted(p.name for p in args.clips.iterdir() if p.is_dir())
    table: dict[str, dict[str, float]] = {}
    for machine in machines:
        files = sorted((args.clips / machine / "test").glob("*.wav"))
        is_normal = np.array([f.name.startswith("normal") for f in files])
        embeddings = _embeddings([load_audio(f, 16000) for f in files], pretrained, random_init)
        table[machine] = {
            name: float(roc_auc_score(~is_normal, leave_one_out_scores(emb, is_normal)))
            for name, emb in embeddings.items()
        }
        table[machine]["clips"] = len(files)
    methods = ["mn04", "mn04-random", "log-mel"]
    table["mean"] = {m: float(np.mean([table[k][m] for k in machines])) for m in methods}
    print(f"{'machine':12s} {'clips':>5s} " + " ".join(f"{m:>11s}" for m in methods))
    for key, row in table.items():
        clips = f"{row['clips']:5d}" if "clips" in row else " " * 5
        print(f"{key:12s} {clips} " + " ".join(f"{100 * row[m]:11.1f}" for m in methods))
    atomic_write_json(RESULTS, {"auc": table, "clips": str(args.clips), "weights": str(args.weights)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
