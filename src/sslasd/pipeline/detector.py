"""A fitted detector: embedder + one back-end per machine/section + thresholds, from a run or a bundle.

``sslasd.load(run_or_bundle)`` is the Python entry point for users who score their own recordings:

>>> det = sslasd.load("runs/demo")                                  # doctest: +SKIP
>>> det.score(["pump_001.wav"], machine="pump")                     # doctest: +SKIP
array([0.231], dtype=float32)

Scores follow the back-ends' sign: **higher = more anomalous**; ``predict`` compares them with the
threshold fitted on the training clips (1 = anomaly).

This is the one inference path: ``sslasd score`` (:meth:`Detector.score_clips` over a test set),
``sslasd detect``, ``load().score`` and an exported bundle all cut a recording into the same
windows (:func:`sslasd.data.split_windows`), give each window the run's channel policy
(``data.channels``, :mod:`sslasd.data.channels`), embed them the same way and reduce the window
scores by the run's declared rule (``score.aggregate``, default max), so the same audio gets the
same number whichever way it is scored. A memory bank holds one embedding per training clip: the mean
of its windows (the window itself for a clip no longer than the clip length, the usual case).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open

from sslasd import __version__
from sslasd._common import inference_dtype, resolve_device
from sslasd.backends import (
    BaseScorer,
    load_backends,
    pack_states,
    save_backends,
    unpack_states,
)
from sslasd.data import (
    AudioCache,
    AudioStream,
    ChannelPolicy,
    Clip,
    resample,
    split_windows,
    stream_windows,
)
from sslasd.errors import CheckpointError, ConfigError, DataError
from sslasd.models.backbones import build_backbone
from sslasd.models.embedder import Embedder
from sslasd.models.stats_embedder import StatsEmbedder
from sslasd.pipeline.build import build_embedder, build_system
from sslasd.pipeline.config import RunConfig, config_from_dict
from sslasd.pipeline.embedding import WindowEmbeddings, embed_clips, embed_waves, read_embeddings
from sslasd.pipeline.rundir import RunDir
from sslasd.training.checkpoint import load_weights
from sslasd.training.labels import LabelVocabulary

AudioInput = str | os.PathLike | np.ndarray
BUNDLE_FORMAT = "sslasd-bundle/2"  # /2 adds the fitted back-ends; /1 bundles are still read (refitted)
_BUNDLE_FORMATS = ("sslasd-bundle/1", BUNDLE_FORMAT)
_WINDOWS_PER_READ = 64  # windows read and embedded at a time from a file: bounds memory on long recordings


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
    backends : dict, optional
        Fitted back-ends per ``(machine, section)`` (read from a run or bundle); default: fitted
        here on ``banks``.
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
        backends: dict[tuple[str, str], BaseScorer] | None = None,
    ) -> None:
        self.device = resolve_device(device)
        inference_dtype(self.device, precision)  # checks the name; warns when bf16 will be slow
        self.precision = precision
        self.embedder = embedder.eval().to(self.device)
        self.vocab = vocab
        self.config = config
        self.banks = banks
        self.num_samples = int(num_samples)
        self.channels: ChannelPolicy = config.data.channel_policy()
        if backends is None:
            backends = {key: self._fit_backend(bank) for key, bank in banks.items()}
        elif set(backends) != set(banks):
            raise CheckpointError(
                f"fitted back-ends for {sorted(backends)} but memory banks for {sorted(banks)}"
            )
        self.backends = backends

    # -- construction -------------------------------------------------------------------------
    def _fit_backend(self, bank: dict[str, np.ndarray]) -> BaseScorer:
        domains = np.where(np.asarray(bank["domains"]) == "target", "target", "source")
        backend = self.config.backend.build(self.config.threshold)
        return backend.fit(bank["embeddings"], domains=domains)

    def write_backends(self, path: str | os.PathLike) -> None:
        """Write the fitted back-ends (``RUN/banks/backends.safetensors``), so loading never refits."""
        save_backends(path, {_key_name(k): b for k, b in self.backends.items()})

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
        system = build_system(config, vocab, config.backbone.build())
        load_weights(system, rd.weights_path)
        data = read_embeddings(rd.bank_embeddings_path)
        return cls(
            system.embedder,
            vocab,
            config,
            banks_from_arrays(data),
            num_samples=info["num_samples"],
            device=device,
            precision=precision,
            backends=read_fitted_backends(rd.backends_path),
        )

    @classmethod
    def from_bundle_part(
        cls,
        meta: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        prefix: str,
        vocab: LabelVocabulary,
        where: str,
        *,
        device: str | torch.device = "auto",
        precision: str = "auto",
    ) -> Detector:
        """The detector that :meth:`bundle_part` wrote with ``prefix`` (``where`` names the file)."""
        config = config_from_dict(meta["config"], f"{where} (config)")
        backbone = build_backbone(meta["backbone"]["name"], meta["backbone"]["config"])
        if meta.get("embedder", "run") == "stats":
            embedder: Embedder | StatsEmbedder = StatsEmbedder(backbone)
        else:
            embedder = build_embedder(config, backbone, len(vocab.machines))
        head = f"{prefix}model."
        state = {k[len(head) :]: v for k, v in tensors.items() if k.startswith(head)}
        result = embedder.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(
                f"{where}: bundle weights do not fit the model: missing {result.missing_keys[:10]}, "
                f"unexpected {result.unexpected_keys[:10]}"
            )
        banks = {
            (b["machine"], b["section"]): {
                "embeddings": tensors[f"{prefix}bank.{i}"].numpy(),
                "domains": np.array(b["domains"], dtype=str),
            }
            for i, b in enumerate(meta["banks"])
        }
        fitted = None
        if "backends" in meta:  # format /2; a /1 bundle's back-ends are refitted on its banks
            head = f"{prefix}backend."
            arrays = {k[len(prefix) :]: v.numpy() for k, v in tensors.items() if k.startswith(head)}
            fitted = {_key_of(k): b for k, b in unpack_states(arrays, meta["backends"]).items()}
        return cls(
            embedder,
            vocab,
            config,
            banks,
            num_samples=meta["num_samples"],
            device=device,
            precision=precision,
            backends=fitted,
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

    def window_batches(
        self, item: AudioInput, sample_rate: int | None = None, hop: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The scoring windows of one input, in batches ``(windows, starts in s)``: ``windows`` is
        ``[W, num_samples]``, or ``[W, 2, num_samples]`` for ``data.channels=stack``.

        A path is streamed (:class:`~sslasd.data.AudioStream`): an hour-long recording is read one
        batch of windows at a time, with the data layer's checks, and gives exactly the windows of
        :func:`sslasd.data.split_windows` on the whole file. An array must come with its
        ``sample_rate``; a 2-D array holds channels on its shorter axis. Either is resampled to the
        model's rate and given the run's channel policy window by window (``mean``: the channels
        averaged; the others need two channels, near then far).

        Raises
        ------
        DataError
            Unreadable audio, an array without ``sample_rate`` or not finite, or channels the
            policy cannot use (a one-channel file for ``subtract``).
        """
        hop = hop or self.hop
        if not isinstance(item, np.ndarray):
            stream = AudioStream(item, self.sample_rate, mono=self.channels.mono)
            for windows, starts in stream_windows(stream, self.num_samples, hop, _WINDOWS_PER_READ):
                views = self.channels.apply(windows, self.sample_rate, where=str(item))
                yield views, starts / self.sample_rate
            return
        if sample_rate is None:
            raise DataError(f"an array input needs sample_rate= (the model runs at {self.sample_rate} Hz)")
        wave = np.asarray(item, dtype=np.float32)
        if wave.ndim == 2 and wave.shape[0] > wave.shape[1]:
            wave = wave.T  # [channels, N]
        if wave.ndim not in (1, 2) or wave.size == 0 or not np.isfinite(wave).all():
            raise DataError(
                f"array input of shape {item.shape}: need a finite 1-D (or 2-D multichannel) waveform"
            )
        if wave.ndim == 2 and self.channels.mono:
            wave = wave.mean(axis=0)
        elif wave.ndim == 1 and not self.channels.mono:
            wave = wave[None]  # one channel: the policy names what it needs
        windows, starts = split_windows(resample(wave, sample_rate, self.sample_rate), self.num_samples, hop)
        views = self.channels.apply(windows, self.sample_rate, where="array input")
        yield views, starts / self.sample_rate

    @property
    def hop(self) -> int:
        """Hop between scoring windows in samples (``score.hop`` of a window)."""
        return max(1, round(self.config.score.hop * self.num_samples))

    def embed_windows(self, windows: np.ndarray, machine: str, batch_size: int = 32) -> np.ndarray:
        ids = torch.full((len(windows),), self.vocab.machine_id(machine), dtype=torch.long)
        parts = [
            embed_waves(
                self.embedder,
                torch.from_numpy(np.ascontiguousarray(windows[i : i + batch_size], dtype=np.float32)),
                ids[i : i + batch_size],
                device=self.device,
                precision=self.precision,
            )
            for i in range(0, len(windows), batch_size)
        ]
        return torch.cat(parts).numpy()

    def aggregate(self, window_scores: np.ndarray, owner: np.ndarray | None = None, n: int = 1) -> np.ndarray:
        """Score of each of ``n`` recordings from the scores of its windows (``owner``: recording
        index of each window; None: all windows of one recording), by the run's
        ``score.aggregate`` rule."""
        if owner is None:
            owner = np.zeros(len(window_scores), dtype=np.int64)
        out = np.full(n, -np.inf if self.config.score.aggregate == "max" else 0.0)
        if self.config.score.aggregate == "max":
            np.maximum.at(out, owner, window_scores)
        else:
            np.add.at(out, owner, window_scores)
            out /= np.bincount(owner, minlength=n)
        return out.astype(np.float32)

    def check_known(self, clips: Sequence[Clip], where: str = "data") -> None:
        """DataError naming every machine/section of ``clips`` that has no fitted bank here."""
        unknown = sorted({(c.machine, c.section) for c in clips} - set(self.backends))
        if unknown:
            raise DataError(
                f"{where}: the run has no training bank for "
                f"{', '.join(f'{m} section {s}' for m, s in unknown)}; fit on a data root that holds "
                f"their train/ clips (known: {sorted(self.backends)})"
            )

    def score_clips(
        self, clips: Sequence[Clip], *, cache: AudioCache | None = None, batch_size: int = 32
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores ``[N]`` and clip embeddings ``[N, D]`` of data-set clips (``sslasd score``).

        Batches windows across clips (faster than :meth:`score` per file) but scores each window
        exactly as :meth:`score` does.

        Raises
        ------
        DataError
            A clip's machine/section has no fitted bank in this detector.
        """
        emb, window_scores = self.clip_window_scores(clips, cache=cache, batch_size=batch_size)
        return self.aggregate(window_scores, emb.owner, len(clips)), emb.per_clip()

    def clip_window_scores(
        self, clips: Sequence[Clip], *, cache: AudioCache | None = None, batch_size: int = 32
    ) -> tuple[WindowEmbeddings, np.ndarray]:
        """The window embeddings of ``clips`` and each window's score by its clip's back-end."""
        self.check_known(clips)
        ids = np.array([self.vocab.machine_id(c.machine) for c in clips])
        emb = embed_clips(
            self.embedder,
            clips,
            ids,
            num_samples=self.num_samples,
            device=self.device,
            batch_size=batch_size,
            cache=cache,
            precision=self.precision,
            hop=self.hop,
            channels=self.channels,
        )
        scores = np.zeros(len(emb.owner), dtype=np.float64)
        for key, rows in windows_by_section(clips, emb.owner).items():
            scores[rows] = self.backends[key].score_samples(emb.windows[rows])
        return emb, scores

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
        scores, starts = [], []
        for windows, at in self.window_batches(item, sample_rate, hop):
            scores.append(self.backends[key].score_samples(self.embed_windows(windows, machine)))
            starts.append(at)
        return np.concatenate(scores), np.concatenate(starts)

    def embed(
        self, inputs: AudioInput | Sequence[AudioInput], machine: str, *, sample_rate: int | None = None
    ) -> np.ndarray:
        """Embeddings ``[n, D]`` of whole inputs: the mean of their window embeddings, as in a bank."""
        self._check_machine(machine)
        out = []
        for item in _as_list(inputs):
            emb = np.concatenate(
                [self.embed_windows(w, machine) for w, _ in self.window_batches(item, sample_rate)]
            )
            out.append(WindowEmbeddings(emb, np.zeros(len(emb), dtype=np.int64), 1).per_clip()[0])
        return np.stack(out).astype(np.float32)

    def score(
        self,
        inputs: AudioInput | Sequence[AudioInput],
        machine: str,
        section: str | None = None,
        *,
        sample_rate: int | None = None,
    ) -> np.ndarray:
        """Anomaly score of each input, **higher = more anomalous**; a long input's windows are
        reduced by the run's ``score.aggregate`` (max by default: a short fault counts).

        A 1-D array is one input and a 2-D array a batch of them; pass a multichannel array (two
        microphones) inside a list, ``[wave]``."""
        out = []
        for item in _as_list(inputs):
            window_scores, _ = self.score_windows(item, machine, section, sample_rate=sample_rate)
            out.append(self.aggregate(window_scores)[0])
        return np.array(out, dtype=np.float32)

    def predict(
        self, inputs: AudioInput | Sequence[AudioInput], machine: str, section: str | None = None, **kw: Any
    ) -> np.ndarray:
        """1 = anomaly, 0 = normal, against the fitted threshold."""
        return (self.score(inputs, machine, section, **kw) > self.threshold(machine, section)).astype(
            np.int64
        )

    def bundle_part(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """This detector in a bundle: JSON metadata, and tensors ``<prefix>model.*`` (the embedder's
        weights, as they are: merge LoRA first), ``<prefix>bank.<i>`` and ``<prefix>backend.<i>.*``."""
        tensors = {
            f"{prefix}model.{k}": v.detach().clone().contiguous()
            for k, v in self.embedder.state_dict().items()
        }
        for i, key in enumerate(sorted(self.banks)):
            tensors[f"{prefix}bank.{i}"] = torch.from_numpy(
                np.ascontiguousarray(self.banks[key]["embeddings"])
            )
        arrays, described = pack_states({_key_name(k): self.backends[k] for k in sorted(self.backends)})
        tensors.update({f"{prefix}{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()})
        backbone = self.embedder.backbone
        meta = {
            "embedder": "stats" if isinstance(self.embedder, StatsEmbedder) else "run",
            "config": self.config.model_dump(mode="json"),
            "backbone": {"name": backbone.name, "config": backbone.config_dict()},
            "num_samples": self.num_samples,
            "banks": [
                {"machine": m, "section": s, "domains": [str(d) for d in self.banks[(m, s)]["domains"]]}
                for m, s in sorted(self.banks)
            ],
            "backends": described,
        }
        return meta, tensors

    def bundle(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The whole bundle of this detector: metadata and tensors (``sslasd export`` writes them)."""
        meta, tensors = self.bundle_part()
        return {
            "format": BUNDLE_FORMAT,
            "sslasd_version": __version__,
            "labels": self.vocab.to_dict(),
            **meta,
        }, tensors


def read_bundle(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The metadata and tensors of a bundle file, checked for a known format (never unpickles)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: bundle not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["sslasd"])
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is no dict)
    except Exception as exc:
        raise CheckpointError(f"{path}: not an sslasd bundle ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") not in _BUNDLE_FORMATS:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path}: bundle format {found!r}, expected {BUNDLE_FORMAT!r}")
    if meta["format"] != "sslasd-bundle/1" and meta.get("checksum") != bundle_digest(meta, tensors):
        raise CheckpointError(
            f"{path}: the bundle's checksum does not match its contents: the file is damaged or was "
            "edited after `sslasd export`; export it again from its run"
        )
    return meta, tensors


def bundle_digest(meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a bundle's metadata (less its ``checksum``) and of every tensor's name, dtype,
    shape and bytes, in name order: ``sslasd export`` stores it, :func:`read_bundle` checks it, so
    that flipped bits or an edited bank label cannot pass as a model."""
    digest = hashlib.sha256()
    digest.update(json.dumps({k: v for k, v in meta.items() if k != "checksum"}, sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensors[name].shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _as_list(inputs: AudioInput | Sequence[AudioInput]) -> list[AudioInput]:
    if isinstance(inputs, (str, os.PathLike)) or (isinstance(inputs, np.ndarray) and inputs.ndim == 1):
        return [inputs]
    return list(inputs)


def windows_by_section(clips: Sequence[Clip], owner: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """``(machine, section)`` -> mask of the windows (``owner``: clip index of each) of its clips."""
    keys = np.array([f"{c.machine}/{c.section}" for c in clips])[owner]
    return {_key_of(k): keys == k for k in sorted(set(keys.tolist()))}


def _key_name(key: tuple[str, str]) -> str:
    """``(machine, section)`` as the string key of a back-ends file (``machine/section``)."""
    return f"{key[0]}/{key[1]}"


def _key_of(name: str) -> tuple[str, str]:
    machine, _, section = name.rpartition("/")
    return machine, section


def read_fitted_backends(path: Path) -> dict[tuple[str, str], BaseScorer] | None:
    """The back-ends a run's ``banks`` step saved; None for a run made before they were saved (they
    are then refitted on its banks, with the same result)."""
    if not path.is_file():
        return None
    return {_key_of(k): b for k, b in load_backends(path).items()}


def banks_of(clips: Sequence[Clip], embeddings: np.ndarray) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Memory banks per ``(machine, section)`` from clips and their embeddings (one row per clip)."""
    return banks_from_arrays(
        {
            "embeddings": embeddings,
            "machines": np.array([c.machine for c in clips]),
            "sections": np.array([c.section for c in clips]),
            "domains": np.array([c.domain for c in clips]),
        }
    )


def banks_from_arrays(data: dict[str, np.ndarray]) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    banks = {}
    for machine, section in sorted(set(zip(data["machines"].tolist(), data["sections"].tolist()))):
        rows = (data["machines"] == machine) & (data["sections"] == section)
        banks[(machine, section)] = {"embeddings": data["embeddings"][rows], "domains": data["domains"][rows]}
    return banks
