"""Which STFT settings make the log-mel floor strongest? Official score per setting and data set.

The ``logmel`` floor (``sslasd.pipeline.floors``) is only worth something if it is hard to beat, so
its window, hop and band count are chosen here, on several data sets, and the strongest is the
default of :class:`sslasd.models.backbones.logmel.LogMelConfig`. Each setting: log-mel power in dB,
mean and std of every band over time, cosine 1-NN with source and target banks, min; no training.

    python bench/floor_settings.py DATA [DATA ...]     # e.g. small synthetic sets of 3 seeds

Prints one row per setting (official score per data set and the mean, %) and writes
bench/results/floor_settings.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch

from sslasd.backends import KNNScorer
from sslasd.data import index_dataset, load_audio
from sslasd.evaluation import clip_key, evaluate_scores
from sslasd.models.backbones.logmel import LogMelBackbone, LogMelConfig
from sslasd.models.stats_embedder import StatsEmbedder

RESULTS = Path(__file__).resolve().parent / "results" / "floor_settings.json"

# front-end settings; "standardize" is the kNN back-end's per-bank standardisation of distances
# with leave-one-out training statistics (see sslasd.backends.bank), not a feature standardisation
SETTINGS: dict[str, dict[str, float]] = {
    "25ms/10ms, 128 mels": {"win_ms": 25, "hop_ms": 10, "n_mels": 128},
    "32ms/16ms, 128 mels": {"win_ms": 32, "hop_ms": 16, "n_mels": 128},
    "64ms/32ms, 128 mels": {"win_ms": 64, "hop_ms": 32, "n_mels": 128},
    "64ms/16ms, 128 mels": {"win_ms": 64, "hop_ms": 16, "n_mels": 128},
    "128ms/32ms, 128 mels": {"win_ms": 128, "hop_ms": 32, "n_mels": 128},
    "25ms/10ms, 64 mels": {"win_ms": 25, "hop_ms": 10, "n_mels": 64},
    "64ms/32ms, 64 mels": {"win_ms": 64, "hop_ms": 32, "n_mels": 64},
    "25ms/10ms, 128 mels, standardize": {"win_ms": 25, "hop_ms": 10, "n_mels": 128, "standardize": True},
    "25ms/10ms, 64 mels, standardize": {"win_ms": 25, "hop_ms": 10, "n_mels": 64, "standardize": True},
}


def official(root: Path, settings: dict[str, dict[str, float]]) -> dict[str, float]:
    """Official score of each setting on the data set at ``root``."""
    index = index_dataset(root)
    clips = [c for c in index.clips if c.split == "test" or c.label != "anomaly"]
    waves = {clip_key(c): torch.from_numpy(load_audio(c.path, 16000)) for c in clips}
    out = {}
    for name, setting in settings.items():
        front = {k: v for k, v in setting.items() if k != "standardize"}
        embedder = StatsEmbedder(LogMelBackbone(LogMelConfig(**front)))
        with torch.inference_mode():
            feats = {k: embedder(w[None])[0].numpy() for k, w in waves.items()}
        scores = {}
        for machine in index.machines():
            for section in index.sections(machine):
                train = index.select(machine=machine, section=section, split="train")
                test = index.select(machine=machine, section=section, split="test")
                domains = ["target" if c.domain == "target" else "source" for c in train]
                knn = KNNScorer(standardize=bool(setting.get("standardize"))).fit(
                    np.stack([feats[clip_key(c)] for c in train]), domains=domains
                )
                values = knn.score_samples(np.stack([feats[clip_key(c)] for c in test]))
                scores |= {clip_key(c): float(v) for c, v in zip(test, values)}
        out[name] = evaluate_scores(index.clips, scores, year=index.year).official_score
        print(f"{root.name:>12}  {name:<24} {100 * out[name]:6.2f}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", type=Path)
    parser.add_argument("--only", nargs="+", choices=list(SETTINGS), help="a subset of the settings")
    args = parser.parse_args(argv)
    chosen = {k: v for k, v in SETTINGS.items() if not args.only or k in args.only}
    table = {str(root): official(root, chosen) for root in args.data}
    print(f"\n{'setting':<24} " + " ".join(f"{Path(r).name:>12}" for r in table) + "     mean")
    for name in chosen:
        values = [table[r][name] for r in table]
        cells = " ".join(f"{100 * v:12.2f}" for v in values)
        print(f"{name:<24} {cells} {100 * statistics.mean(values):8.2f}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"settings": chosen, "official_scores": table}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
