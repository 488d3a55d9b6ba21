"""SpecAugment: masks are whole bands and spans, drawn per clip, within the asked widths."""

from __future__ import annotations

import pytest
import torch

from sslasd.errors import ConfigError, DataError
from sslasd.features import SpecAugment
from sslasd.features.specaugment import AugmentConfig


def _masks(aug: SpecAugment, shape: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    """Boolean mask of the cells SpecAugment changed on an all-ones input (fill value 0)."""
    return aug.train()(torch.ones(shape), generator=torch.Generator().manual_seed(seed)) == 0


def test_identity_in_eval_mode() -> None:
    features = torch.randn(2, 50, 64)
    assert AugmentConfig().build().eval()(features) is features


def test_masks_are_whole_frequency_bands_and_time_spans() -> None:
    aug = SpecAugment(freq_masks=2, freq_width=10, time_masks=3, time_width=15)
    masked = _masks(aug, (16, 100, 64))
    for clip in masked:
        rows = clip.all(dim=1)  # fully masked frames
        cols = clip.all(dim=0)  # fully masked bins
        assert torch.equal(clip, rows[:, None] | cols[None, :])
        assert int(cols.sum()) <= 2 * 10 and int(rows.sum()) <= 3 * 15


def test_one_mask_is_one_contiguous_band_with_uniform_width() -> None:
    aug = SpecAugment(freq_masks=1, freq_width=6, time_masks=0, time_width=0)
    masked = _masks(aug, (3000, 4, 40))
    bands = masked[:, 0, :]  # [clips, bins]
    widths = bands.sum(dim=1)
    for band, width in zip(bands[:200], widths[:200]):
        where = band.nonzero().flatten()
        assert width == 0 or torch.equal(where, torch.arange(int(where[0]), int(where[0]) + int(width)))
    counts = torch.bincount(widths, minlength=7).float()
    assert counts.shape[0] == 7  # widths 0..6, never more
    assert torch.all((counts / 3000 - 1 / 7).abs() < 0.03)  # uniform within sampling noise


def test_clips_get_different_masks_and_a_generator_makes_them_reproducible() -> None:
    aug = SpecAugment(freq_masks=2, freq_width=20, time_masks=2, time_width=20)
    first, again = _masks(aug, (8, 60, 64), seed=3), _masks(aug, (8, 60, 64), seed=3)
    assert torch.equal(first, again)
    assert len({tuple(m.flatten().tolist()) for m in first}) > 1


def test_masked_cells_take_the_fill_value_and_the_rest_is_unchanged() -> None:
    features = torch.randn(4, 30, 20)
    out = SpecAugment(freq_masks=1, freq_width=5, time_masks=1, time_width=5, fill_value=-7.0).train()(
        features, generator=torch.Generator().manual_seed(1)
    )
    changed = out != features
    assert torch.all(out[changed] == -7.0)
    assert torch.equal(out[~changed], features[~changed])


def test_widths_larger_than_the_input_are_clipped() -> None:
    masked = _masks(SpecAugment(freq_masks=0, freq_width=0, time_masks=1, time_width=500), (200, 7, 3))
    assert masked.all(dim=2).sum(dim=1).max() <= 7


_DEFAULT = {"freq_masks": 2, "freq_width": 8, "time_masks": 2, "time_width": 10}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"freq_masks": -1}, "freq_masks=-1"),
        ({"time_width": 2.5}, "time_width=2.5"),
        ({"time_masks": True}, "True"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SpecAugment(**{**_DEFAULT, **kwargs})


def test_bad_input_shape() -> None:
    with pytest.raises(DataError, match=r"\[B, T, F\]"):
        AugmentConfig().build().train()(torch.zeros(10, 20))
