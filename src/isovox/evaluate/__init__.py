"""Score any tool's reconstruction against a reference on the same grid.

- :func:`compare`: PSNR, SSIM and NRMSE per plane family (xy, xz, yz) and over the volume;
- :func:`segmentation_agreement`: variation of information (split / merge) and adapted Rand error
  between two label volumes;
- :func:`sharpness`: a no-reference measure (normalised gradient energy per plane family);
- :func:`format_table`, :func:`to_json`, :func:`plane_figure`: report the results.

This package depends only on :mod:`isovox.volume`, :mod:`isovox.units` and :mod:`isovox.errors`,
never on the reconstruction code, so it can score the output of any tool.
"""

from .metrics import compare
from .report import format_table, plane_figure, to_json
from .segmentation import segmentation_agreement
from .sharpness import sharpness

__all__ = ["compare", "segmentation_agreement", "sharpness", "format_table", "to_json", "plane_figure"]
