"""isovox: anisotropic to isotropic 3D volumes, spacing kept end to end.

The flat public API is resolved lazily (PEP 562), so ``import isovox`` and the command line stay
fast and a name pulls in only the modules it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Volume": "isovox.volume",
    "IsovoxError": "isovox.errors",
    "lowres_axis": "isovox.volume",
    "read": "isovox.io",
    "write": "isovox.io",
    "resample": "isovox.resample",
    "simulate": "isovox.simulation",
    "reconstruct": "isovox.reconstruction",
    "compare": "isovox.evaluate",
    "segmentation_agreement": "isovox.evaluate",
    "format_table": "isovox.evaluate",
    "plane_figure": "isovox.evaluate",
    "fetch_sample": "isovox.datasets",
    "train": "isovox.training",
    "load_model": "isovox.store",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'isovox' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
