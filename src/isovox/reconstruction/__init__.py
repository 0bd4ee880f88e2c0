"""Reconstruction: anisotropic Volume in, Volume on the target grid out.

``reconstruct``, ``reconstruct_with_uncertainty``, ``reconstruction_grid`` and ``Grid`` load
without torch (torch comes with the first model); the model-based names (``open_model``,
``reconstruct_with_model``, ``predict_planes``, ``receptive_halo``, ...) are resolved lazily
(PEP 562), so interpolation-only use never imports torch.
"""

from __future__ import annotations

from ..lazy import lazy_exports
from .api import INTERPOLATION_METHODS, reconstruct, reconstruct_with_uncertainty
from .ensemble import Reconstruction
from .grid import Grid, reconstruction_grid
from .precision import PRECISIONS

_LAZY = {
    "open_model": "isovox.reconstruction.folder",
    "ReconstructionModel": "isovox.reconstruction.model",
    "RunOptions": "isovox.reconstruction.model",
    "reconstruct_with_model": "isovox.reconstruction.slicewise",
    "reconstruct_with_model_uncertainty": "isovox.reconstruction.slicewise",
    "predict_planes": "isovox.reconstruction.tiling",
    "receptive_halo": "isovox.reconstruction.tiling",
}

__all__ = ["Grid", "INTERPOLATION_METHODS", "PRECISIONS", "Reconstruction", "reconstruct", "reconstruct_with_uncertainty",
           "reconstruction_grid", *sorted(_LAZY)]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals(), eager=tuple(__all__))
