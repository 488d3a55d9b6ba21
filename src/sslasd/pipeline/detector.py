"""A fitted detector: embedder + one back-end per machine/section + thresholds, from a run or a bundle.

``sslasd.load(run_or_bundle)`` is the Python entry point for users who score their own recordings:

>>> det = sslasd.load("runs/demo")                                  # doctest: +SKIP
>>> det.score(["pump_001.wav"], machine="pump")                     # doctest: +SKIP
array([0.231], dtype=float32)

Scores follow the back-ends' sign: **higher = more anomalous**; ``predict`` compares them with the
threshold fitted on the training clips (1 = anomaly).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open

from sslasd import __version__
from sslasd._common import inference_dtype, resolve_device
from sslasd.backends import make_backend
from sslasd.data import crop_or_pad, load_audio, resample
from sslasd.errors import CheckpointError, ConfigError, DataError, RunError
from sslasd.models.backbones import build_backbone
from sslasd.models.embedder import Embedder
from sslasd.pipeline.build import backbone_from_config, build_embedder, build_system
from sslasd.pipeline.config import RunConfig, config_from_dict
from sslasd.pipeline.embedding import embed_waves, read_embeddings
from sslasd.pipeline.rundir import RunDir
from sslasd.training.checkpoint import load_weights
from sslasd.training.labels import LabelVocabulary

AudioInput = str | os.PathLike | np.ndarray
BUNDLE_FORMAT = "sslasd-bundle/1"


class Detector:
    """Score recordings of the machine types a run was trained on.

    Parameters
    ----------
    embedder : Embedder
    vocab : LabelVocabulary
    config : RunConfig
    banks : dict
        ``(machine, section) -> {"embeddings": [N, D], "domains": [N]}`` training embeddings.
    num_samples : int
        Clip length (at the embedder's sample rate) the model was trained on; longer inputs are
        scored window by window.
    device : str
        ``auto`` = CUDA when available.
    precision : {"auto", "32", "bf16"}
        Inference arithmetic: ``auto`` = bf16 autocast on CUDA, float32 on the CPU; ``bf16`` on a
        CPU is fast only with native bf16 (AMX / AVX512-BF16), elsewhere it runs, with a warning.
    """

    def __init__(
        self,
        embedder: Embedder,
        vocab: LabelVocabulary,
        config: RunConfig,
        banks: dict[tuple[str, str], dict[str, np.ndarray]],
        *,
        num_samples: int,
        device: str | torch.device = "auto",
        precision: str = "auto",
    ) -> None:
        self.device = resolve_device(device)
        inference_dtype(self.device, precision)  # checks the name; warns when bf16 will be slow
        self.precision = precision
        self.embedder = embedder.eval().to(self.device)
        self.vocab = vocab
        self.config = config
        self.banks = banks
        self.num_samples = int(num_samples)
        self.backends = {key: self._fit_backend(bank) for key, bank in banks.items()}

    # -- construction -------------------------------------------------------------------------
    def _fit_backend(self, bank: dict[str, np.ndarray]):
        cfg = self.config
        params = dict(cfg.backend.params, threshold=cfg.threshold.method, threshold_q=cfg.threshold.q)
        domains = np.where(np.asarray(bank["domains"]) == "target", "target", "source")
        return make_backend(cfg.backend.name, **params).fit(bank["embeddings"], domains)

    @classmethod
    def from_run(
        cls, run: str | os.PathLike, *, device: str | torch.device = "auto", precision: str = "auto"
    ) -> Detector:
        """Load a fitted run folder (needs the backbone checkpoint the run was trained from)."""
        rd = RunDir.at(run)
        rd.require("fit")
        rd.require("banks")
        config = rd.read_config()
        info = rd.read_info()
        vocab = LabelVocabulary.from_dict(info["labels"])
        system = build_system(config, vocab, backbone_from_config(config))
        load_weights(system, rd.fit_dir / "model.safetensors")
        data = read_embeddings(rd.banks_dir / "embeddings.npz")
        return cls(
            system.embedder,
            vocab,
            config,
            banks_from_arrays(data),
            num_samples=info["num_samples"],
            device=device,
            precision=precision,
        )

    @classmethod
    def from_bundle(
        cls, path: str | os.PathLike, *, device: str | torch.device = "auto", precision: str = "auto"
    ) -> Detector:
        """Load a bundle written by ``sslasd export`` (no training data or original checkpoint needed)."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: bundle not found")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {})["sslasd"])
                tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is no dict)
        except Exception as exc:
            raise CheckpointError(f"{path}: not an sslasd bundle ({type(exc).__name__}: {exc})") from None
        if meta.get("format") != BUNDLE_FORMAT:
            raise CheckpointError(f"{path}: bundle format {meta.get('format')!r}, expected {BUNDLE_FORMAT!r}")
        config = config_from_dict(meta["config"], f"{path} (config)")
        vocab = LabelVocabulary.from_dict(meta["labels"])
        backbone = build_backbone(meta["backbone"]["name"], meta["backbone"]["config"])
        embedder = build_embedder(config, backbone, len(vocab.machines))
        state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        result = embedder.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(
                f"{path}: bundle weights do not fit the model: missing {result.missing_keys[:10]}, "
                f"unexpected {result.unexpected_keys[:10]}"
            )
        banks = {
            (b["machine"], b["section"]): {
                "embeddings": tensors[f"bank.{i}"].numpy(),
                "domains": np.array(b["domains"], dtype=str),
            }
            for i, b in enumerate(meta["banks"])
        }
        return cls(
            embedder,
            vocab,
            config,
            banks,
            num_samples=meta["num_samples"],
            device=device,
            precision=precision,
        )

    # -- queries -------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.embedder.sample_rate

    @property
    def machines(self) -> list[str]:
        return sorted({m for m, _ in self.banks})

    def sections(self, machine: str) -> list[str]:
        self._check_machine(machine)
        return sorted(s for m, s in self.banks if m == machine)

    def threshold(self, machine: str, section: str | None = None) -> float:
        """Decision threshold of ``machine`` / ``section`` (fitted on leave-one-out training scores)."""
        return float(self.backends[self.resolve(machine, section)].threshold_)

    def _check_machine(self, machine: str) -> None:
        if machine not in self.machines:
            raise ConfigError(
                f"machine {machine!r} is not known to this model; known: {', '.join(self.machines)}"
            )

    def resolve(self, machine: str, section: str | None = None) -> tuple[str, str]:
        """``(machine, section)`` of a known bank; the section may be omitted when there is one."""
        sections = self.sections(machine)
        if section is None:
            if len(sections) > 1:
                raise ConfigError(f"machine {machine!r} has sections {sections}: say which one (section=...)")
            return machine, sections[0]
        if section not in sections:
            raise ConfigError(f"machine {machine!r} has no section {section!r}; its sections: {sections}")
        return machine, section

    def read(self, item: AudioInput, sample_rate: int | None = None) -> np.ndarray:
        """One input as float32 mono at the model's rate (a path is read with the data layer's checks)."""
        if isinstance(item, np.ndarray):
            if sample_rate is None:
                raise DataError(
                    f"an array input needs sample_rate= (the model runs at {self.sample_rate} Hz)"
                )
            wave = np.asarray(item, dtype=np.float32)
            if wave.ndim == 2:
                wave = wave.mean(axis=0 if wave.shape[0] < wave.shape[1] else 1)
            if wave.ndim != 1 or wave.size == 0 or not np.isfinite(wave).all():
                raise DataError(
                    f"array input of shape {item.shape}: need a finite 1-D (or 2-D multichannel) waveform"
                )
            return resample(wave, sample_rate, self.sample_rate)
        return load_audio(item, self.sample_rate)

    def windows(self, wave: np.ndarray, hop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Windows ``[W, num_samples]`` of ``wave`` and their starts (s); the last one ends at the end."""
        n = self.num_samples
        if len(wave) <= n:
            return crop_or_pad(wave, n)[None], np.zeros(1)
        hop = hop or n // 2
        starts = list(range(0, len(wave) - n + 1, hop))
        if starts[-1] != len(wave) - n:
            starts.append(len(wave) - n)
        return np.stack([wave[s : s + n] for s in starts]), np.asarray(starts) / self.sample_rate

    def embed_windows(self, windows: np.ndarray, machine: str, batch_size: int = 16) -> np.ndarray:
        ids = torch.full((len(windows),), self.vocab.machine_id(machine), dtype=torch.long)
        parts = [
            embed_waves(
                self.embedder,
                torch.from_numpy(windows[i : i + batch_size]),
                ids[i : i + batch_size],
                device=self.device,
                precision=self.precision,
            )
            for i in range(0, len(windows), batch_size)
        ]
        return torch.cat(parts).numpy()

    def score_windows(
        self,
        item: AudioInput,
        machine: str,
        section: str | None = None,
        *,
        sample_rate: int | None = None,
        hop_seconds: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-window scores and window start times (s) of one input (higher = more anomalous)."""
        key = self.resolve(machine, section)
        hop = round(hop_seconds * self.sample_rate) if hop_seconds else None
        windows, starts = self.windows(self.read(item, sample_rate), hop)
        return self.backends[key].score_samples(self.embed_windows(windows, machine)), starts

    def embed(
        self, inputs: AudioInput | Sequence[AudioInput], machine: str, *, sample_rate: int | None = None
    ) -> np.ndarray:
        """Embeddings ``[n, D]`` of whole inputs (mean of window embeddings, re-normalised)."""
        self._check_machine(machine)
        out = []
        for item in _as_list(inputs):
            windows, _ = self.windows(self.read(item, sample_rate))
            emb = self.embed_windows(windows, machine).mean(axis=0)
            out.append(emb / max(np.linalg.norm(emb), 1e-12))
        return np.stack(out).astype(np.float32)

    def score(
        self,
        inputs: AudioInput | Sequence[AudioInput],
        machine: str,
        section: str | None = None,
        *,
        sample_rate: int | None = None,
        aggregate: str = "max",
    ) -> np.ndarray:
        """Anomaly score of each input, **higher = more anomalous**; long inputs aggregate their
        windows by ``max`` (a short fault in a long recording counts) or ``mean``."""
        if aggregate not in ("max", "mean"):
            raise ConfigError(f"aggregate: {aggregate!r} is not 'max' or 'mean'")
        reduce = np.max if aggregate == "max" else np.mean
        return np.array(
            [
                reduce(self.score_windows(item, machine, section, sample_rate=sample_rate)[0])
                for item in _as_list(inputs)
            ],
            dtype=np.float32,
        )

    def predict(
        self, inputs: AudioInput | Sequence[AudioInput], machine: str, section: str | None = None, **kw: Any
    ) -> np.ndarray:
        """1 = anomaly, 0 = normal, against the fitted threshold."""
        return (self.score(inputs, machine, section, **kw) > self.threshold(machine, section)).astype(
            np.int64
        )

    def bundle_metadata(self, backbone_name: str, backbone_config: dict) -> dict[str, Any]:
        """JSON metadata of a bundle of this detector."""
        return {
            "format": BUNDLE_FORMAT,
            "sslasd_version": __version__,
            "config": self.config.model_dump(mode="json"),
            "labels": self.vocab.to_dict(),
            "backbone": {"name": backbone_name, "config": backbone_config},
            "num_samples": self.num_samples,
            "banks": [
                {"machine": m, "section": s, "domains": [str(d) for d in self.banks[(m, s)]["domains"]]}
                for m, s in sorted(self.banks)
            ],
        }


def _as_list(inputs: AudioInput | Sequence[AudioInput]) -> list[AudioInput]:
    if isinstance(inputs, (str, os.PathLike)) or (isinstance(inputs, np.ndarray) and inputs.ndim == 1):
        return [inputs]
    return list(inputs)


def banks_from_arrays(data: dict[str, np.ndarray]) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    banks = {}
    for machine, section in sorted(set(zip(data["machines"].tolist(), data["sections"].tolist()))):
        rows = (data["machines"] == machine) & (data["sections"] == section)
        banks[(machine, section)] = {"embeddings": data["embeddings"][rows], "domains": data["domains"][rows]}
    return banks


def load(
    run_or_bundle: str | os.PathLike, *, device: str | torch.device = "auto", precision: str = "auto"
) -> Detector:
    """A :class:`Detector` from a run folder or an exported bundle file (``precision``: see
    :class:`Detector`)."""
    path = Path(run_or_bundle)
    if path.is_dir():
        return Detector.from_run(path, device=device, precision=precision)
    if path.is_file():
        return Detector.from_bundle(path, device=device, precision=precision)
    raise RunError(f"{path}: neither a run folder nor a bundle file")
