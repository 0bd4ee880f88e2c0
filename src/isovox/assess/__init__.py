"""Trust without ground truth: how well resolved is a volume, along each axis, judging by itself?

- :func:`assess`: resolution per axis (z, y, x) in physical units and an isotropy score, read
  from the volume's own directional power spectra (method and reasoning:
  :mod:`isovox.assess.resolution`); with a reference on the same grid, also the reference's
  assessment and PSNR / SSIM against it;
- :func:`acquisition_consistency`: an output re-acquired the way its stack was, compared with
  the acquired sections (:mod:`isovox.assess.consistency`);
- :class:`AssessReport`: the numbers, ``to_dict()`` / ``to_json()``;
- :func:`format_summary`, :func:`write_report` (folder with report.json and spectra.png),
  :func:`spectra_figure`.

Like :mod:`isovox.evaluate`, this package reads only volumes (it imports :mod:`isovox.volume`,
:mod:`isovox.io` and, for the reference scores, :mod:`isovox.evaluate`), so it can judge an
acquisition, an isovox output or another tool's output alike.
"""

from .consistency import Consistency, acquisition_consistency, card_acquisition
from .figure import spectra_figure, uncertainty_figure
from .report import AssessReport, assess, format_summary, write_report
from .resolution import AxisResolution, Isotropy, NoiseFloor
from .spectra import DirectionalSpectrum, directional_spectra

__all__ = ["assess", "AssessReport", "Consistency", "acquisition_consistency", "card_acquisition", "format_summary", "write_report", "spectra_figure", "uncertainty_figure",
           "AxisResolution", "Isotropy", "NoiseFloor", "DirectionalSpectrum", "directional_spectra"]
