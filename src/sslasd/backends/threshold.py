"""Decision thresholds fitted on the anomaly scores of normal training clips.

Scores follow the toolkit's sign: higher = more anomalous. A clip is declared anomalous when its
score is strictly above the threshold (``score > threshold``), as the DCASE baselines decide.

- ``gamma``: the DCASE 2020-2026 baselines fit a gamma distribution to the training scores with
  ``scipy.stats.gamma.fit(scores)`` (shape, location and scale all free) and take
  ``scipy.stats.gamma.ppf(q=0.9, a=shape, loc=loc, scale=scale)``. With a free location the fit
  diverges on skewed leave-one-out distances (thresholds far above every score were seen; a DCASE
  2026 study reports the same), so here the location is fixed: at 0 for positive scores (distances),
  else just below the smallest score. The result is then checked against the empirical quantile
  (it must lie between the empirical ``q - 0.08`` and ``q + 0.08`` quantiles); a fit that fails the
  check falls back to the empirical ``q`` quantile, with a logged warning.
- ``percentile``: the plain ``numpy.percentile`` of the training scores (linear interpolation).

Fit one threshold per machine/section (:func:`fit_thresholds`), on scores computed the way the
test scores are (e.g. leave-one-out distances within the memory bank).

Example
-------
>>> import numpy as np
>>> train = np.random.default_rng(0).gamma(4.0, 0.5, size=500)
>>> t = fit_threshold(train, "gamma", q=0.9)
>>> bool(abs(np.mean(train > t) - 0.1) < 0.05)
True
>>> fit_percentile_threshold([1.0, 2.0, 3.0, 4.0, 5.0], 50.0)
3.0
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from typing import Literal, TypeVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from sslasd._common import get_logger
from sslasd.errors import ConfigError, DataError

_LOG = get_logger("threshold")
_AGREE = 0.08  # how far (in quantile level) a gamma threshold may sit from the empirical quantile

Method = Literal["gamma", "percentile"]
METHODS: tuple[str, ...] = ("gamma", "percentile")
K = TypeVar("K", bound=Hashable)


def fit_gamma_threshold(scores: ArrayLike, quantile: float = 0.9) -> float:
    """The ``quantile`` of a gamma distribution fitted to training ``scores``, location fixed.

    Parameters
    ----------
    scores : array-like of float
        Anomaly scores of normal training clips (at least 2, finite; higher = more anomalous).
    quantile : float
        In (0, 1); the baselines use 0.9.

    Returns
    -------
    float
        The threshold: the fitted gamma's ``quantile`` (location 0 for positive scores, else just
        below the minimum), or the empirical ``quantile`` when the fit fails or disagrees with the
        scores (see the module docstring). When all scores are equal, that value.

    Raises
    ------
    DataError
        Fewer than 2 scores, or a score that is NaN or infinite.
    ConfigError
        ``quantile`` outside (0, 1).
    """
    values = _checked(scores)
    _check_q(quantile, "quantile")
    if np.ptp(values) == 0.0:
        return float(values[0])
    empirical = float(np.quantile(values, quantile))
    loc = 0.0 if values.min() > 0 else float(values.min() - 1e-3 * np.ptp(values))
    threshold = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the optimiser's overflow probes are not errors
        try:
            shape, _, scale = stats.gamma.fit(values, floc=loc)
            threshold = float(stats.gamma.ppf(q=quantile, a=shape, loc=loc, scale=scale))
        except (ValueError, FloatingPointError, stats.FitError):
            pass
    low, high = np.quantile(values, [max(0.0, quantile - _AGREE), min(1.0, quantile + _AGREE)])
    if not (np.isfinite(threshold) and low <= threshold <= high):
        _LOG.warning(
            "gamma fit of %d training scores (min %.4g, max %.4g) gave %s, outside the empirical "
            "%.2f-%.2f quantiles [%.4g, %.4g]; using the empirical %.2f quantile %.4g",
            values.size,
            values.min(),
            values.max(),
            f"{threshold:.4g}",
            max(0.0, quantile - _AGREE),
            min(1.0, quantile + _AGREE),
            low,
            high,
            quantile,
            empirical,
        )
        return empirical
    return threshold


def fit_percentile_threshold(scores: ArrayLike, percentile: float = 90.0) -> float:
    """The ``percentile`` (0-100) of training ``scores``, with numpy's linear interpolation.

    Raises
    ------
    DataError
        Fewer than 2 scores, or a score that is NaN or infinite.
    ConfigError
        ``percentile`` outside [0, 100].
    """
    values = _checked(scores)
    if not 0.0 <= float(percentile) <= 100.0:
        raise ConfigError(f"percentile: got {percentile!r}, expected a number in [0, 100]")
    return float(np.percentile(values, percentile))


def fit_threshold(scores: ArrayLike, method: Method = "gamma", q: float = 0.9) -> float:
    """Fit a threshold with ``method`` at level ``q`` in (0, 1) (the percentile method uses ``100 * q``).

    Raises
    ------
    ConfigError
        Unknown ``method`` or ``q`` outside (0, 1).
    DataError
        As :func:`fit_gamma_threshold`.
    """
    _check_q(q, "q")
    if method == "gamma":
        return fit_gamma_threshold(scores, q)
    if method == "percentile":
        return fit_percentile_threshold(scores, 100.0 * q)
    raise ConfigError(f"threshold method: got {method!r}, expected one of {', '.join(METHODS)}")


def fit_thresholds(groups: Mapping[K, ArrayLike], method: Method = "gamma", q: float = 0.9) -> dict[K, float]:
    """One threshold per group, e.g. per ``(machine, section)``; errors name the group.

    Example
    -------
    >>> fit_thresholds({("fan", "00"): [1.0, 2.0, 3.0]}, "percentile", q=0.5)
    {('fan', '00'): 2.0}
    """
    out: dict[K, float] = {}
    for key, scores in groups.items():
        try:
            out[key] = fit_threshold(scores, method, q)
        except DataError as exc:
            raise DataError(f"{key}: {exc}") from exc
    return out


def apply_threshold(scores: ArrayLike, threshold: float) -> np.ndarray:
    """0/1 decisions (int): 1 where ``score > threshold`` (anomalous), as the DCASE baselines decide."""
    return (np.asarray(scores, dtype=float) > threshold).astype(int)


def _checked(scores: ArrayLike) -> np.ndarray:
    try:
        values = np.asarray(scores, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise DataError(f"training scores: expected numbers, got {type(scores).__name__} ({exc})") from exc
    if values.size < 2:
        raise DataError(f"training scores: got {values.size}, need at least 2 to fit a threshold")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        shown = ", ".join(f"[{i}]={values[i]}" for i in bad[:20])
        raise DataError(f"training scores: {bad.size} of {values.size} are not finite: {shown}")
    return values


def _check_q(q: float, name: str) -> None:
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 < float(q) < 1.0:
        raise ConfigError(f"{name}: got {q!r}, expected a number in (0, 1)")
