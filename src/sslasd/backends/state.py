"""A fitted back-end as plain arrays plus JSON-able values, and back; never a pickle.

A bundle writes ``state["arrays"]`` as safetensors/npz and the rest as JSON, so that loading a
shared model file cannot run code (STYLE.md habit 2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from sslasd._common import atomic_write_bytes
from sslasd.backends.base import BaseScorer
from sslasd.backends.registry import backend_name, make_backend
from sslasd.errors import CheckpointError, ConfigError

_KEYS = ("backend", "params", "attributes", "arrays")


def save_backend_state(estimator: BaseScorer) -> dict[str, Any]:
    """The state of a fitted back-end: ``{"backend", "params", "attributes", "arrays"}``.

    ``arrays`` maps names to float64 numpy arrays; everything else is JSON-able.

    Raises
    ------
    NotFittedError
        ``estimator`` is not fitted.
    ConfigError
        Not a registered back-end, or a parameter that JSON cannot hold.

    Example
    -------
    >>> from sslasd.backends import KNNScorer
    >>> est = KNNScorer().fit(np.eye(3) + 0.1)
    >>> state = save_backend_state(est)
    >>> state["backend"], sorted(state["arrays"])
    ('knn', ['bank_source_', 'bank_target_', 'train_scores_'])
    """
    estimator._check_fitted()
    name = backend_name(estimator)
    params = estimator.get_params()
    try:
        json.dumps(params)
    except TypeError as exc:
        raise ConfigError(f"backend {name!r}: parameters {params} cannot be saved as JSON ({exc})") from exc
    attributes = json.loads(
        json.dumps({a: getattr(estimator, a) for a in estimator._state_attributes}, default=_scalar)
    )
    arrays = {a: np.asarray(getattr(estimator, a), dtype=np.float64) for a in estimator._state_arrays}
    return {"backend": name, "params": params, "attributes": attributes, "arrays": arrays}


def backend_from_state(state: Mapping[str, Any], **overrides: object) -> BaseScorer:
    """The fitted back-end that ``state`` describes; ``overrides`` replace parameters (e.g. ``device``).

    Raises
    ------
    CheckpointError
        ``state`` lacks a key, an attribute or an array the back-end needs.
    ConfigError
        Unknown back-end or parameter.
    """
    missing = [k for k in _KEYS if k not in state]
    if missing:
        raise CheckpointError(f"back-end state: missing key(s) {missing}; expected {', '.join(_KEYS)}")
    estimator = make_backend(state["backend"], **{**state["params"], **overrides})
    for group, names in (("attributes", estimator._state_attributes), ("arrays", estimator._state_arrays)):
        absent = [n for n in names if n not in state[group]]
        if absent:
            raise CheckpointError(f"back-end state {state['backend']!r}: {group} {absent} missing")
    for name in estimator._state_attributes:
        setattr(estimator, name, state["attributes"][name])
    for name in estimator._state_arrays:
        setattr(estimator, name, np.array(state["arrays"][name], dtype=np.float64))
    return estimator


def pack_states(estimators: Mapping[str, BaseScorer]) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Several fitted back-ends as flat arrays ``backend.<i>.<name>`` and a JSON-able list.

    Entry ``i`` of the list is ``{"key", "backend", "params", "attributes"}`` of ``estimators``'
    ``i``-th item; a run's banks file and an exported bundle hold back-ends this way.
    """
    arrays: dict[str, np.ndarray] = {}
    described = []
    for i, (key, estimator) in enumerate(estimators.items()):
        state = save_backend_state(estimator)
        arrays.update({f"backend.{i}.{name}": value for name, value in state.pop("arrays").items()})
        described.append({"key": key, **state})
    return arrays, described


def unpack_states(
    arrays: Mapping[str, np.ndarray], described: list[dict[str, Any]], **overrides: object
) -> dict[str, BaseScorer]:
    """The back-ends that :func:`pack_states` wrote, by key (CheckpointError when a part is missing)."""
    out = {}
    for i, state in enumerate(described):
        prefix = f"backend.{i}."
        own = {k[len(prefix) :]: np.asarray(v) for k, v in arrays.items() if k.startswith(prefix)}
        try:
            out[state["key"]] = backend_from_state({**state, "arrays": own}, **overrides)
        except KeyError as exc:
            raise CheckpointError(f"back-end state {i}: missing {exc}") from None
    return out


def save_backends(path: str | os.PathLike, estimators: Mapping[str, BaseScorer]) -> None:
    """Write fitted back-ends to one safetensors file (atomic); :func:`load_backends` reads it."""
    arrays, described = pack_states(estimators)
    data = safetensors.numpy.save(arrays, metadata={"sslasd_backends": json.dumps(described)})
    atomic_write_bytes(path, data)


def load_backends(path: str | os.PathLike, **overrides: object) -> dict[str, BaseScorer]:
    """The fitted back-ends in a file of :func:`save_backends`, without refitting or unpickling.

    Raises
    ------
    CheckpointError
        The file is missing, not a safetensors file of back-ends, or incomplete.
    """
    path = Path(path)
    try:
        with safetensors.safe_open(str(path), framework="numpy") as f:
            described = json.loads((f.metadata() or {})["sslasd_backends"])
            arrays = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is no dict)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a back-ends file ({type(exc).__name__}: {exc})") from None
    return unpack_states(arrays, described, **overrides)


def _scalar(value: object) -> object:
    """numpy scalars as Python numbers, for ``json``."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save {type(value).__name__} as JSON")
