"""Backbone benchmark: BEATs-base (random weights, official iter3 config), forward and FC-LoRA step.

Two phases per implementation, on the same 10-s clips:

* ``forward``: ``extract`` in eval mode without gradients;
* ``train step``: FC-LoRA (``sslasd.models.adapters.inject_lora``, rank 8, 2 branches) on every
  q/k/v/out/fc1/fc2 layer, all base weights frozen, mean pooling and a trainable linear head,
  MSE loss, backward, AdamW step.

fp32 on the CPU, bf16 autocast on the GPU (``--precision`` changes it). ``--precision bf16`` on
the CPU is fast only where the CPU has native bf16 (AMX / AVX512-BF16; recorded as
``cpu_native_bf16``), elsewhere oneDNN emulates it and it is slower than fp32. With bf16 the
largest difference of one clip's features from fp32, relative to the largest fp32 feature, is
recorded too. Grouped convolutions run in float32 under CPU autocast (oneDNN's bf16 grouped kernel
is wrong, see ``sslasd.models.backbones._grouped_conv``).

clips/s = batch size x timed steps / time; the timed steps are ``--repeat`` or more, until
``--min-seconds`` have passed. Each phase runs in a fresh process; its peak memory is, on CUDA,
``torch.cuda.max_memory_allocated`` above what the model and input already hold and, on the CPU,
the growth of the resident memory during the phase (sampled every 5 ms). On CUDA the GPU
utilisation is sampled with ``nvidia-smi`` every 200 ms during the timed steps. ``--compile``
runs the forward through ``torch.compile`` (compile time is in the untimed warm-up, reported as
``warmup_s``).

With ``--original PATH`` (a local copy of microsoft/unilm ``beats/``, never part of this
repository) the original code runs side by side with the same weights; the largest absolute
difference of the two outputs is printed. When torchaudio is not installed, the original's
``torchaudio.compliance.kaldi.fbank`` is served by ``sslasd.features.fbank``.
The table is printed and the JSON goes to ``bench/results/bench_backbone_<device>_<precision>.json``
(git-ignored).

Usage::

    python bench/bench_backbone.py                          # 1 clip x 10 s, fp32 CPU, ~1-2 min on 2 cores
    python bench/bench_backbone.py --precision bf16         # CPU bf16 (fast with AMX / AVX512-BF16 only)
    python bench/bench_backbone.py --original ~/src/unilm/beats
    python bench/bench_backbone.py --device cuda --batch-size 64 --repeat 10 --min-seconds 10 --compile
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sslasd._common import atomic_write_json, autocast_dtype, cpu_has_native_bf16, resolve_device
from sslasd.features import fbank
from sslasd.models.adapters import inject_lora
from sslasd.models.backbones.beats import BeatsBackbone, BeatsConfig

RESULTS = Path(__file__).resolve().parent / "results"
PHASES = {"forward": ("forward",), "train": ("train step",), "both": ("forward", "train step")}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=1, help="timed repetitions after one warm-up")
    parser.add_argument("--min-seconds", type=float, default=0.0, help="repeat until this long (at least)")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--precision", default="auto", choices=["auto", "32", "bf16"], help="auto: bf16 on CUDA, fp32 on CPU"
    )
    parser.add_argument("--phases", default="both", choices=sorted(PHASES))
    parser.add_argument("--compile", action="store_true", help="torch.compile the forward")
    parser.add_argument("--original", type=Path, default=None, help="folder holding the original BEATs.py")
    parser.add_argument("--tiny", action="store_true", help="tiny config (smoke test of the script)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: bench/results/...)")
    args = parser.parse_args(argv)
    if args.out is None:
        device = resolve_device(args.device)
        dtype = autocast_dtype(device, args.precision)
        name = f"bench_backbone_{device.type}_{'fp32' if dtype is None else 'bf16'}.json"
        args.out = RESULTS / name
    return args


class _GpuUtilisation:
    """Mean GPU utilisation (%) over a phase, from ``nvidia-smi`` sampled every 200 ms."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.mean: float | None = None
        self.samples = 0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        if self.device.type != "cuda" or shutil.which("nvidia-smi") is None:
            yield
            return
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        sampler = subprocess.Popen(
            [*query, "-lms", "200", "-i", str(index)], stdout=subprocess.PIPE, text=True
        )
        try:
            yield
        finally:
            sampler.terminate()
            output, _ = sampler.communicate(timeout=10)
            values = [float(v) for v in output.split() if v.strip().replace(".", "", 1).isdigit()]
            self.samples = len(values)
            self.mean = sum(values) / len(values) if values else None


class _PeakMemory:
    """Peak memory of a phase: CUDA allocator peak, or resident-set growth sampled on Linux."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_mib: float | None = None

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            yield
            torch.cuda.synchronize()
            self.peak_mib = (torch.cuda.max_memory_allocated() - base) / 2**20
            return
        if not Path("/proc/self/statm").exists():
            yield
            return
        base, peak, done = self._rss(), [self._rss()], threading.Event()

        def sample() -> None:
            while not done.wait(0.005):
                peak[0] = max(peak[0], self._rss())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
            self.peak_mib = (max(peak[0], self._rss()) - base) / 2**20


def _import_original(path: Path) -> Any:
    """The original ``BEATs`` module from ``path``, with sslasd's fbank standing in for torchaudio's."""
    try:
        import torchaudio.compliance.kaldi  # noqa: F401
    except ImportError:
        kaldi = types.ModuleType("torchaudio.compliance.kaldi")

        def kaldi_fbank(
            waveform: torch.Tensor, num_mel_bins: int, sample_frequency: float, **kw: Any
        ) -> torch.Tensor:
            ms = {
                "frame_length_ms": kw.get("frame_length", 25.0),
                "frame_shift_ms": kw.get("frame_shift", 10.0),
            }
            return fbank(waveform, int(sample_frequency), num_mel_bins, **ms)[0]

        kaldi.fbank = kaldi_fbank  # type: ignore[attr-defined]
        compliance = types.ModuleType("torchaudio.compliance")
        compliance.kaldi = kaldi  # type: ignore[attr-defined]
        package = types.ModuleType("torchaudio")
        package.compliance = compliance  # type: ignore[attr-defined]
        sys.modules.update(
            {"torchaudio": package, "torchaudio.compliance": compliance, "torchaudio.compliance.kaldi": kaldi}
        )
    sys.path.insert(0, str(path.expanduser().resolve()))
    import BEATs  # the original module, from --original

    return BEATs


def _model(impl: str, args: argparse.Namespace, device: torch.device) -> tuple[nn.Module, Callable]:
    """A fresh model of ``impl`` with the seed's random weights (the same for both) and its forward."""
    torch.manual_seed(args.seed)
    ours = BeatsBackbone(_config(args))
    if impl == "sslasd":
        return ours.to(device), ours.extract
    original_module = _import_original(args.original)
    model = original_module.BEATs(original_module.BEATsConfig(_config(args).to_dict()))
    model.load_state_dict(ours.state_dict())
    return model.to(device), lambda wave: model.extract_features(wave)[0]


def _config(args: argparse.Namespace) -> BeatsConfig:
    return (BeatsConfig.tiny() if args.tiny else BeatsConfig()).replace(encoder_layerdrop=0.0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _warm_up(fn: Callable[[], Any], device: torch.device) -> float:
    """One untimed call (and, with --compile, the compilation); its seconds."""
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _timed(fn: Callable[[], Any], repeat: int, min_seconds: float, device: torch.device) -> tuple[float, int]:
    """Seconds and count of at least ``repeat`` calls, continued until ``min_seconds`` have passed."""
    start, steps = time.perf_counter(), 0
    while steps < repeat or time.perf_counter() - start < min_seconds:
        fn()
        steps += 1
        if steps >= repeat and min_seconds > 0:
            _sync(device)  # so that the clock sees the work done
    _sync(device)
    return time.perf_counter() - start, steps


def _wave(args: argparse.Namespace, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(args.seed)
    return (0.1 * torch.randn(args.batch_size, int(args.seconds * 16000), generator=generator)).to(device)


def _phase(impl: str, phase: str, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement, run in a fresh process so that memory peaks do not mix."""
    device = resolve_device(args.device)
    dtype = autocast_dtype(device, args.precision)
    wave = _wave(args, device)
    model, forward = _model(impl, args, device)
    step: Callable[[], None]
    extra: dict[str, Any] = {}

    def maybe_compiled() -> Callable:
        return torch.compile(forward) if args.compile else forward

    if phase == "forward":
        model.eval()
        run = maybe_compiled()

        def step() -> None:
            with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                run(wave)

    else:
        model.train()
        model.requires_grad_(False)
        # The module names are the same in both implementations.
        inject_lora(model, BeatsBackbone(_config(args)).linear_names(), rank=8, branches=2)
        model.to(device)
        head = nn.Linear(_config(args).encoder_embed_dim, 16).to(device)
        trainable = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
        optimizer = torch.optim.AdamW(trainable, lr=1e-4)
        target = torch.randn(wave.shape[0], 16, device=device)
        extra["trainable_params"] = sum(p.numel() for p in trainable)
        run = maybe_compiled()

        def step() -> None:
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = nn.functional.mse_loss(head(run(wave).mean(dim=1)).float(), target)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    memory, utilisation = _PeakMemory(device), _GpuUtilisation(device)
    with memory.measure():  # the warm-up too: the first step allocates what later steps reuse
        warmup_s = _warm_up(step, device)
        with utilisation.measure():
            seconds, steps = _timed(step, args.repeat, args.min_seconds, device)
    return {
        "impl": impl,
        "phase": phase,
        "compiled": args.compile,
        "seconds": seconds,
        "steps": steps,
        "warmup_s": warmup_s,
        "peak_mib": memory.peak_mib,
        "gpu_util_percent": utilisation.mean,
        "gpu_util_samples": utilisation.samples,
        **extra,
    }


def _in_child(impl: str, phase: str, args: argparse.Namespace) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_phase, (impl, phase, args))


def _bf16_error(args: argparse.Namespace, device: torch.device) -> float:
    """max |bf16 - fp32| / max |fp32| of the features of the benchmark's first clip."""
    model, forward = _model("sslasd", args, device)
    model.eval()
    wave = _wave(args, device)[:1]
    with torch.no_grad():
        reference = forward(wave).float()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            cast = forward(wave).float()
    return float((cast - reference).abs().max() / reference.abs().max())


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    device = resolve_device(args.device)
    dtype = autocast_dtype(device, args.precision)
    impls = ["sslasd"] + (["original"] if args.original is not None else [])
    native_bf16 = cpu_has_native_bf16()
    if dtype is not None and device.type == "cpu" and not native_bf16:
        print("note: this CPU has no native bf16 (no AMX / AVX512-BF16): bf16 is emulated, expect it slower")

    max_diff = None
    if args.original is not None:
        (ours, ours_fn), (orig, orig_fn) = _model("sslasd", args, device), _model("original", args, device)
        ours.eval(), orig.eval()
        with torch.no_grad():
            short = _wave(args, device)[:, :32000]
            max_diff = float((ours_fn(short) - orig_fn(short)).abs().max())
        del ours, orig

    bf16_error = _bf16_error(args, device) if dtype == torch.bfloat16 else None
    rows = [_in_child(impl, phase, args) for impl in impls for phase in PHASES[args.phases]]
    for row in rows:
        row["clips_per_s"] = args.batch_size * row["steps"] / row["seconds"]

    precision = "fp32" if dtype is None else str(dtype).replace("torch.", "")
    print(
        f"BEATs {'tiny' if args.tiny else 'base (iter3 config)'}, random weights, {device.type}, {precision}"
        f"{', torch.compile' if args.compile else ''}"
    )
    print(
        f"batch {args.batch_size} x {args.seconds:g} s, threads {torch.get_num_threads()}, "
        f"CPU native bf16 (AMX / AVX512-BF16): {'yes' if native_bf16 else 'no'}"
    )
    print(
        f"{'impl':<9} {'phase':<11} {'clips/s':>8} {'steps':>6} {'warm-up s':>10} "
        f"{'peak MiB':>9} {'GPU %':>6}"
    )
    for r in rows:
        peak = "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        util = "-" if r["gpu_util_percent"] is None else f"{r['gpu_util_percent']:.0f}"
        print(
            f"{r['impl']:<9} {r['phase']:<11} {r['clips_per_s']:>8.2f} {r['steps']:>6} "
            f"{r['warmup_s']:>10.1f} {peak:>9} {util:>6}"
        )
    if max_diff is not None:
        print(f"max |sslasd - original| on 2-s clips (fp32): {max_diff:.2e}")
    if bf16_error is not None:
        print(f"bf16 vs fp32 features of one clip: max |difference| / max |fp32| = {bf16_error:.2%}")
    atomic_write_json(
        args.out,
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "device": torch.cuda.get_device_name()
            if device.type == "cuda"
            else platform.processor() or "cpu",
            "precision": precision,
            "compiled": args.compile,
            "cpu_native_bf16": native_bf16,
            "bf16_vs_fp32_max_rel": bf16_error,
            "rows": rows,
            "max_abs_diff_vs_original": max_diff,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "python": sys.version.split()[0],
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
