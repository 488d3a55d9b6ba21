"""DCASE 2026 format end to end: a two-channel synthetic set trains, scores, evaluates and reports
with every channel policy; the protocol compares them; one inference path; clear refusals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sslasd.data import CHANNEL_POLICIES, index_dataset, load_audio
from sslasd.data.synth import PRESETS, SynthPreset
from sslasd.errors import DataError
from sslasd.pipeline.ablate import AblationTable, ablate
from sslasd.pipeline.detect import detect
from sslasd.pipeline.evaluate import evaluate
from sslasd.pipeline.fit import fit
from sslasd.pipeline.load import load
from sslasd.pipeline.report import report
from sslasd.pipeline.rundir import RunDir
from sslasd.pipeline.score import score
from sslasd.pipeline.synth import synth

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("two_channels")]  # share one protocol

FAST = [
    "train.steps=4",
    "train.warmup_steps=1",
    "train.checkpoint_every=4",
    "train.batch_size=8",
    "vq.refresh=false",
    "vq.update=ema",
]
BASE = "near"  # the protocol's full system; the variants give the other policies
VARIANTS = [f"channels_{p}" for p in CHANNEL_POLICIES if p != BASE]


def _micro(name: str) -> SynthPreset:
    """48 one-second clips: an attributed machine (fan) and a concealed one (bearingEmu in 2026)."""
    return SynthPreset(
        name,
        1.0,
        {"fan": 1, "bearing": 1},
        source_train=8,
        target_train=4,
        test_per_group=3,
        severity=(1.0, 2.0),
    )


def _synth(folder: Path, year: int) -> Path:
    preset = _micro(f"micro{year}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(PRESETS, preset.name, preset)
        return synth(folder, preset=preset.name, seed=0, year_format=year)


@pytest.fixture(scope="module")
def set2026(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synth(tmp_path_factory.mktemp("s2026") / "set", 2026)


@pytest.fixture(scope="module")
def protocol(set2026: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AblationTable]:
    out = tmp_path_factory.mktemp("protocol") / "channels"
    table = ablate(
        out,
        [set2026],
        config="tiny",
        set=[*FAST, f"data.channels={BASE}"],
        variants=VARIANTS,
        seeds=[0],
        n_boot=20,
    )
    return out, table


def _run_of(protocol: tuple[Path, AblationTable], set2026: Path, policy: str) -> Path:
    variant = "paper" if policy == BASE else f"channels_{policy}"
    return protocol[0] / "runs" / set2026.name / f"{variant}-seed0"


def test_two_views_are_fused_in_embedding_space() -> None:
    """``stack``: a window's embedding is the mean of its near and far views' embeddings."""
    import torch

    from sslasd.models.backbones import load_backbone
    from sslasd.models.stats_embedder import StatsEmbedder
    from sslasd.pipeline.embedding import embed_waves

    embedder = StatsEmbedder(load_backbone("logmel", tiny=True))
    waves = torch.randn(3, 2, 8000)
    ids = torch.zeros(3, dtype=torch.long)
    device = torch.device("cpu")
    fused = embed_waves(embedder, waves, ids, device=device)
    views = [embed_waves(embedder, waves[:, v], ids, device=device) for v in range(2)]
    torch.testing.assert_close(fused, (views[0] + views[1]) / 2)


def test_the_2026_set_is_two_channel_and_detected(set2026: Path) -> None:
    index = index_dataset(set2026, check_audio=True)
    assert index.year == 2026 and index.machines() == ["bearingEmu", "fan"]
    assert {sf.info(str(c.path)).channels for c in index} == {2}
    assert all(c.no_attribute for c in index.select(machine="bearingEmu"))


def test_the_protocol_compares_the_channel_policies(protocol: tuple[Path, AblationTable]) -> None:
    out, table = protocol
    assert [r.name for r in table.variants] == ["paper", *VARIANTS]
    assert all(0.0 <= r.mean <= 1.0 for r in table.variants)
    markdown = (out / "table.md").read_text()
    assert "| channels_subtract |" in markdown and "| channels_stack |" in markdown
    assert f"The full system sees `data.channels={BASE}`." in markdown
    assert json.loads((out / "table.json").read_text())["request"]["channels"] == BASE


@pytest.mark.parametrize("policy", CHANNEL_POLICIES)
def test_each_policy_trains_scores_and_evaluates(
    protocol: tuple[Path, AblationTable], set2026: Path, policy: str
) -> None:
    run = _run_of(protocol, set2026, policy)
    assert RunDir.at(run).read_config().data.channels == policy
    result = evaluate(run / "scores" / set2026.name, set2026)
    assert result.year == 2026 and 0.0 <= result.official_score <= 1.0


@pytest.mark.parametrize("policy", ["near", "stack", "subtract"])  # the report reads only the run folder
def test_a_two_channel_run_reports(protocol: tuple[Path, AblationTable], set2026: Path, policy: str) -> None:
    run = _run_of(protocol, set2026, policy)
    scores = run / "scores" / set2026.name
    official = evaluate(scores, set2026, json=scores / "metrics.json").official_score
    page = report(run, projection="pca").read_text()
    assert f"channels: {policy}" in page and f"{100 * official:.2f}" in page


@pytest.mark.parametrize("policy", CHANNEL_POLICIES)
def test_detect_and_load_score_a_file_as_score_did(
    protocol: tuple[Path, AblationTable], set2026: Path, policy: str
) -> None:
    """One inference path: the challenge file's number, detect's, load().score's of the file and of
    its samples as an array (channels on the short axis) agree for every policy."""
    run = _run_of(protocol, set2026, policy)
    with open(run / "scores" / set2026.name / "anomaly_score_bearingEmu_section_00_test.csv") as f:
        written = {name: float(value) for name, value in csv.reader(f)}
    name = sorted(written)[0]
    path = set2026 / "bearingEmu" / "test" / name
    (found,) = detect(run, [path])
    assert found.error is None and found.score == pytest.approx(written[name], abs=1e-5)
    detector = load(run)
    assert detector.score([path], "bearingEmu")[0] == pytest.approx(written[name], abs=1e-5)
    samples = load_audio(path, 16000, mono=False).T  # [N, 2]: soundfile's layout
    from_array = detector.score([samples], "bearingEmu", sample_rate=16000)[0]
    assert from_array == pytest.approx(written[name], abs=1e-4)


@pytest.mark.parametrize("policy", ["subtract", "mean"])
def test_a_one_channel_file_is_refused_or_mixed_as_documented(
    protocol: tuple[Path, AblationTable], set2026: Path, tmp_path: Path, policy: str
) -> None:
    """A one-channel recording: a run that needs two channels says so for that file only; a
    ``mean`` run takes it (its policy averages any channel count)."""
    run = _run_of(protocol, set2026, policy)
    stereo = set2026 / "fan" / "test" / sorted(p.name for p in (set2026 / "fan" / "test").iterdir())[0]
    mono = tmp_path / "fan" / "one_mic.wav"
    mono.parent.mkdir()
    sf.write(mono, load_audio(stereo, 16000, mono=False)[0], 16000)
    found = {Path(r.file).name: r for r in detect(run, [mono, stereo])}
    assert found[stereo.name].error is None
    if policy == "mean":
        assert found["one_mic.wav"].error is None and np.isfinite(found["one_mic.wav"].score)
    else:
        assert found["one_mic.wav"].score is None
        assert "one_mic.wav: 1 channel(s), but data.channels=subtract needs 2" in found["one_mic.wav"].error


def test_two_channel_policies_refuse_one_channel_data_before_any_work(tmp_path: Path) -> None:
    mono_set = _synth(tmp_path / "mono", 2025)
    with pytest.raises(
        DataError, match=r"1 channel\(s\), but data\.channels=stack needs 2 .* \(\d+ such files\)"
    ):
        fit(mono_set, tmp_path / "run", config="tiny", set=[*FAST, "data.channels=stack"], progress=False)
    with pytest.raises(DataError, match="data.noise.folder is not a folder"):
        fit(mono_set, tmp_path / "run", config="tiny", set=[*FAST, f"data.noise.folder={tmp_path / 'no'}"])
    assert not (tmp_path / "run").exists()


def test_noise_aware_training_fits_and_scores(set2026: Path, tmp_path: Path) -> None:
    """Noise-only clips (here: the far channel of training clips, as a stand-in for supplementary
    noise clips) mixed into every training crop of a subtract run."""
    noise = tmp_path / "noise"
    noise.mkdir()
    for path in sorted((set2026 / "fan" / "train").iterdir())[:3]:
        sf.write(noise / path.name, load_audio(path, 16000, mono=False)[1], 16000)
    overrides = [*FAST, "data.channels=subtract", f"data.noise.folder={noise}", "data.noise.probability=1.0"]
    run = fit(set2026, tmp_path / "run", config="tiny", set=overrides, floors=False, progress=False)
    assert RunDir.at(run).read_config().data.noise.folder == str(noise)
    result = evaluate(score(run, set2026, floors=False), set2026)
    assert 0.0 <= result.official_score <= 1.0
