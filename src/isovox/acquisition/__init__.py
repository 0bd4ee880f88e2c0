"""Estimate how an anisotropic volume was acquired, from the volume itself.

``estimate_acquisition(volume)`` measures the slice profile (shape and width in the volume's
physical unit), the noise, section flicker and misalignment; ``training_recipe(estimate)`` turns
it into the ``recipe`` and ``thickness`` of :class:`isovox.pairs.LateralPairs`, so that training
degrades lateral planes the way the sections were degraded instead of assuming a Gaussian as wide
as the section spacing. Widths are physical, so the same sections withheld to double spacing
should give the same width (see the limits below for when they cannot).

Method: symmetric spectral matching
-----------------------------------
Assumption: the tissue is statistically isotropic. A section is tissue seen through an unknown
profile ``h`` along the low-resolution axis, sampled every ``D`` (the section spacing); lateral
lines are finely sampled. For each candidate profile (Gaussian FWHM, or box slab) the fit
compares two sets of lines that agree, for isotropic tissue, exactly when the candidate is ``h``:

- *model side*: lateral lines blurred along their direction by the candidate and sampled every
  ``D`` with the training recipes' own functions (:func:`isovox.degrade.functional.gaussian_profile`,
  ``box_profile``, ``take_slices``), so estimate and training share one degradation model;
- *data side*: the real axial lines, blurred *across* their direction (in plane) by the same
  candidate. Lateral lines were seen through ``h`` across their direction (a section is a slab,
  so its plane is a projection through its thickness); the matching in-plane blur makes the two
  sides symmetric. Without it the model side lacks power at high frequencies and widths came
  out 7-40 % low on isotropic textures.

Both sides give variograms over ``D``-spaced lags, ``gamma(m) = E[(x[k + m] - x[k])^2] / 2``,
averaged over the two in-plane axes. A variogram is estimated from pairs of sections, so a blank
section (CREMI's section 14) just drops out of its pairs, with no window or gap to correct for.
Each variogram becomes the power spectrum of section-to-section differences (Blackman-Tukey,
Parzen lag window, up to 16 lags), and the spectra are compared as log power from 0.1 to 0.5
cycles per section (the sections' Nyquist frequency) once their mean log ratio is removed. Why:

- log power weighs the top of the band, where a profile acts, as much as the bottom; a plain
  variogram (or linear power) is dominated by middle frequencies, where a profile hardly acts
  and real volumes deviate most from isotropy, and it gave widths 20-40 % off on FlyEM;
- removing the mean log ratio (a free gain) keeps only the spectrum's shape: real volumes
  differ from isotropy in overall axial power by up to 70 % (``power_ratio``: FlyEM 1.2, CREMI
  0.8, Colin27 0.6-1.7), which a fixed gain would read as a profile.

White noise needs no parameter: each side blurs it once by the candidate, so it enters both
alike. Fitting a free noise floor instead made widths unidentifiable (thin sections' aliasing and
noise both lift the top of the band). Heavy noise still biases thick profiles a little (the model
side's sampled noise is correlated when the profile is wider than ``D``): 5 % of the range made a
40 nm FWHM read 35 nm on a texture.

Search: per family, widths 0 to 3 ``D`` every 0.2 ``D``, then every 0.04 ``D`` around the best,
then a parabola. A Gaussian and a box 1.2-1.35 times its FWHM fit almost equally well (they
differ mostly beyond the band), so a box wins only with a clearly smaller misfit; ``fwhm`` is
always the best Gaussian (the Gaussian-equivalent FWHM of a box). A best width of at most one
lateral pixel is 'take'. ``width_range`` lists the widths fitting almost as well: wide when the
data hardly constrain the width.

Before the fit (:mod:`isovox.acquisition.artifacts`): blank sections are left out; section
flicker (mean and contrast about a running median) is removed; the random part of the section
misalignment (phase correlation, about the smooth drift) is undone when it exceeds a pixel. All
three are reported; without the last two, flicker and jitter read as thinner sections (the ISBI
stack's 39 nm jitter turned a 27 nm FWHM into 'take').

Limits, measured (thin means narrower than about half the spacing):
- tissue that is not isotropic biases the width. FlyEM's 10 nm FIB-SEM cube has 15-40 % more
  power along z than in plane in the band: thick profiles come out within 10 %, but a 20 nm box
  at 40 nm spacing reads as a 13 nm box (12 nm FWHM) and a 40 nm FWHM at 80 nm spacing as 30 nm;
- a thin profile mostly changes how much power aliases into the band, not its shape, and the
  free gain discards the amount: at 80 nm spacing CREMI's sections fit anything up to 64 nm
  (``width_range``), where the native 40 nm spacing gives 32-34 nm. Estimate on the native
  volume, and reuse its width for withheld sections.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ..errors import IsovoxError
from ..volume import AXIS_NAMES, Volume, axis_index, lowres_axis
from . import artifacts
from .profile_fit import MAX_LAGS, Sampling, Strides, best_width, plausible_widths, search

MAX_SIDE = 1024                 # in-plane extent read (central crop) of a large volume
MODEL_VOXELS = 1 << 18          # lateral-plane voxels blurred per candidate (model side)
AXIAL_VOXELS = 1 << 18          # section voxels blurred per candidate and in-plane axis (data side)
MAX_MODEL_PLANES = 16
MIN_SECTIONS = 5
BLANK_FRACTION = 0.05           # a section whose std is below this fraction of the median is blank
SHAPE_MARGIN = 0.8              # a box wins only with a misfit below this fraction of the Gaussian's
MIN_JITTER = 1.0                # lateral pixels (rms) of jitter below which sections are not moved
RANGE_TOLERANCE = 1.0           # width_range: widths whose misfit is at most (1 + this) x the best


@dataclass(frozen=True)
class AcquisitionEstimate:
    """The acquisition measured from an anisotropic volume (JSON-ready with :meth:`to_dict`).

    - ``recipe``: 'gaussian', 'box' or 'take' (the best profile is at most one lateral pixel
      wide); ``thickness``: the chosen profile's width in ``unit`` (FWHM for 'gaussian', slab
      for 'box'), None for 'take'.
    - ``fwhm`` and ``box_width``: the best width within each family, whichever won
      (``fwhm`` is the Gaussian-equivalent FWHM of a box estimate). The two families fit
      almost equally well (they differ mostly beyond the band the sections sample), so a box
      wins only with a clearly smaller misfit (``SHAPE_MARGIN``).
    - ``width_range``: the widths of the winning family whose misfit is at most twice the best:
      a wide range means the data hardly constrain the width (thin sections, few sections).
    - ``misfit``: the winner's mean squared log-spectral residual; ``power_ratio``: axial over
      lateral power at the winner (1 for isotropic tissue; far from 1 warns of anisotropy).
    - ``noise_sigma``: white noise as a fraction of the data range (max - min, the convention of
      :func:`isovox.simulation.simulate` and ``LateralPairs(noise=...)``); ``noise_std`` in
      intensity units. Texture at the scale of a pixel counts as noise: read both as upper bounds.
    - ``flicker``: ``{'offset', 'contrast'}`` per-section variation (upper bounds), removed
      before the fit; ``misalignment``: ``{'median', 'max'}`` shifts between neighbouring
      sections and their ``jitter`` about the smooth drift, in ``unit``; ``aligned``: whether
      the sections were moved to undo the jitter before the fit.
    - ``axis`` ('z', 'y' or 'x'), ``spacing`` (section spacing), ``lateral_spacing``, ``unit``,
      ``blank_sections`` (indices left out), ``lags`` (variogram lags used).
    - ``candidates``: every ``(shape, width, misfit)`` tried, sorted by shape and width.
    """

    recipe: str
    thickness: float | None
    fwhm: float
    box_width: float
    width_range: tuple[float, float]
    misfit: float
    power_ratio: float
    noise_sigma: float
    noise_std: float
    flicker: dict
    misalignment: dict
    aligned: bool
    axis: str
    spacing: float
    lateral_spacing: tuple[float, float]
    unit: str
    blank_sections: tuple[int, ...]
    lags: int
    candidates: tuple[tuple[str, float, float], ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; an infinite misfit (a candidate that could not be scored) is None."""
        values = asdict(self)
        values["lateral_spacing"] = list(self.lateral_spacing)
        values["width_range"] = list(self.width_range)
        values["blank_sections"] = list(self.blank_sections)
        values["candidates"] = [[shape, width, misfit if math.isfinite(misfit) else None]
                                for shape, width, misfit in self.candidates]
        return values


def training_recipe(estimate: AcquisitionEstimate) -> tuple[str, float | None]:
    """``(recipe, thickness)`` for ``LateralPairs(recipe=..., thickness=...)`` (and
    :func:`isovox.simulation.simulate`): thickness in the volume's unit, None for 'take'."""
    if estimate.recipe == "take":
        return "take", None
    return estimate.recipe, float(estimate.thickness)


def estimate_acquisition(volume: Volume, axis: int | str | None = None, *,
                         align: bool = True) -> AcquisitionEstimate:
    """Measure the slice profile, noise, flicker and misalignment of ``volume`` along ``axis``
    (default: its coarsest axis, :func:`isovox.volume.lowres_axis`). See the module docstring.

    ``align``: undo the random part of the section misalignment (when it exceeds ``MIN_JITTER``
    pixels rms) before fitting the profile, so that jitter is reported as misalignment rather
    than read as thin sections.
    """
    axis = lowres_axis(volume.spacing) if axis is None else axis_index(axis)
    raw = _sampling(volume, axis)
    trend = artifacts.section_trend(raw.stack, raw.valid)
    shifts = artifacts.neighbour_shifts(raw.stack, raw.valid)
    sampling, aligned = _corrected(raw, trend, shifts, align)
    planes, strides, lags = _subsample(sampling)
    fits = search(sampling, planes, strides, lags)
    gaussian, box = best_width(fits, "gaussian"), best_width(fits, "box")
    winner = box if box.misfit < SHAPE_MARGIN * gaussian.misfit else gaussian
    take = winner.width <= min(sampling.lateral) * (1 + 1e-6)
    data_range = _data_range(raw)
    noise = artifacts.noise_std(planes)
    return AcquisitionEstimate(
        recipe="take" if take else winner.shape, thickness=None if take else winner.width,
        fwhm=gaussian.width, box_width=box.width,
        width_range=plausible_widths(fits, winner.shape, RANGE_TOLERANCE),
        misfit=winner.misfit, power_ratio=winner.power_ratio,
        noise_sigma=noise / data_range, noise_std=noise, flicker=artifacts.flicker(trend, data_range),
        misalignment=artifacts.misalignment(shifts, sampling.lateral), aligned=aligned,
        axis=AXIS_NAMES[axis], spacing=sampling.spacing, lateral_spacing=sampling.lateral,
        unit=volume.unit, blank_sections=tuple(int(i) for i in np.flatnonzero(~sampling.valid)),
        lags=lags, candidates=tuple((f.shape, f.width, f.misfit) for f in fits))


def _corrected(raw: Sampling, trend: dict, shifts: np.ndarray, align: bool) -> tuple[Sampling, bool]:
    """The stack with its flicker removed and, if ``align`` and the jitter is large enough, its
    sections moved onto their smooth drift; and whether they were moved."""
    stack = artifacts.deflicker(raw.stack, raw.valid, trend)
    moves = artifacts.jitter(shifts)
    aligned = align and float(np.sqrt(np.mean(np.sum(moves**2, axis=1)))) > MIN_JITTER
    if aligned:
        stack = artifacts.align(stack, raw.valid, moves)
    return replace(raw, stack=np.ascontiguousarray(stack)), aligned


def _sampling(volume: Volume, axis: int) -> Sampling:
    """The sections as a float32 (sections, u, v) stack, in-plane centre crop of at most
    ``MAX_SIDE`` pixels per axis (read lazily), with the blank sections marked."""
    in_plane = [a for a in range(3) if a != axis]
    index = [slice(None)] * 3
    for a in in_plane:
        start = max(0, (volume.shape[a] - MAX_SIDE) // 2)
        index[a] = slice(start, start + MAX_SIDE)
    stack = np.moveaxis(np.asarray(volume.data[tuple(index)], dtype=np.float32), axis, 0)
    spreads = stack.std(axis=(1, 2))
    valid = spreads > BLANK_FRACTION * np.median(spreads)
    if valid.sum() < MIN_SECTIONS:
        raise IsovoxError(f"{int(valid.sum())} sections along {AXIS_NAMES[axis]} hold data; estimating "
                          f"the acquisition needs at least {MIN_SECTIONS}")
    spacing = float(volume.spacing[axis])
    lateral = tuple(float(volume.spacing[a]) for a in in_plane)
    if spacing <= max(lateral) * (1 + 1e-3):
        raise IsovoxError(f"axis {AXIS_NAMES[axis]} (spacing {spacing:g} {volume.unit}) is not coarser than "
                          f"the in-plane axes ({lateral[0]:g}, {lateral[1]:g}); nothing to estimate")
    return Sampling(np.ascontiguousarray(stack), valid, spacing, lateral)  # type: ignore[arg-type]


def _subsample(sampling: Sampling) -> tuple[np.ndarray, Strides, int]:
    """Lateral planes for the model side (up to ``MAX_MODEL_PLANES`` evenly spaced valid
    sections), the strides across the lines that keep both sides within their voxel budgets,
    and the number of lags (limited by the sections and by the lateral extent)."""
    n, rows, cols = sampling.stack.shape
    valid = np.flatnonzero(sampling.valid)
    chosen = valid[np.unique(np.round(np.linspace(0, len(valid) - 1, MAX_MODEL_PLANES)).astype(int))]
    planes = sampling.stack[chosen]

    def strides(sections: int, budget: int) -> tuple[slice, slice]:
        step = max(1, math.ceil(sections * rows * cols / budget))
        return slice(None, None, step), slice(None, None, step)

    samples = min(rows * sampling.lateral[0], cols * sampling.lateral[1]) / sampling.spacing
    lags = int(min(MAX_LAGS, n - 2, math.floor(samples) - 2))
    if lags < 3:
        raise IsovoxError(f"{n} sections and {samples:.0f} section spacings of lateral extent are too few "
                          "to estimate the slice profile (need at least 5 of each)")
    return planes, Strides(strides(n, AXIAL_VOXELS), strides(len(chosen), MODEL_VOXELS)), lags


def _data_range(sampling: Sampling) -> float:
    """max - min of the valid sections (the range :func:`isovox.simulation.simulate` scales
    its noise by), 1 if flat."""
    values = sampling.stack[sampling.valid]
    span = float(values.max() - values.min())
    return span if span > 0 else 1.0
