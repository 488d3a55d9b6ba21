"""A fake but structured run folder, written on the fly, so the report is tested on its own.

Two machines: ``fan`` (sections 00 and 01, attributes in the names) and ``valve`` (section 00,
``noAttribute``, VQ pseudo-labels). Embeddings form one cluster per machine/section/attribute;
anomalous test clips get higher scores on average. ``metrics.json`` is computed here with
scikit-learn by the 2024 rule, with the key names of ``sslasd evaluate --json``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import hmean
from sklearn.metrics import roc_auc_score

GROUPS = {
    ("fan", "00"): ["vel_4", "vel_8"],
    ("fan", "01"): ["vel_2", "vel_6"],
    ("valve", "00"): ["noAttribute"],
}
THRESHOLD = 0.5
CONFIG_TEXT = "# resolved config: a < b & c\nseed: 0\nbackbone:\n  name: efficientat\n  tiny: true\n"


@dataclass
class FakeRun:
    """Paths and the numbers the fixture computed, for the tests to compare with."""

    root: Path
    scores: Path
    metrics: dict


def _embed(rng: np.random.Generator, centre: np.ndarray, n: int, spread: float) -> np.ndarray:
    x = centre + spread * rng.normal(size=(n, centre.size))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _write_npz(path: Path, rows: list[dict], emb: np.ndarray) -> None:
    arrays = {
        "embeddings": emb.astype(np.float32),
        **{
            key: np.array([r[key] for r in rows], dtype=str)
            for key in ("names", "machines", "sections", "domains", "labels", "attributes")
        },
        "pseudo_labels": np.array([r["pseudo_labels"] for r in rows], dtype=np.int64),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def _clip_sets(rng: np.random.Generator, dim: int = 16):
    train_rows, train_emb, test_rows, test_emb, clips = [], [], [], [], []
    for (machine, section), attrs in GROUPS.items():
        for a, attr in enumerate(attrs):
            centre = rng.normal(size=dim)
            for domain, n_train in (("source", 12), ("target", 3)):
                for i in range(n_train):
                    pseudo = int(rng.integers(3)) if attr == "noAttribute" else -1
                    train_rows.append(
                        dict(
                            names=f"section_{section}_{domain}_train_normal_{a}{i:03d}_{attr}.wav",
                            machines=machine,
                            sections=section,
                            domains=domain,
                            labels="normal",
                            attributes=attr,
                            pseudo_labels=pseudo,
                        )
                    )
                train_emb.append(_embed(rng, centre, n_train, 0.3))
                for label, n_test in (("normal", 4), ("anomaly", 4)):
                    spread = 0.3 if label == "normal" else 0.9
                    for i in range(n_test):
                        name = f"section_{section}_{domain}_test_{label}_{a}{i:03d}_{attr}.wav"
                        score = rng.normal(0.35 if label == "normal" else 0.6, 0.12)
                        test_rows.append(
                            dict(
                                names=name,
                                machines=machine,
                                sections=section,
                                domains=domain,
                                labels=label,
                                attributes=attr,
                                pseudo_labels=-1,
                            )
                        )
                        clips.append(
                            dict(
                                name=name,
                                machine=machine,
                                section=section,
                                domain=domain,
                                label=label,
                                score=float(score),
                                decision=int(score > THRESHOLD),
                            )
                        )
                    test_emb.append(_embed(rng, centre, n_test, spread))
    return train_rows, np.concatenate(train_emb), test_rows, np.concatenate(test_emb), clips


OFFICIAL = ("auc_source", "auc_target", "pauc")


def _section_metrics(group: list[dict]) -> dict:
    y = np.array([c["label"] == "anomaly" for c in group])
    s = np.array([c["score"] for c in group])
    d = np.array([c["domain"] for c in group])
    dec = np.array([c["decision"] for c in group])
    entry = {
        "auc": roc_auc_score(y, s),
        "pauc": roc_auc_score(y, s, max_fpr=0.1),
        "counts": {},
        "decisions": {},
    }
    for dom in ("source", "target"):
        rule, own = (d == dom) | y, d == dom
        entry[f"auc_{dom}"] = roc_auc_score(y[rule], s[rule])
        entry[f"domain_auc_{dom}"] = roc_auc_score(y[own], s[own])
        entry[f"pauc_{dom}"] = roc_auc_score(y[own], s[own], max_fpr=0.1)
        entry["counts"] |= {f"normal_{dom}": int((own & ~y).sum()), f"anomaly_{dom}": int((own & y).sum())}
        tp = int((own & y & (dec == 1)).sum())
        precision, recall = tp / max(int((own & (dec == 1)).sum()), 1), tp / max(int((own & y).sum()), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        entry["decisions"][dom] = {"precision": precision, "recall": recall, "f1": f1}
    entry["official"] = {k: entry[k] for k in OFFICIAL}
    return entry


def _means(sections: list[dict]) -> dict:
    out = {f"{k}_hmean": float(hmean([s[k] for s in sections])) for k in OFFICIAL}
    return out | {"score": float(hmean([s[k] for s in sections for k in OFFICIAL]))}


def metrics_2024(clips: list[dict]) -> dict:
    """metrics.json of ``clips`` by the 2022-2025 rule, computed independently with scikit-learn."""
    sections = []
    for machine, section in GROUPS:
        group = [c for c in clips if (c["machine"], c["section"]) == (machine, section)]
        sections.append({"machine": machine, "section": section, **_section_metrics(group)})
    machines = {
        m: _means([s for s in sections if s["machine"] == m]) for m in dict.fromkeys(m for m, _ in GROUPS)
    }
    summary = _means(sections)
    summary["official_score"] = summary.pop("score")
    return {
        "year": 2024,
        "official_score": summary["official_score"],
        "rule": "2024: harmonic mean of AUC_source, AUC_target and pAUC over all sections",
        "coverage": "partial",
        "summary": summary,
        "machines": machines,
        "sections": sections,
        "clips": clips,
    }


def write_fake_run(root: Path, *, seed: int = 0) -> FakeRun:
    """Write every file of a fitted, scored and evaluated run into ``root``."""
    rng = np.random.default_rng(seed)
    train_rows, train_emb, test_rows, test_emb, clips = _clip_sets(rng)
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(CONFIG_TEXT)
    info = {
        "sslasd_version": "0.1.0",
        "torch_version": "2.13.0",
        "seed": seed,
        "created": "2025-01-01T00:00:00+00:00",
        "backbone": {"name": "efficientat", "checkpoint": None, "sha256": None},
        "machines": ["fan", "valve"],
        "year": 2024,
        "data_root": "/data/synth",
        "labels": ["fan|00|vel_4", "fan|00|vel_8"],
    }
    (root / "run.json").write_text(json.dumps(info))
    fit = root / "fit"
    fit.mkdir()
    with (fit / "metrics.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["step", "epoch", "lr", "loss", "loss_margin", "loss_contrastive", "loss_vq", "clips_per_s"]
        )
        for step in range(1, 41):
            margin, contrast = 5.0 * np.exp(-step / 15), 1.0 * np.exp(-step / 25)
            writer.writerow(
                [
                    step,
                    step // 10,
                    1e-3 * min(1.0, step / 5),
                    margin + contrast,
                    margin,
                    contrast,
                    "",
                    80.0 + rng.normal(),
                ]
            )
    (fit / "DONE").write_text("")
    _write_npz(root / "banks" / "embeddings.npz", train_rows, train_emb)
    thresholds = {m: {s: THRESHOLD} for m, s in GROUPS}
    thresholds["fan"] = {"00": THRESHOLD, "01": THRESHOLD}
    (root / "thresholds.json").write_text(json.dumps(thresholds))
    (root / "backend.json").write_text(json.dumps({"name": "knn", "params": {"n_neighbors": 1}}))
    scores = root / "scores" / "synth"
    _write_npz(scores / "embeddings.npz", test_rows, test_emb)
    metrics = metrics_2024(clips)
    (scores / "metrics.json").write_text(json.dumps(metrics))
    return FakeRun(root, scores, metrics)


@pytest.fixture(scope="session")
def make_fake_run():
    """:func:`write_fake_run` itself, for tests that damage their own copy or share one per module."""
    return write_fake_run


@pytest.fixture
def fake_run(tmp_path: Path) -> FakeRun:
    """A complete fake run folder in a fresh temporary folder (tests may delete pieces)."""
    return write_fake_run(tmp_path / "run")
