"""The examples in the back-end docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "",
    ".neighbors",
    "._validation",
    ".knn",
    ".kmeans",
    ".smote",
    ".mahalanobis",
    ".registry",
    ".state",
]


@pytest.mark.parametrize("suffix", MODULES)
def test_docstring_examples(suffix: str) -> None:
    module = importlib.import_module("sslasd.backends" + suffix)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
