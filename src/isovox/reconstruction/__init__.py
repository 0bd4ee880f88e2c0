"""Reconstruction: anisotropic Volume in, Volume on the target grid out.

``reconstruct`` and ``reconstruction_grid`` load without torch; the model-based names
(``reconstruct_with_model``, ``predict_planes``, ``receptive_halo``) are resolved lazily
(PEP 562), so interpolation-only use never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .api import INTERPOLATION_METHODS, reconstruct, reconstruction_grid

_LAZY = {
    "reconstruct_with_model": "isovox.reconstruction.slicewise",
    "predict_planes": "isovox.reconstruction.tiling",
    "receptive_halo": "isovox.reconstruction.tiling",
}

__all__ = ["INTERPOLATION_METHODS", "reconstruct", "reconstruction_grid", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'isovox.reconstruction' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
