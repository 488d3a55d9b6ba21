"""A second synthetic data set, made without any of sslasd's generator: a check against tuning to it.

``sslasd synth`` models six machine types from simple physics (fans with blade-pass tones, pumps,
gearboxes with meshing orders, ...), and the protocol's numbers come from it. A detector could end
up fitted to those sounds. This script shares no code and no sound model with it (it imports only
NumPy and soundfile) and writes a data set in the DCASE 2024 layout that ``sslasd fit``/``ablate``
read unchanged:

- **Machines** are generic sources, each drawn at random from a seed: a few harmonic series
  (random fundamentals, random spectral envelopes) with slow frequency jitter and amplitude
  modulation, broadband noise through random resonances, and optionally a train of decaying
  impacts. Operating modes scale the fundamentals, the modulation rate and the noise share.
- **Domains**: the target domain uses operating values never seen in the source domain and another
  background (low-frequency rumble and hum instead of a bright room tone), with 10 training clips
  per section against 100.
- **Anomalies**, one per anomalous clip at a random severity: an inharmonic tone, intermittent
  clicks, deeper amplitude modulation, a shifted resonance, or a missing harmonic.
- **Concealed sections** (``noAttribute`` in the file names, as in DCASE 2024-2025) keep their modes
  in ``synth_truth.csv``, so the VQ pseudo-labels' NMI can be measured on them too.

    python bench/independent_synth.py OUT [--seed 0] [--test-per-group 40] [--seconds 5]

Then e.g. ``sslasd ablate --out P --data OUT --config cpu --seeds 0 --variants paper``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
#: machine -> (sections, concealed sections, operating attribute name, source values, target value)
MACHINES = {
    "ToyCar": (2, (), "rpm", (1, 2, 3), 5),
    "ToyTrain": (2, (1,), "spd", (1, 2, 3), 4),
    "fan": (2, (0, 1), "mode", (1, 2, 3), 6),
    "valve": (1, (), "cyc", (1, 2), 3),
}
ANOMALIES = ("tone", "clicks", "wobble", "resonance", "dropout")
TRAIN = {"source": 100, "target": 10}


@dataclass(frozen=True)
class Source:
    """The random make-up of one machine section."""

    f0: np.ndarray  # fundamentals of the harmonic series (Hz)
    envelopes: np.ndarray  # [series, harmonics] amplitudes
    resonances: np.ndarray  # [n, 2]: centre (Hz), bandwidth (Hz)
    noise_share: float
    am_rate: float
    impact_rate: float  # impacts per second (0: none)


def make_source(rng: np.random.Generator) -> Source:
    series = int(rng.integers(1, 4))
    harmonics = 12
    tilt = rng.uniform(0.5, 2.0, size=(series, 1))
    envelopes = rng.uniform(0.2, 1.0, size=(series, harmonics)) / np.arange(1, harmonics + 1) ** tilt
    return Source(
        f0=rng.uniform(40, 400, size=series),
        envelopes=envelopes,
        resonances=np.column_stack([rng.uniform(300, 6000, 3), rng.uniform(50, 600, 3)]),
        noise_share=float(rng.uniform(0.2, 0.7)),
        am_rate=float(rng.uniform(0.5, 8.0)),
        impact_rate=float(rng.choice([0.0, rng.uniform(2, 20)])),
    )


def resonant_noise(rng: np.random.Generator, n: int, resonances: np.ndarray) -> np.ndarray:
    """White noise shaped in the frequency domain by a sum of Lorentzian resonances."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    gain = sum(1 / (1 + ((freqs - c) / (b / 2)) ** 2) for c, b in resonances)
    out = np.fft.irfft(spectrum * gain, n)
    return out / (np.std(out) + 1e-9)


def render(rng: np.random.Generator, src: Source, mode: float, anomaly: str | None, severity: float, n: int):
    """One clip of ``src`` at operating value ``mode`` (a scale of its speed), maybe with an anomaly."""
    t = np.arange(n) / SR
    scale = 1 + 0.15 * (mode - 1)
    am_depth = 0.1 + (0.5 * severity if anomaly == "wobble" else 0.0)
    am = 1 + am_depth * np.sin(2 * np.pi * src.am_rate * scale * t + rng.uniform(0, 2 * np.pi))
    tonal = np.zeros(n)
    dropped = (int(rng.integers(len(src.f0))), int(rng.integers(1, 4))) if anomaly == "dropout" else None
    for s, (f0, env) in enumerate(zip(src.f0 * scale, src.envelopes)):
        jitter = np.cumsum(rng.standard_normal(n)) / np.sqrt(n) * 0.01 * f0
        phase = 2 * np.pi * np.cumsum(f0 + jitter) / SR
        for h, a in enumerate(env, start=1):
            if h * f0 >= SR / 2 - 200:
                break
            if dropped == (s, h):
                a *= 1 - severity
            tonal += a * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    tonal /= np.std(tonal) + 1e-9
    resonances = src.resonances.copy()
    if anomaly == "resonance":
        resonances[0, 0] *= 1 + 0.4 * severity * rng.choice([-1, 1])
    noise = resonant_noise(rng, n, resonances)
    x = am * ((1 - src.noise_share) * tonal + src.noise_share * noise)
    if src.impact_rate:
        x += 0.5 * impacts(rng, n, src.impact_rate * scale, decay=0.01)
    if anomaly == "tone":
        f = rng.uniform(500, 5000)
        x += 0.6 * severity * np.sin(2 * np.pi * f * t)
    if anomaly == "clicks":
        x += 3 * severity * impacts(rng, n, rng.uniform(0.5, 3), decay=0.002)
    return x / (np.std(x) + 1e-9)


def impacts(rng: np.random.Generator, n: int, rate: float, decay: float) -> np.ndarray:
    """Poisson impacts, each an exponentially decaying noise burst of time constant ``decay`` s."""
    out = np.zeros(n)
    k = int(decay * 6 * SR)
    burst = rng.standard_normal(k) * np.exp(-np.arange(k) / (decay * SR))
    for start in np.flatnonzero(rng.random(n) < rate / SR):
        end = min(n, start + k)
        out[start:end] += burst[: end - start]
    return out


def background(rng: np.random.Generator, n: int, domain: str) -> np.ndarray:
    """Source: bright room tone (noise tilted up); target: rumble (1/f^2) plus mains hum."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR) + 20
    if domain == "source":
        x = np.fft.irfft(spectrum * (freqs / 1000) ** 0.3, n)
    else:
        x = np.fft.irfft(spectrum / (freqs / 100), n)
        x += 0.5 * np.std(x) * np.sin(2 * np.pi * 50 * np.arange(n) / SR)
    return x / (np.std(x) + 1e-9)


def write(out: Path, seed: int, test_per_group: int, seconds: float) -> int:
    """Write the set into ``out`` (made here, after a complete write to ``OUT.partial``); clip count."""
    if out.exists():
        raise FileExistsError(f"{out}: exists; pick a new folder")
    final, out = out, out.with_name(out.name + ".partial")
    if out.exists():
        shutil.rmtree(out)  # a killed earlier attempt
    out.mkdir(parents=True)
    n = int(seconds * SR)
    truth = []
    for m_index, (machine, (sections, concealed, attr, values, target_value)) in enumerate(MACHINES.items()):
        for section in range(sections):
            rng = np.random.default_rng([seed, m_index, section])
            src = make_source(rng)
            plans = []
            for domain, count in TRAIN.items():
                plans += [("train", domain, "normal", i) for i in range(count)]
            for domain in ("source", "target"):
                for label in ("normal", "anomaly"):
                    plans += [("test", domain, label, i) for i in range(test_per_group)]
            numbers: dict[tuple[str, str], int] = {}
            for split, domain, label, _ in plans:
                key = (split, domain)
                number = numbers[key] = numbers.get(key, -1) + 1
                mode = float(rng.choice(values)) if domain == "source" else float(target_value)
                anomaly = str(rng.choice(ANOMALIES)) if label == "anomaly" else None
                severity = float(rng.uniform(0.3, 1.0)) if anomaly else 0.0
                snr_db = rng.uniform(0, 10) if domain == "source" else rng.uniform(-3, 6)
                clip = render(rng, src, mode, anomaly, severity, n)
                noisy = clip + 10 ** (-snr_db / 20) * background(rng, n, domain)
                noisy *= 0.05 / (np.std(noisy) + 1e-9)
                condition = f"{attr}_{mode:g}"
                suffix = "noAttribute" if section in concealed else condition
                name = f"section_{section:02d}_{domain}_{split}_{label}_{number:04d}_{suffix}.wav"
                path = out / machine / split / name
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, np.clip(noisy, -0.99, 0.99).astype(np.float32), SR, subtype="PCM_16")
                truth.append(
                    [
                        f"{machine}/{split}/{name}",
                        machine,
                        f"{section:02d}",
                        domain,
                        label,
                        condition,
                        anomaly or "",
                        f"{severity:.3f}",
                    ]
                )
    with open(out / "synth_truth.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["file_name", "machine", "section", "domain", "label", "condition", "fault", "severity"]
        )
        writer.writerows(truth)
    (out / "README.txt").write_text(
        f"Independent synthetic machine-sound set (bench/independent_synth.py), seed {seed}, "
        f"{len(truth)} clips, {test_per_group} test clips per section, domain and label, {seconds:g} s, "
        f"{SR} Hz. Not recorded audio.\n"
    )
    out.rename(final)
    return len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="new folder for the data set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-per-group", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    try:
        count = write(args.out, args.seed, args.test_per_group, args.seconds)
    except FileExistsError as err:
        raise SystemExit(str(err)) from None
    print(f"{args.out}: {count} clips")


if __name__ == "__main__":
    main()
