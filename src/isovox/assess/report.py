"""`assess`: one volume in, an :class:`AssessReport` out; its JSON, its text summary, its folder.

The report holds every number the command prints: per-axis spectra, the noise floor, the
resolution of each axis with what limits it, the isotropy score and, when a reference on the same
grid is given, the reference's own assessment and PSNR / SSIM / NRMSE of the volume against it
(:func:`isovox.evaluate.compare`), so that a user sees both kinds of evidence side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IsovoxError
from ..volume import AXIS_NAMES, Volume, axis_index
from . import resolution as res
from .consistency import Consistency, acquisition_consistency
from .spectra import DEFAULT_VOXEL_BUDGET, DirectionalSpectrum, directional_spectra

REPORT_FILE = "report.json"
FIGURE_FILE = "spectra.png"


@dataclass(frozen=True, eq=False)
class AssessReport:
    """What :func:`assess` measured on one volume (and, optionally, against a reference)."""

    volume: str                                   # Volume.describe() of the assessed volume
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    unit: str
    spectra: tuple[DirectionalSpectrum, ...]      # z, y, x
    noise: res.NoiseFloor
    axes: tuple[res.AxisResolution, ...]          # z, y, x
    isotropy: res.Isotropy
    reference: "AssessReport | None" = None       # the reference's own assessment
    comparison: dict | None = None                # evaluate.compare(reference, volume), no per-plane arrays
    consistency: Consistency | None = None        # the volume re-acquired vs the acquired sections

    def resolution(self, axis: int | str) -> float | None:
        """Resolution along ``axis`` (0/1/2 or 'z'/'y'/'x') in ``unit``."""
        return self.axes[axis_index(axis)].resolution

    def to_dict(self) -> dict:
        """Every number of the report as plain Python (lists, floats, strings, None)."""
        payload = {
            "volume": self.volume, "shape": list(self.shape), "spacing": list(self.spacing),
            "unit": self.unit,
            "method": {"criterion": "first frequency where the directional power spectrum falls to "
                                    "(1 + snr_at_cutoff) x the noise floor; 2 x spacing if it never does",
                       "snr_at_cutoff": res.SNR_AT_CUTOFF, "noise_tail_fraction": res.TAIL_FRACTION},
            "noise_floor": {"power_per_voxel": self.noise.level, "from_axis": AXIS_NAMES[self.noise.axis]},
            "resolution": {a.name: _axis_dict(a) for a in self.axes},
            "isotropy": {"score": self.isotropy.score,
                         "axial_axis": AXIS_NAMES[self.isotropy.axial_axis],
                         "axial_resolution": self.isotropy.axial_resolution,
                         "lateral_resolution": self.isotropy.lateral_resolution},
            "spectra": {s.name: {"frequency": s.frequency.tolist(), "power": s.power.tolist(),
                                 "n_lines": s.n_lines} for s in self.spectra},
        }
        if self.reference is not None:
            payload["reference"] = self.reference.to_dict()
        if self.comparison is not None:
            payload["comparison"] = self.comparison
        if self.consistency is not None:
            payload["consistency"] = self.consistency.to_dict()
        return payload

    def to_json(self) -> str:
        """Strict JSON (infinite PSNR and NaN become null), numbers to 6 significant digits."""
        from ..evaluate import to_json

        return to_json(self.to_dict())


def _axis_dict(axis: res.AxisResolution) -> dict:
    return {"spacing": axis.spacing, "resolution": axis.resolution,
            "cutoff_frequency": axis.cutoff_frequency, "sampling_limit": axis.sampling_limit,
            "limited_by": axis.limited_by}


def assess(volume: Volume, reference: Volume | None = None, axis: int | str | None = None,
           voxel_budget: int = DEFAULT_VOXEL_BUDGET, acquired: Volume | None = None,
           acquisition: dict | None = None) -> AssessReport:
    """Resolution per axis and isotropy of ``volume``, read from the volume alone.

    ``reference`` (optional, same grid): also assessed (in the volume's unit), and the volume is scored against it with
    :func:`isovox.evaluate.compare` (PSNR, SSIM, NRMSE per plane family). ``axis``: the axial
    axis of the isotropy score (default: the axis with the coarsest resolution).
    ``voxel_budget``: voxels read per plane family (see :mod:`isovox.assess.spectra`).
    ``acquired`` (optional): the stack ``volume`` was reconstructed from; ``volume`` is then
    re-acquired with ``acquisition`` (``{'recipe', 'thickness'}``, default a Gaussian profile as
    wide as the section spacing; :func:`.consistency.card_acquisition` reads a model card's) and
    compared with it section by section (:mod:`.consistency`).
    """
    _require_volume(volume, "volume")
    consistency = None
    if acquired is not None:
        _require_volume(acquired, "acquired")
        consistency = acquisition_consistency(volume, acquired, **(acquisition or {}))
    axis = None if axis is None else axis_index(axis)        # a bad axis fails before any work
    comparison = reference_report = None
    if reference is not None:
        _require_volume(reference, "reference")
        from ..evaluate import compare

        comparison = _without_per_plane(compare(reference, volume))   # fails first on another grid
        reference_report = assess(reference.in_unit(volume.unit), axis=axis, voxel_budget=voxel_budget)
    spectra = directional_spectra(volume, voxel_budget)
    noise = res.noise_floor(spectra)
    axes = tuple(res.axis_resolution(s, noise) for s in spectra)
    return AssessReport(volume=volume.describe(), shape=volume.shape, spacing=volume.spacing,
                        unit=volume.unit, spectra=spectra, noise=noise, axes=axes,
                        isotropy=res.isotropy(axes, axis), reference=reference_report,
                        comparison=comparison, consistency=consistency)


def _require_volume(item: Any, what: str) -> None:
    if not isinstance(item, Volume):
        raise IsovoxError(f"{what} must be a Volume (resolution is physical: it needs the spacing); "
                          "wrap an array with isovox.volume.as_volume(array, spacing=(z, y, x))")


def _without_per_plane(result: Any) -> Any:
    if isinstance(result, dict):
        return {k: _without_per_plane(v) for k, v in result.items() if k != "per_plane"}
    return result


# --- text ------------------------------------------------------------------------------------------

def format_summary(report: AssessReport) -> str:
    """A short plain-text summary: one row per axis, the isotropy score, the reference scores."""
    unit = report.unit
    with_reference = report.reference is not None
    lines = [f"volume: {report.volume}",
             f"noise floor: {report.noise.level:.4g} per voxel (tail of the "
             f"{AXIS_NAMES[report.noise.axis]} spectrum)",
             f"{'axis':<4}  {'spacing':<10}  {'resolution':<10}  {'limited by':<22}"
             + ("  reference" if with_reference else "")]
    for index, axis in enumerate(report.axes):
        row = (f"{axis.name:<4}  {_length(axis.spacing, unit):<10}  {_length(axis.resolution, unit):<10}  "
               f"{_limit_text(axis):<22}")
        if with_reference:
            row += f"  {_length(report.reference.axes[index].resolution, unit)}"
        lines.append(row.rstrip())
    lines.append(_isotropy_line(report, "isotropy"))
    if with_reference:
        lines.append(_isotropy_line(report.reference, "reference isotropy"))
        lines.append(_comparison_line(report.comparison))
    if report.consistency is not None:
        lines.append(report.consistency.summary())
    return "\n".join(lines)


def _length(value: float | None, unit: str) -> str:
    return "none" if value is None else f"{value:.3g} {unit}"


def _limit_text(axis: res.AxisResolution) -> str:
    return "sampling (2 x spacing)" if axis.limited_by == "sampling" else axis.limited_by


def _isotropy_line(report: AssessReport, label: str) -> str:
    iso = report.isotropy
    score = "undefined" if iso.score is None else f"{iso.score:.2f}"
    return (f"{label}: {score} (lateral {_length(iso.lateral_resolution, report.unit)} / axial "
            f"{AXIS_NAMES[iso.axial_axis]} {_length(iso.axial_resolution, report.unit)}; 1 = isotropic)")


def _comparison_line(comparison: dict) -> str:
    whole = comparison["volume"]
    psnr = whole["psnr"]
    psnr_text = "inf" if not math.isfinite(psnr) else f"{psnr:.2f} dB"
    families = ", ".join(f"{name} {comparison[name]['psnr']:.2f} dB / {comparison[name]['ssim']:.4f}"
                         for name in ("xy", "xz", "yz") if name in comparison)
    return f"vs reference: PSNR {psnr_text}, SSIM {whole['ssim']:.4f} (per plane family: {families})"


# --- folder ----------------------------------------------------------------------------------------

def write_report(report: AssessReport, folder: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``folder/report.json`` and ``folder/spectra.png`` atomically: the folder appears
    complete or not at all, and an existing one is replaced only with ``overwrite``."""
    from ..io.atomic import atomic_output
    from .figure import save_spectra_figure

    with atomic_output(Path(folder), directory=True, overwrite=overwrite) as tmp:
        (tmp / REPORT_FILE).write_text(report.to_json(), encoding="utf-8")
        save_spectra_figure(report, tmp / FIGURE_FILE)
    return Path(folder)
