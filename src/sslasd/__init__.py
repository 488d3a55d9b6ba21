"""sslasd: anomalous machine sound detection with fine-tuned self-supervised audio models.

The verbs (``synth``, ``fit``, ``score``, ``evaluate``, ``detect``, ``report``, ``demo``,
``download``, ``export``) and ``load`` are imported lazily on first access, so that
``import sslasd`` stays cheap.

Example
-------
>>> import sslasd
>>> sslasd.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module of sslasd.pipeline that defines it
_LAZY = {
    "synth": "sslasd.pipeline.synth",
    "data_summary": "sslasd.pipeline.data_summary",
    "fit": "sslasd.pipeline.fit",
    "score": "sslasd.pipeline.score",
    "evaluate": "sslasd.pipeline.evaluate",
    "detect": "sslasd.pipeline.detect",
    "report": "sslasd.pipeline.report",
    "export": "sslasd.pipeline.export",
    "load": "sslasd.pipeline.load",
    "download": "sslasd.pipeline.download",
    "demo": "sslasd.pipeline.demo",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sslasd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
