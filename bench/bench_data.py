"""Decoded-audio throughput of the training data pipeline, with and without the decoded-audio cache.

Builds a synthetic data set (``small`` preset by default), then times one pass of a DataLoader
over its training clips with ``ClipDataset`` (random crops, as in training) for each number of
workers, reading wav files every time vs reading float32 ``.npy`` files from ``AudioCache``
(filled by a first pass). Prints a table and writes JSON to bench/results/bench_data.json.

    python bench/bench_data.py [--preset small] [--workers 0 1 2] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from torch.utils.data import DataLoader

from sslasd.data import AudioCache, ClipDataset, clip_seconds, collate_clips, index_dataset
from sslasd.pipeline.synth import synth

RESULTS = Path(__file__).resolve().parent / "results"


def _pass(dataset: ClipDataset, workers: int, batch_size: int) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_clips)
    start = time.perf_counter()
    n = sum(len(batch["index"]) for batch in loader)
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", help="synthetic preset to build (tiny, small)")
    parser.add_argument("--data", help="use this DCASE-layout root instead of building a synthetic set")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data) if args.data else synth(Path(tmp) / "data", preset=args.preset, seed=0)
        index = index_dataset(root)
        clips = index.select(split="train")
        seconds = min(clip_seconds(index.year, clips[0].machine), 10.0)
        cache = AudioCache(Path(tmp) / "cache")
        common = {"sample_rate": 16000, "num_samples": int(seconds * 16000), "train": True}
        _pass(ClipDataset(clips, cache=cache, **common), 0, args.batch_size)  # fill the cache
        rows = []
        for workers in args.workers:
            for cached in (False, True):
                dataset = ClipDataset(clips, cache=cache if cached else None, **common)
                rate = _pass(dataset, workers, args.batch_size)
                rows.append({"workers": workers, "cache": cached, "clips_per_s": rate, "clips": len(clips)})
    print(f"{'workers':>7}  {'cache':>5}  {'clips/s':>9}")
    for r in rows:
        print(f"{r['workers']:>7}  {r['cache']!s:>5}  {r['clips_per_s']:>9.1f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_data.json").write_text(json.dumps({"preset": args.preset, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
