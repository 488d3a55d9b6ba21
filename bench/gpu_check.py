"""The prepared GPU check of issue 11: tests, bf16 agreement, BEATs-base speed, kNN on the GPU.

Started by ``bench/gpu_check.sh`` (``make gpu-check``), which fails fast without a CUDA GPU and
prepares the Python environment; this script runs the steps, each in its own process group with a
time limit, inside one overall budget (``--budget-s``, 450 s: the whole check stays under 8
minutes on one H100/H200), and writes ``gpu_check.json`` and ``gpu_check.md`` into ``--out``.

Steps, in this order (a step that no longer fits the budget is reported as skipped):

1. ``tests``: ``pytest -m gpu`` (the CUDA tests of fbank, backbones, grouped convs, kNN, training).
2. ``agreement``: every backbone family's tiny config, bf16 autocast on CUDA against fp32 on the
   CPU: max |difference| / max |fp32| of the features of two 2-s clips (target < 5 %).
3. ``embed``: BEATs-base (official iter3 config, random weights) ``extract`` of 10-s clips, bf16,
   batch 256, fbank on the GPU, clips/s and peak memory (target >= 3000 clips/s).
4. ``train``: the FC-LoRA step of ``bench_backbone.py`` (rank 8, 2 branches, frozen base), bf16,
   batch 64, fbank on the GPU: clips/s, peak memory, GPU utilisation sampled with ``nvidia-smi``
   (targets >= 1000 clips/s, > 80 %).
5. ``knn``: ``bench_backend.py --full --device cuda``: 10^4 queries x 10^5 bank, 256-d.
6. ``embed_compiled``, ``train_compiled``: 3 and 4 with ``torch.compile`` (compile time reported
   apart, as the warm-up).

Usage::

    bash bench/gpu_check.sh                                   # the normal way
    python bench/gpu_check.py --out bench/results             # with a ready Python environment
    python bench/gpu_check.py --step agreement --device cpu   # smoke test of step 2 without a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
#: Backbone families checked by the agreement step (every registry name that builds a tiny model).
FAMILIES = ("beats", "eat", "wav2vec2", "hubert", "wavlm", "data2vec", "efficientat", "whisper")
TARGETS = {
    "agreement_max_rel": 0.05,
    "embed_clips_per_s": 3000.0,
    "train_clips_per_s": 1000.0,
    "gpu_util_percent": 80.0,
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or BENCH / "results"))
    parser.add_argument("--budget-s", type=float, default=450.0, help="all steps together")
    parser.add_argument("--step", choices=["agreement"], help="run one in-process step only")
    parser.add_argument("--device", default="cuda", help="device of the agreement step (cpu: smoke test)")
    parser.add_argument("--json", type=Path, help="where --step writes its JSON")
    return parser.parse_args(argv)


# -- step 2, run in a child process ------------------------------------------------------------
def agreement(device_name: str) -> list[dict[str, Any]]:
    """bf16 autocast on ``device_name`` against fp32 on the CPU, for each family's tiny config."""
    import torch

    from sslasd.models.backbones import load_backbone

    device = torch.device(device_name)
    rows = []
    for name in FAMILIES:
        row: dict[str, Any] = {"family": name}
        try:
            torch.manual_seed(0)
            backbone = load_backbone(name, tiny=True).eval()
            generator = torch.Generator().manual_seed(0)
            wave = 0.1 * torch.randn(2, 2 * backbone.sample_rate, generator=generator)
            with torch.no_grad():
                reference = backbone.extract(wave).float()
                backbone.to(device)
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    cast = backbone.extract(wave.to(device)).float().cpu()
            error = float((cast - reference).abs().max() / reference.abs().max())
            row.update(max_rel=error, ok=error < TARGETS["agreement_max_rel"], shape=list(reference.shape))
        except Exception as exc:  # one family's failure is reported, the others still run
            row.update(max_rel=None, ok=False, error=f"{type(exc).__name__}: {exc}")
        print(f"agreement {name:<12} {row.get('max_rel')!s:<24} {'ok' if row['ok'] else 'FAIL'}", flush=True)
        rows.append(row)
    return rows


# -- the driver --------------------------------------------------------------------------------
def _run(name: str, cmd: list[str], limit_s: float, env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd`` in its own process group; kill the whole group (spawned workers too) at the limit."""
    print(f"\n=== {name}: {' '.join(cmd)} (limit {limit_s:.0f} s)", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        code = proc.wait(timeout=limit_s)
        status = "ok" if code == 0 else "failed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        code, status = None, "timeout"
    seconds = time.perf_counter() - start
    print(f"=== {name}: {status} after {seconds:.0f} s", flush=True)
    return {"status": status, "returncode": code, "seconds": seconds}


def _steps(tmp: Path) -> list[tuple[str, list[str], float]]:
    """(name, command, own time limit) of every step, in running order."""
    py = sys.executable
    backbone = [py, str(BENCH / "bench_backbone.py"), "--device", "cuda", "--precision", "bf16"]
    embed = [*backbone, "--phases", "forward", "--batch-size", "256", "--repeat", "3", "--min-seconds", "10"]
    train = [*backbone, "--phases", "train", "--batch-size", "64", "--repeat", "5", "--min-seconds", "15"]
    return [
        (
            "tests",
            [
                py,
                "-m",
                "pytest",
                "-m",
                "gpu",
                "-q",
                "-p",
                "no:cacheprovider",
                "--junitxml",
                str(tmp / "tests.xml"),
                "tests",
            ],
            150,
        ),
        ("agreement", [py, __file__, "--step", "agreement", "--json", str(tmp / "agreement.json")], 90),
        ("embed", [*embed, "--out", str(tmp / "embed.json")], 90),
        ("train", [*train, "--out", str(tmp / "train.json")], 90),
        (
            "knn",
            [
                py,
                str(BENCH / "bench_backend.py"),
                "--device",
                "cuda",
                "--full",
                "--out",
                str(tmp / "knn.json"),
            ],
            120,
        ),
        ("embed_compiled", [*embed, "--compile", "--out", str(tmp / "embed_compiled.json")], 150),
        ("train_compiled", [*train, "--compile", "--out", str(tmp / "train_compiled.json")], 180),
    ]


def _read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _tests_summary(path: Path) -> dict[str, int] | None:
    if not path.is_file():
        return None
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return counts


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _table(report: dict[str, Any]) -> str:
    """The markdown table: what was measured, its target, and whether it met it."""
    lines = ["| check | result | target | met |", "|---|---|---|---|"]
    steps = report["steps"]

    def add(check: str, result: str, target: str = "", met: bool | None = None) -> None:
        lines.append(f"| {check} | {result} | {target} | {'-' if met is None else 'yes' if met else 'no'} |")

    tests = report.get("tests")
    if tests:
        ok = tests["failures"] == 0 and tests["errors"] == 0
        add(
            "`pytest -m gpu`",
            f"{tests['passed']} passed, {tests['failures'] + tests['errors']} failed, "
            f"{tests['skipped']} skipped",
            "all pass",
            ok,
        )
    else:
        add("`pytest -m gpu`", steps["tests"]["status"], "all pass")
    for row in report.get("agreement") or []:
        result = f"{row['max_rel']:.2%}" if row["max_rel"] is not None else row.get("error", "error")
        add(f"bf16 CUDA vs fp32 CPU, {row['family']} tiny", result, "< 5 %", row["ok"])
    if report.get("agreement") is None:
        add("bf16 CUDA vs fp32 CPU, every family", steps["agreement"]["status"], "< 5 %")
    for name, label, key in (
        ("embed", "BEATs-base embedding, bf16, batch 256", "embed_clips_per_s"),
        ("embed_compiled", "same, torch.compile", "embed_clips_per_s"),
        ("train", "BEATs-base FC-LoRA training, bf16, batch 64", "train_clips_per_s"),
        ("train_compiled", "same, torch.compile", "train_clips_per_s"),
    ):
        bench = report.get(name)
        target = f">= {TARGETS[key]:.0f} clips/s"
        if not bench:
            add(label, steps[name]["status"], target)
            continue
        row = bench["rows"][0]
        speed = row["clips_per_s"]
        add(
            label,
            f"{speed:.1f} clips/s, peak {_fmt(row['peak_mib'], '.0f')} MiB, warm-up {row['warmup_s']:.0f} s",
            target,
            speed >= TARGETS[key],
        )
        if name.startswith("train"):
            util = row["gpu_util_percent"]
            add(
                f"{label}: GPU utilisation",
                f"{_fmt(util, '.0f')} % ({row['gpu_util_samples']} samples)",
                "> 80 %",
                None if util is None else util > TARGETS["gpu_util_percent"],
            )
    knn = report.get("knn")
    if knn:
        seconds = knn["seconds"]
        add(
            f"kNN {knn['n_queries']} queries x {knn['n_bank']} bank, {knn['dim']}-d, {knn['device']}",
            f"score {seconds['score_samples']:.2f} s, fit (leave-one-out) "
            f"{seconds['fit']:.2f} s, max diff vs sklearn {knn['max_abs_difference']:.1e}",
        )
    else:
        add("kNN 10^4 x 10^5, GPU", steps["knn"]["status"])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.step == "agreement":
        rows = agreement(args.device)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
        return 0 if all(r["ok"] for r in rows) else 1

    import torch

    if not torch.cuda.is_available():
        print(
            "gpu-check: no CUDA GPU visible to torch; nothing measured (run bench/gpu_check.sh)",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    deadline = time.perf_counter() + args.budget_s
    report: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "budget_s": args.budget_s,
        "targets": TARGETS,
        "steps": {},
    }
    with tempfile.TemporaryDirectory(prefix="gpu_check.") as tmp_name:
        tmp = Path(tmp_name)
        for name, cmd, limit_s in _steps(tmp):
            left = deadline - time.perf_counter()
            if left < 20:
                report["steps"][name] = {"status": "skipped: out of time", "returncode": None, "seconds": 0.0}
                continue
            report["steps"][name] = _run(name, cmd, min(limit_s, left), env)
        report["tests"] = _tests_summary(tmp / "tests.xml")
        report["agreement"] = _read(tmp / "agreement.json")
        for name in ("embed", "train", "knn", "embed_compiled", "train_compiled"):
            report[name] = _read(tmp / f"{name}.json")
    table = _table(report)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    header = f"GPU check on {report['gpu']}, torch {report['torch']} (CUDA {report['cuda']})\n\n"
    (args.out / "gpu_check.md").write_text(header + table)
    print("\n" + header + table)
    print(f"wrote {args.out / 'gpu_check.json'} and {args.out / 'gpu_check.md'}")
    return 0 if all(step["status"] == "ok" for step in report["steps"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
