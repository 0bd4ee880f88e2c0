"""PNG of the directional power spectra, the noise threshold and each axis' cut-off.

Each axis' spectrum is drawn as power *density* (per-voxel power x spacing, intensity^2 x unit)
against physical frequency (cycles per unit), both on log scales. In density units a specimen
that is the same in every direction gives the same curve along every axis, whatever the
spacing, so the axes of an anisotropic volume can be compared at equal physical frequency: an
axis whose curve drops below the others is blurred (or interpolated) along that direction. The
noise threshold of :mod:`.resolution` becomes, per axis, ``threshold x spacing`` (dotted, same
colour); a marker and a vertical line show where each axis' spectrum meets it. With a reference,
its spectra are drawn dashed in the same colours.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..volume import AXIS_NAMES

AXIS_COLOURS = {"z": "tab:red", "y": "tab:green", "x": "tab:blue"}
FIGURE_SIZE_IN = (7.5, 5.0)


def spectra_figure(report: Any) -> Any:
    """A matplotlib Figure (Agg canvas, no pyplot state) of ``report``'s spectra."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    consistency = getattr(report, "consistency", None)
    width, height = FIGURE_SIZE_IN
    figure = Figure(figsize=(width, height * (1.6 if consistency is not None else 1)), layout="constrained")
    FigureCanvasAgg(figure)
    if consistency is not None:
        from .consistency import consistency_figure_panel

        ax, below = figure.subplots(2, 1, height_ratios=(2, 1))
        consistency_figure_panel(below, consistency)
    else:
        ax = figure.subplots()
    _draw_assessment(ax, report, linestyle="-", label_prefix="")
    if report.reference is not None:
        _draw_assessment(ax, report.reference, linestyle="--", label_prefix="reference ")
    ax.plot([], [], color="grey", linestyle=":", label="signal = noise (per axis, same colour)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"spatial frequency (1/{report.unit})")
    ax.set_ylabel(f"power density (intensity\u00b2 \u00d7 {report.unit})")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    score = report.isotropy.score
    ax.set_title(f"{report.volume}\nisotropy {'undefined' if score is None else f'{score:.2f}'}"
                 f" (axial: {AXIS_NAMES[report.isotropy.axial_axis]})", fontsize=9)
    return figure


def _draw_assessment(ax: Any, report: Any, linestyle: str, label_prefix: str) -> None:
    for spectrum, axis in zip(report.spectra, report.axes):
        colour = AXIS_COLOURS[spectrum.name]
        resolution = "none" if axis.resolution is None else f"{axis.resolution:.3g} {report.unit}"
        ax.plot(spectrum.frequency, spectrum.density, color=colour, linestyle=linestyle,
                linewidth=1.4, label=f"{label_prefix}{spectrum.name}: resolution {resolution} "
                                     f"({axis.limited_by})")
        threshold = report.noise.threshold * spectrum.spacing
        ax.plot([spectrum.frequency[0], spectrum.nyquist], [threshold, threshold], color=colour,
                linestyle=":", linewidth=1.0)
        if axis.cutoff_frequency is not None:
            ax.axvline(axis.cutoff_frequency, color=colour, linestyle=linestyle, linewidth=0.6, alpha=0.5)
            level = np.interp(axis.cutoff_frequency, spectrum.frequency, spectrum.density)
            ax.plot([axis.cutoff_frequency], [level], marker="o", color=colour, markersize=5)


def save_spectra_figure(report: Any, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write the spectra PNG to ``path`` (write it inside an atomic output to make it atomic)."""
    path = Path(path)
    spectra_figure(report).savefig(path, format="png", dpi=dpi)
    return path


def uncertainty_figure(result: Any, uncertainty: Any, path: str | os.PathLike, plane: str = "xz",
                       index: int | None = None, title: str | None = None) -> Path:
    """PNG of one plane of a reconstruction beside the same plane with its uncertainty (the TTA
    spread plus the misfit to the acquired sections, :func:`isovox.reconstruct_with_uncertainty`)
    laid over it in colour: where the colour is bright, the mirrored variants disagree or the
    output does not give the acquired sections back, and the network is guessing.
    ``result`` and ``uncertainty`` share one grid; ``index`` defaults to the middle plane."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..evaluate.figure import panel_extent, save_figure_atomic
    from ..volume import PLANE_AXES

    axis = PLANE_AXES[plane]
    index = result.shape[axis] // 2 if index is None else int(index)
    take = [slice(None)] * 3
    take[axis] = index
    image = np.asarray(result.data[tuple(take)], dtype=np.float64)
    spread = np.asarray(uncertainty.data[tuple(take)], dtype=np.float64)
    rows_axis, cols_axis = [a for a in range(3) if a != axis]
    extent = panel_extent(result, rows_axis, cols_axis)
    figure = Figure(figsize=(11.0, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    plain, overlaid = figure.subplots(1, 2)
    top = float(np.percentile(spread, 99.5)) or 1.0
    for ax in (plain, overlaid):
        ax.imshow(image, cmap="gray", extent=extent, origin="upper", interpolation="nearest", aspect="equal")
        ax.set_xlabel(f"{AXIS_NAMES[cols_axis]} ({result.unit})")
        ax.set_ylabel(f"{AXIS_NAMES[rows_axis]} ({result.unit})")
    shown = overlaid.imshow(spread, cmap="inferno", alpha=np.clip(spread / top, 0.0, 1.0) * 0.85, vmin=0, vmax=top,
                            extent=extent, origin="upper", interpolation="nearest", aspect="equal")
    figure.colorbar(shown, ax=overlaid, shrink=0.8, label="uncertainty (intensity)")
    plain.set_title(f"reconstruction ({plane} #{index})", fontsize=10)
    overlaid.set_title("with its uncertainty", fontsize=10)
    if title:
        figure.suptitle(title, fontsize=10)
    return save_figure_atomic(figure, Path(path))

