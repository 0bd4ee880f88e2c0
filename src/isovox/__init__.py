"""isovox: anisotropic to isotropic 3D volumes, spacing kept end to end.

The flat public API is resolved lazily (PEP 562), so ``import isovox`` and the command line stay
fast and a name pulls in only the modules it needs.
"""

from __future__ import annotations

from .lazy import lazy_exports

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
    "reconstruct_with_uncertainty": "isovox.reconstruction",
    "open_model": "isovox.reconstruction",
    "assess": "isovox.assess",
    "detect_defects": "isovox.defects",
    "estimate_acquisition": "isovox.acquisition",
    "withheld_section_check": "isovox.training.withheld",
    "reconstruct_blockwise": "isovox.blockwise",
    "blockwise_status": "isovox.blockwise",
    "compare": "isovox.evaluate",
    "segmentation_agreement": "isovox.evaluate",
    "sharpness": "isovox.evaluate",
    "format_table": "isovox.evaluate",
    "plane_figure": "isovox.evaluate",
    "fetch_sample": "isovox.datasets",
    "train": "isovox.training",
    "load_model": "isovox.store",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), eager=("__version__",))
