"""Score histograms: one panel per machine/section/domain, the threshold drawn where it lies."""

from __future__ import annotations

import numpy as np
import pytest

from sslasd.report.distributions import histogram_panels, plot_score_histograms


def _clips(scores_by_domain: dict[str, list[float]]) -> list[dict]:
    return [
        dict(
            name=f"{d}_{i}.wav",
            machine="fan",
            section="00",
            domain=d,
            label="anomaly" if i % 2 else "normal",
            score=s,
        )
        for d, scores in scores_by_domain.items()
        for i, s in enumerate(scores)
    ]


def test_panels_follow_machines_sections_and_domains() -> None:
    clips = _clips({"target": [0.1, 0.2], "source": [0.3, 0.4]})
    clips += [{**c, "machine": "valve"} for c in _clips({"source": [0.5, 0.6]})]
    assert histogram_panels(clips) == [
        ("fan", "00", "source"),
        ("fan", "00", "target"),
        ("valve", "00", "source"),
    ]


@pytest.mark.parametrize(("threshold", "inside"), [(0.25, True), (5.0, False), (-1.0, False)])
def test_threshold_is_a_line_inside_the_scores_and_an_arrow_outside(threshold: float, inside: bool) -> None:
    clips = _clips({"source": list(np.linspace(0.0, 0.5, 10))})
    ax = plot_score_histograms(clips, {"fan": {"00": threshold}}).axes[0]
    lines = [line for line in ax.get_lines() if np.allclose(line.get_xdata(), threshold)]
    notes = [t.get_text() for t in ax.texts if "threshold" in t.get_text()]
    assert (len(lines), len(notes)) == ((1, 0) if inside else (0, 1))
    assert ax.get_xlim()[1] < 1.0  # the bins cover the scores, not a far threshold
    if not inside:
        assert f"{threshold:.3g}" in notes[0]


def test_counts_are_in_the_titles() -> None:
    ax = plot_score_histograms(_clips({"source": [0.1, 0.2, 0.3]}), None).axes[0]
    assert ax.get_title() == "fan · 00 · source\n2 normal, 1 anomaly"
