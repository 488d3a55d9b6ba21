"""Ablation of the paper's components on one data set: each switched off in turn, several seeds.

Trains one run per (variant, seed) with ``sslasd.fit`` (preset ``--config``, ``--steps`` steps),
scores and evaluates it with the official rule, and adds a plain log-mel-statistics + kNN
baseline (no training). Prints mean and standard deviation of the official score per variant and
writes every number to bench/results/ablation.json.

    python bench/ablation.py --data DATA --config cpu --steps 300 --seeds 0 1 2 \
        [--set backbone.checkpoint=PATH] [--variants paper frozen ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sslasd.backends import KNNScorer
from sslasd.data import index_dataset, load_audio
from sslasd.evaluation import clip_key, evaluate_scores
from sslasd.features import fbank
from sslasd.pipeline.evaluate import evaluate
from sslasd.pipeline.fit import fit
from sslasd.pipeline.score import score

RESULTS = Path(__file__).resolve().parent / "results"

VARIANTS: dict[str, list[str]] = {
    "paper": [],
    "plain_lora": ["lora.mode=lora"],
    "frozen": ["lora.mode=frozen"],
    "full_finetune": ["lora.mode=full"],
    "mga_none": ["mga.mode=none"],
    "mga_per_machine": ["mga.mode=per_machine"],
    "no_vq": ["vq.enabled=false"],
    "no_contrastive": ["contrastive.enabled=false"],
}


def logmel_knn(root: Path) -> float:
    """Official score of cosine 1-NN on per-clip log-mel mean and std (standardised on train clips)."""
    index = index_dataset(root)

    def features(clips):
        rows = []
        for clip in clips:
            mel = fbank(torch.from_numpy(load_audio(clip.path))[None] * 32768)[0]
            rows.append(torch.cat([mel.mean(0), mel.std(0)]).numpy())
        return np.stack(rows)

    scores = {}
    for machine in index.machines():
        for section in index.sections(machine):
            train = index.select(machine=machine, section=section, split="train")
            test = index.select(machine=machine, section=section, split="test")
            x_train, x_test = features(train), features(test)
            mean, std = x_train.mean(0), x_train.std(0) + 1e-6
            domains = ["target" if c.domain == "target" else "source" for c in train]
            knn = KNNScorer().fit((x_train - mean) / std, domains)
            for clip, value in zip(test, knn.score_samples((x_test - mean) / std)):
                scores[clip_key(clip)] = float(value)
    return evaluate_scores(index.clips, scores, year=index.year).official_score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--config", default="cpu")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], help="extra key=value for every run")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {"logmel_knn": [logmel_knn(args.data)]}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            results[name] = []
            for seed in args.seeds:
                start = time.perf_counter()
                overrides = [*args.set, *VARIANTS[name], f"train.steps={args.steps}", f"train.seed={seed}"]
                run = fit(
                    args.data, Path(tmp) / f"{name}-{seed}", config=args.config, set=overrides, progress=False
                )
                official = evaluate(score(run, args.data), args.data).official_score
                results[name].append(official)
                print(
                    f"{name:>16} seed {seed}: {official:.4f} ({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
    print(f"\n{'variant':>16}  {'mean':>6}  {'std':>6}  n")
    for name, values in results.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{name:>16}  {statistics.mean(values):.4f}  {spread:.4f}  {len(values)}")
    RESULTS.mkdir(exist_ok=True)
    meta = {"data": str(args.data), "config": args.config, "steps": args.steps, "set": args.set}
    (RESULTS / "ablation.json").write_text(json.dumps({**meta, "official_scores": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
