"""``sslasd demo``: the choice of config, the demo folder guard, and the tiny demo end to end."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from sslasd.errors import ConfigError, RunError
from sslasd.pipeline.config import default_config, pretrained_checkpoint
from sslasd.pipeline.demo import demo, demo_config


def test_without_a_cached_checkpoint_the_training_free_config_is_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SSLASD_HOME", str(tmp_path / "home"))
    config, message = default_config()
    assert config == "logmel"
    assert str(tmp_path / "home" / "checkpoints" / "efficientat_mn04_as_mAP_432.pt") in message
    assert "sslasd download efficientat-mn04" in message


def test_with_a_cached_checkpoint_the_cpu_config_is_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SSLASD_HOME", str(tmp_path / "home"))
    path = pretrained_checkpoint()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"weights")
    assert default_config() == ("cpu", None)


def test_the_demo_fetches_the_checkpoint_where_the_network_allows(tmp_path: Path, monkeypatch) -> None:
    import sslasd.pipeline.download as download_module
    from sslasd.errors import DownloadError

    monkeypatch.setenv("SSLASD_HOME", str(tmp_path / "home"))
    asked = []

    def offline(name: str, **kwargs: object) -> Path:
        asked.append(name)
        raise DownloadError("no network")

    monkeypatch.setattr(download_module, "download", offline)
    assert demo_config()[0] == "logmel" and asked == ["efficientat-mn04"]

    def online(name: str, **kwargs: object) -> Path:
        pretrained_checkpoint().parent.mkdir(parents=True, exist_ok=True)
        pretrained_checkpoint().write_bytes(b"weights")
        return pretrained_checkpoint()

    monkeypatch.setattr(download_module, "download", online)
    assert demo_config() == ("cpu", None)


def test_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(RunError, match="not an sslasd demo folder"):
        demo(out=tmp_path, preset="tiny", config="tiny", progress=False)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_refuses_an_unknown_preset(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'huge' is not one of tiny, small"):
        demo(out=tmp_path / "d", preset="huge", progress=False)


def test_refuses_other_settings_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "d"
    out.mkdir()
    (out / "demo.json").write_text(json.dumps({"preset": "small", "seed": 0, "config": "tiny", "done": {}}))
    with pytest.raises(RunError, match="--overwrite"):
        demo(out=out, preset="tiny", config="tiny", seed=0, progress=False)


@pytest.mark.slow
def test_tiny_demo_end_to_end(tmp_path: Path, monkeypatch, capsys) -> None:
    """``demo(preset="tiny")`` through every stage, with the tiny config cut to 20 steps to stay fast."""
    monkeypatch.setenv("SSLASD_HOME", str(tmp_path / "home"))  # no pretrained checkpoint in the cache
    config = tmp_path / "tiny_short.yaml"
    config.write_text("base: tiny\ntrain:\n  steps: 20\n  checkpoint_every: 10\n")
    out = tmp_path / "demo"
    result = demo(out=out, preset="tiny", config=config)
    printed = capsys.readouterr().out
    assert all(f"[{i}/5] {stage}" in printed for i, stage in enumerate(result.seconds, start=1))
    assert not result.pretrained
    assert list(result.seconds) == ["synth", "fit", "score", "evaluate", "report"]
    assert all(s > 0 for s in result.seconds.values())

    metrics = json.loads((result.scores / "metrics.json").read_text())
    assert result.official_score == metrics["official_score"]
    page = result.report.read_text()
    score = f"{100 * metrics['official_score']:.2f}"
    assert re.search(rf'id="official-score">{re.escape(score)}<', page)
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4 and all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    for machine in json.loads((result.run / "run.json").read_text())["machines"]:
        assert f'<td class="l">{machine}</td>' in page
    assert "<script" not in page

    again = demo(out=out, preset="tiny", config=config)  # every stage already done: a no-op
    assert "already done" in capsys.readouterr().out
    assert again.seconds == dict.fromkeys(result.seconds, 0.0)
    assert again.official_score == result.official_score


@pytest.mark.slow
def test_the_default_demo_without_a_checkpoint_is_the_log_mel_detector(tmp_path: Path, monkeypatch) -> None:
    """No checkpoint and no network: the demo runs the training-free preset, trains nothing, and
    its score is its log-mel floor's (it never falls below it)."""
    import sslasd.pipeline.download as download_module
    from sslasd.errors import DownloadError

    monkeypatch.setenv("SSLASD_HOME", str(tmp_path / "home"))

    def offline(name: str, **kwargs: object) -> Path:
        raise DownloadError("no network")

    monkeypatch.setattr(download_module, "download", offline)
    result = demo(out=tmp_path / "demo", preset="tiny", progress=False)
    assert result.config == "logmel" and not result.pretrained
    assert not (result.run / "fit").exists() and (result.run / "ensemble.json").is_file()
    (floor,) = [f for f in result.floors if f["name"] == "logmel"]
    assert result.official_score == pytest.approx(floor["official_score"], abs=1e-12)
    assert "logmel" in result.report.read_text()


@pytest.mark.slow
def test_a_two_microphone_demo(tmp_path: Path, monkeypatch) -> None:
    """The 2026 format through every stage, the far microphone subtracted, on a few short clips."""
    from sslasd.data.synth import PRESETS, SynthPreset

    monkeypatch.setenv("SSLASD_HOME", str(tmp_path / "home"))
    micro = SynthPreset(
        "micro", 1.0, {"fan": 1, "valve": 1}, source_train=6, target_train=4, test_per_group=2
    )
    monkeypatch.setitem(PRESETS, "micro", micro)
    monkeypatch.setattr("sslasd.pipeline.demo.PRESETS", (*PRESETS,))
    result = demo(
        out=tmp_path / "demo",
        preset="micro",
        config="logmel",
        year_format=2026,
        channels="subtract",
        progress=False,
    )
    assert sorted(result.machine_scores) == ["fan", "valveEmu"]
    assert json.loads((result.run / "run.json").read_text())["year"] == 2026
    assert "channels: subtract" in result.report.read_text()
    with pytest.raises(RunError, match="--overwrite"):  # the same folder, another policy
        demo(out=tmp_path / "demo", preset="micro", config="logmel", year_format=2026, progress=False)
