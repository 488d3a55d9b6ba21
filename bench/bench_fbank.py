"""Fbank benchmark: sslasd's batched Kaldi fbank against kaldi-native-fbank on the same 10-s clips.

kaldi-native-fbank (C++) computes one clip at a time; ``sslasd.features.Fbank`` computes a whole
batch with one FFT call, on the CPU and, when available, on the GPU. Both run with 80 mel bins
(kaldi-native-fbank refuses BEATs' 128 bins at 16 kHz, see ``docs/features_beats_eat.md``), and
the absolute difference between them is reported (its maximum comes from float32 rounding in
cells far below the frame's peak energy); ours is also timed at 128 bins.
Times are the best of ``--repeat`` runs over all clips; clips/s = clips / time. The table is
printed and the JSON goes to ``bench/results/bench_fbank.json`` (git-ignored).

Usage::

    python bench/bench_fbank.py                    # 64 clips x 10 s, well under a minute on 2 cores
    python bench/bench_fbank.py --clips 1024 --batch-size 256 --repeat 5
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslasd._common import atomic_write_json
from sslasd.features import Fbank, FbankConfig

RESULTS = Path(__file__).resolve().parent / "results" / "bench_fbank.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="runs over all clips; the best is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def _best_time(fn: Callable[[], Any], repeat: int, cuda: bool = False) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, result


def _ours(waves: torch.Tensor, bins: int, batch_size: int, device: str) -> Callable[[], torch.Tensor]:
    module = Fbank(FbankConfig(num_mel_bins=bins))
    waves = waves.to(device)

    def run() -> torch.Tensor:
        return torch.cat([module(waves[i : i + batch_size]) for i in range(0, len(waves), batch_size)])

    return run


def _kaldi_native(waves: np.ndarray, bins: int) -> Callable[[], np.ndarray]:
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = bins

    def run() -> np.ndarray:
        out = []
        for wave in waves:
            online = knf.OnlineFbank(opts)
            online.accept_waveform(16000, wave)
            online.input_finished()
            out.append(np.stack([online.get_frame(i) for i in range(online.num_frames_ready)]))
        return np.stack(out)

    return run


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    rng = np.random.default_rng(args.seed)
    samples = int(args.seconds * 16000)
    # Noise with a slowly varying envelope, in 16-bit scale as BEATs feeds it.
    envelope = 1.0 + 0.5 * np.sin(np.linspace(0, 20, samples))[None, :]
    waves = (rng.normal(size=(args.clips, samples)) * 2000 * envelope).astype(np.float32)
    rows: list[dict[str, Any]] = []

    knf_s, knf_out = _best_time(_kaldi_native(waves, 80), args.repeat)
    rows.append({"impl": "kaldi-native-fbank", "device": "cpu", "bins": 80, "seconds": knf_s})
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    max_diff = {}
    for device in devices:
        for bins in (80, 128):
            run = _ours(torch.from_numpy(waves), bins, args.batch_size, device)
            run()  # warm-up: filter tables, FFT plans, CUDA context
            seconds, out = _best_time(run, args.repeat, cuda=device == "cuda")
            rows.append({"impl": "sslasd Fbank", "device": device, "bins": bins, "seconds": seconds})
            if bins == 80:
                diff = np.abs(out.cpu().numpy() - knf_out)
                max_diff[device] = {"max": float(diff.max()), "p99.99": float(np.percentile(diff, 99.99))}
    for row in rows:
        row["clips_per_s"] = args.clips / row["seconds"]
        row["speedup_vs_knf"] = knf_s / row["seconds"]

    print(
        f"{args.clips} clips x {args.seconds:g} s, batch {args.batch_size}, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"{'impl':<20} {'device':<6} {'bins':>4} {'seconds':>9} {'clips/s':>9} {'vs knf':>7}")
    for r in rows:
        print(
            f"{r['impl']:<20} {r['device']:<6} {r['bins']:>4} {r['seconds']:>9.3f} "
            f"{r['clips_per_s']:>9.1f} {r['speedup_vs_knf']:>6.2f}x"
        )
    for device, diff in max_diff.items():
        print(
            f"|ours ({device}) - kaldi-native-fbank| at 80 bins: "
            f"max {diff['max']:.1e}, 99.99th percentile {diff['p99.99']:.1e}"
        )
    atomic_write_json(
        args.out,
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "rows": rows,
            "abs_diff_vs_knf_80_bins": max_diff,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
