"""Estimate how an anisotropic volume was acquired, from the volume itself.

``estimate_acquisition(volume)`` measures the slice profile (shape and thickness, in the volume's
physical unit), the noise level, section flicker and misalignment; ``training_recipe(estimate)``
turns it into the ``recipe`` and ``thickness`` that :class:`isovox.pairs.LateralPairs` takes, so
training degrades lateral planes the way the real sections were degraded instead of assuming a
Gaussian as wide as the section spacing.

Method (symmetric spectral matching)
------------------------------------
Assumption: the tissue is statistically isotropic (its second-order statistics do not depend on
direction). A section is then a slab of tissue seen through an unknown profile ``h`` along the
low-resolution axis and sampled every ``D`` (the section spacing); lateral lines are sharp and
finely sampled. For each candidate profile (Gaussian FWHM or box slab, 0 to 3 ``D``):

- *model side*: lateral lines are blurred along their direction by the candidate and sampled
  every ``D`` with the project's own degradation functions
  (:func:`isovox.degrade.functional.gaussian_profile`, ``box_profile``, ``take_slices``: those
  of the training recipes, so estimate and training share one model);
- *data side*: the axial lines are blurred *across* their direction, in plane, by the same
  candidate. This is what makes the comparison exact: the lateral lines were themselves seen
  through the true profile across their direction (a section is a projection through its
  thickness), and without the matching in-plane blur the model side lacks power at high
  frequencies, which biased widths low by 30-40 % in our tests on isotropic textures;
- both sides give a variogram over ``D``-spaced lags, ``gamma(m) = E[(x[k + m] - x[k])^2] / 2``,
  averaged over both in-plane axes. A variogram is estimated from pairs of sections, so a blank
  section (CREMI's section 14) simply drops out of its pairs, with no window or gap to correct;
- each variogram becomes the power spectrum of section-to-section differences (Blackman-Tukey,
  Parzen lag window), and the two spectra are compared as log power over 0.1 to 0.5 cycles per
  section (up to the Nyquist frequency of the sections) after removing the best common level.
  Log power weighs the top of the band, where the profile acts, as much as the bottom; the free
  level makes the fit ignore a global contrast difference between axes.

The candidate with the smallest misfit wins (per family a coarse grid of 0.1 ``D``, a fine grid
around the best and a parabola); widths are physical, so the native volume and the same volume
with every other section withheld (same thickness, double spacing) should give the same answer.

White noise needs no parameter: it is the same per voxel in both directions, and each side blurs
it once by the candidate, so it enters both spectra alike. The noise level is reported
separately (wavelet median estimator on lateral planes, :mod:`isovox.acquisition.artifacts`),
as are section flicker and misalignment; neither is fitted into the profile.

Why not fit noise or a gain freely: a free white-noise floor trades off against the profile
(aliasing of thin sections and noise both lift the top of the band), and on isotropic textures
it made the width unidentifiable; the symmetric comparison makes both unnecessary.

Limits: tissue that is not isotropic biases the width (FlyEM's 10 nm FIB-SEM cube has 15-40 %
more power along z than in plane in the band that matters, which pulls thin profiles towards
'take'); profiles much thinner than the spacing (below about half of it) change the spectrum
little, so their width is the least certain; misalignment adds high-frequency power along the
sections and reads as a thinner profile.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import IsovoxError
from ..volume import AXIS_NAMES, Volume, axis_index, lowres_axis
from . import artifacts
from .profile_fit import MAX_LAGS, SHAPES, Sampling, Strides, best_width, search

MAX_SIDE = 1024                 # in-plane extent read (central crop) of a large volume
MODEL_VOXELS = 1 << 19          # lateral-plane voxels blurred per candidate (model side)
AXIAL_VOXELS = 1 << 19          # section voxels blurred per candidate and in-plane axis (data side)
MAX_MODEL_PLANES = 16
MIN_SECTIONS = 5
BLANK_FRACTION = 0.05           # a section whose std is below this fraction of the median is blank


@dataclass(frozen=True)
class AcquisitionEstimate:
    """The acquisition measured from an anisotropic volume (JSON-ready with :meth:`to_dict`).

    - ``recipe``: 'gaussian', 'box' or 'take' (the best profile is at most one lateral pixel
      wide); ``thickness``: the chosen profile's width in ``unit`` (FWHM for 'gaussian', slab
      for 'box'), None for 'take'.
    - ``fwhm`` and ``box_width``: the best width within each family, whichever won
      (``fwhm`` is the Gaussian-equivalent FWHM of a box estimate).
    - ``misfit``: the winner's mean squared log-spectral residual; ``level``: axial / lateral
      power ratio at the winner (1 for isotropic tissue; far from 1 warns of anisotropy).
    - ``noise_sigma``: white noise as a fraction of the data range (max - min), the convention
      of :func:`isovox.simulation.simulate`; ``noise_std`` in intensity units.
    - ``flicker``: ``{'offset', 'contrast'}`` per-section variation (upper bounds);
      ``misalignment``: ``{'median', 'max'}`` shifts between neighbouring sections in ``unit``.
    - ``axis`` ('z', 'y' or 'x'), ``spacing`` (section spacing), ``lateral_spacing``, ``unit``,
      ``blank_sections`` (indices left out), ``lags`` (variogram lags used).
    - ``candidates``: every ``(shape, width, misfit)`` tried, sorted by shape and width.
    """

    recipe: str
    thickness: float | None
    fwhm: float
    box_width: float
    misfit: float
    level: float
    noise_sigma: float
    noise_std: float
    flicker: dict
    misalignment: dict
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


def estimate_acquisition(volume: Volume, axis: int | str | None = None) -> AcquisitionEstimate:
    """Measure the slice profile, noise, flicker and misalignment of ``volume`` along ``axis``
    (default: its coarsest axis, :func:`isovox.volume.lowres_axis`). See the module docstring."""
    axis = lowres_axis(volume.spacing) if axis is None else axis_index(axis)
    sampling = _sampling(volume, axis)
    planes, strides, lags = _subsample(sampling)
    fits = search(sampling, planes, strides, lags)
    family_best = {shape: best_width(fits, shape) for shape in SHAPES}
    winner = min(family_best.values(), key=lambda f: f.misfit)
    data_range = _data_range(sampling)
    noise = artifacts.noise_std(planes)
    take = winner.width <= min(sampling.lateral)
    return AcquisitionEstimate(
        recipe="take" if take else winner.shape, thickness=None if take else winner.width,
        fwhm=family_best["gaussian"].width, box_width=family_best["box"].width,
        misfit=winner.misfit, level=winner.level,
        noise_sigma=noise / data_range, noise_std=noise,
        flicker=artifacts.flicker(sampling.stack, sampling.valid, data_range),
        misalignment=artifacts.misalignment(sampling.stack, sampling.valid, sampling.lateral),
        axis=AXIS_NAMES[axis], spacing=sampling.spacing, lateral_spacing=sampling.lateral,
        unit=volume.unit, blank_sections=tuple(int(i) for i in np.flatnonzero(~sampling.valid)),
        lags=lags, candidates=tuple((f.shape, f.width, f.misfit) for f in fits))


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
    values = sampling.stack[sampling.valid]
    span = float(values.max() - values.min())
    return span if span > 0 else 1.0
