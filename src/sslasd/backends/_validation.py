"""Checks of what a user hands a back-end: embeddings, domains and estimator parameters.

Each check turns a bad value into a DataError or ConfigError that names the argument, the
value seen and what was expected, instead of a traceback from deep inside numpy or torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.utils.validation import check_array

from sslasd.errors import ConfigError, DataError

DOMAINS = ("source", "target")


class EmbeddingTypeError(DataError, TypeError):
    """Embeddings holding values that are not numbers (a TypeError too, as numpy raises)."""


def check_embeddings(
    x: object,
    *,
    name: str = "X",
    n_features: int | None = None,
    metric: str | None = None,
    owner: str = "the back-end",
) -> np.ndarray:
    """``x`` as a finite float64 array of shape (n_clips, n_features).

    Parameters
    ----------
    x : array-like
        The embeddings.
    name : str
        How the error messages call ``x``.
    n_features : int, optional
        Required width (the one seen in ``fit``).
    owner : str
        How the width error names the estimator (scikit-learn's wording: its class name).
    metric : str, optional
        ``"cosine"`` also refuses all-zero rows, whose cosine distance is undefined.

    Raises
    ------
    DataError
        Not 2-D numeric, empty, NaN or inf, wrong width, zero rows under cosine.

    Example
    -------
    >>> check_embeddings([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
    try:
        arr = check_array(x, dtype=np.float64, ensure_all_finite=False, input_name=name)
    except (TypeError, ValueError) as exc:
        shape = getattr(np.asarray(x, dtype=object), "shape", "?")
        error = EmbeddingTypeError if isinstance(exc, TypeError) else DataError
        raise error(
            f"{name}: cannot be used as embeddings (shape {shape}: {exc}); "
            "expected a 2-D float array of shape (n_clips, n_features)"
        ) from exc
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if bad.size:
        raise DataError(
            f"{name}: {bad.size} row(s) contain NaN or inf (first: row {bad[0]}); expected finite values"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise DataError(
            f"{name} has {arr.shape[1]} features, but {owner} is expecting {n_features} features "
            "as input (the width it was fitted on)"
        )
    if metric == "cosine":
        zero = np.flatnonzero(~arr.any(axis=1))
        if zero.size:
            raise DataError(
                f"{name}: {zero.size} all-zero row(s) (first: row {zero[0]}); cosine distance is undefined "
                "for them (drop them or use metric='euclidean')"
            )
    return arr


def check_domains(domains: Sequence[str] | np.ndarray | None, n_samples: int) -> np.ndarray:
    """One domain name per embedding, each ``"source"`` or ``"target"``; ``None`` = all source.

    Raises
    ------
    DataError
        Not a 1-D sequence, wrong length, or an unknown name.

    Example
    -------
    >>> check_domains(None, 2).tolist()
    ['source', 'source']
    """
    if domains is None:
        return np.full(n_samples, "source", dtype=object)
    if isinstance(domains, str):
        raise DataError(f"domains: got the single string {domains!r}; expected one domain name per embedding")
    arr = np.asarray(domains, dtype=object)
    if arr.ndim != 1 or len(arr) != n_samples:
        raise DataError(f"domains: shape {arr.shape} for {n_samples} embeddings; expected ({n_samples},)")
    unknown = [i for i, d in enumerate(arr) if d not in DOMAINS]
    if unknown:
        values = sorted({str(arr[i]) for i in unknown})
        raise DataError(
            f"domains: unknown value(s) {values} (first at row {unknown[0]}); expected 'source' or 'target'"
        )
    return arr


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(map(repr, choices))}")


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (bools refused), else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name}: {value!r}; expected an integer >= {minimum}")
    return int(value)


def check_fraction(name: str, value: object, *, closed: bool) -> float:
    """``value`` as a float in ``[0, 1]`` (``closed``) or ``(0, 1)``, else ConfigError."""
    ok = isinstance(value, float | int | np.floating) and not isinstance(value, bool)
    ok = ok and (0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0)
    if not ok:
        interval = "[0, 1]" if closed else "(0, 1)"
        raise ConfigError(f"{name}: {value!r}; expected a number in {interval}")
    return float(value)
