"""Fit the slice profile by comparing axial and lateral second-order statistics (see the package
docstring, :mod:`isovox.acquisition`, for the method and why it is built this way).

Arrays here are *stacks*: float32 ``(sections, u, v)`` with the low-resolution axis first and the
two in-plane axes after it, at in-plane spacings ``(du, dv)``; ``valid`` marks the sections that
hold data (a blank section is left out of every pair it would be part of).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..degrade import functional as F

SHAPES = ("gaussian", "box")
# Coarse width grid, as multiples of the section spacing: 0 ('take') to 3 x spacing.
COARSE_STEP, MAX_WIDTH = 0.2, 3.0
FINE_STEPS = 5                  # the coarse cell around each family's best is re-sampled this finely
MAX_LAGS = 16                   # section lags of the variograms (the lag window's length)
LOWEST_FREQUENCY = 0.1          # cycles per section; the band compared runs from here to 0.5
N_FREQUENCIES = 17
TAKE_OFFSETS = 4                # sampling phases of the lateral lines (more data from one blur)


@dataclass(frozen=True)
class Sampling:
    """The stack to explain: ``stack`` (sections, u, v), ``valid`` sections, the section
    ``spacing`` and the in-plane spacings ``(du, dv)``, all in the volume's unit."""

    stack: np.ndarray
    valid: np.ndarray
    spacing: float
    lateral: tuple[float, float]


@dataclass(frozen=True)
class Strides:
    """How the lines are thinned to keep the work per candidate bounded: ``axial[a - 1]`` and
    ``lateral[a - 1]`` subsample the in-plane axis other than ``a`` (1 = u, 2 = v) on the data
    side (all sections) and on the model side (the chosen lateral planes)."""

    axial: tuple[slice, slice]
    lateral: tuple[slice, slice]


@dataclass(frozen=True)
class Fit:
    """One candidate profile: ``shape`` ('gaussian' FWHM or 'box' slab), ``width`` in the
    volume's unit (0 = no blur, 'take'), ``misfit`` (mean squared log-spectral residual once the
    two spectra's mean log ratio is removed) and ``power_ratio`` (that mean ratio, axial over
    lateral; 1 for isotropic tissue)."""

    shape: str
    width: float
    misfit: float
    power_ratio: float


def blur(data: np.ndarray, axis: int, shape: str, width: float, spacing: float) -> np.ndarray:
    """Apply a slice profile along ``axis`` with the functions the training recipes use
    (:func:`isovox.degrade.functional.gaussian_profile` and ``box_profile``); width 0 copies."""
    if width <= 0:
        return np.asarray(data, dtype=np.float32)
    if shape == "gaussian":
        return F.gaussian_profile(data, axis, width, spacing)
    return F.box_profile(data, axis, width, spacing)


def variogram(lines: np.ndarray, lags: int, valid: np.ndarray | None = None) -> np.ndarray:
    """``gamma[m - 1] = mean((x[k + m] - x[k])^2) / 2`` along axis 0 for ``m = 1 .. lags``,
    over the pairs whose two samples are ``valid`` (all of them when ``valid`` is None).

    One vectorised pass per lag (numpy's pairwise float32 sums are accurate enough; a Gram
    matrix would need BLAS, whose threads stall on a busy machine for matrices this small).
    """
    flat = np.ascontiguousarray(lines.reshape(len(lines), -1))
    valid = np.ones(len(lines), bool) if valid is None else np.asarray(valid, bool)
    gamma = np.empty(lags)
    for lag in range(1, lags + 1):
        per_pair = np.square(flat[lag:] - flat[:-lag]).sum(axis=1)
        both_valid = valid[lag:] & valid[:-lag]
        gamma[lag - 1] = 0.5 * np.mean(per_pair[both_valid], dtype=np.float64) / flat.shape[1]
    return gamma


def difference_spectrum(gamma: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Power spectrum of the section-to-section differences, from the variogram.

    The differences ``x[k + 1] - x[k]`` have autocovariance ``2 gamma(1)`` at lag 0 and
    ``gamma(m + 1) - 2 gamma(m) + gamma(m - 1)`` at lag ``m``; their spectrum
    (``4 sin^2(pi f)`` times the signal's) is estimated with a Parzen lag window
    (Blackman-Tukey). ``frequencies`` in cycles per sample.
    """
    padded = np.concatenate([[0.0], gamma])
    count = len(gamma)
    covariance = np.empty(count)
    covariance[0] = 2.0 * padded[1]
    covariance[1:] = padded[2:] - 2.0 * padded[1:-1] + padded[:-2]
    u = np.arange(count) / count
    window = np.where(u <= 0.5, 1 - 6 * u**2 + 6 * u**3, 2 * (1 - u) ** 3)
    lags = np.arange(1, count)
    cosines = np.cos(2 * np.pi * np.outer(frequencies, lags))
    return covariance[0] + 2.0 * cosines @ (window[1:] * covariance[1:])


def _across(axis: int, keep: slice) -> tuple[slice, slice, slice]:
    """Index of a (n, u, v) array that subsamples the in-plane axis other than ``axis``."""
    return (slice(None), slice(None), keep) if axis == 1 else (slice(None), keep, slice(None))


def axial_variogram(sampling: Sampling, shape: str, width: float, lags: int,
                    strides: Sequence[slice]) -> np.ndarray:
    """Variogram along the sections after blurring *in plane* with the candidate profile.

    The lateral lines of the model were blurred across their direction by the true profile (a
    section is a slab); blurring the axial lines across theirs by the candidate makes the two
    sides symmetric, so they agree exactly for isotropic tissue when the candidate is the truth.
    Averaged over the two in-plane axes; ``strides[a - 1]`` subsamples the other in-plane axis.
    """
    gammas = []
    for axis in (1, 2):
        data = sampling.stack[_across(axis, strides[axis - 1])]
        blurred = blur(data, axis, shape, width, sampling.lateral[axis - 1])
        gammas.append(variogram(blurred, lags, sampling.valid))
    return np.mean(gammas, axis=0)


def lateral_variogram(planes: np.ndarray, sampling: Sampling, shape: str, width: float,
                      lags: int, strides: Sequence[slice]) -> np.ndarray:
    """Variogram of lateral lines blurred along their direction with the candidate profile and
    sampled at the section spacing (``take_slices``, several phases), along both in-plane axes
    (``strides[a - 1]`` subsamples the lines of axis ``a``)."""
    gammas = []
    for axis in (1, 2):
        fine = sampling.lateral[axis - 1]
        step = sampling.spacing / fine
        blurred = blur(planes[_across(axis, strides[axis - 1])], axis, shape, width, fine)
        offsets = np.unique(np.floor(np.linspace(0, step, TAKE_OFFSETS, endpoint=False)))
        for offset in offsets:
            sampled = np.moveaxis(F.take_slices(blurred, axis, step, float(offset)), axis, 0)
            gammas.append(variogram(sampled, lags))
    return np.mean(gammas, axis=0)


def candidate_fit(sampling: Sampling, planes: np.ndarray, strides: Strides, lags: int,
                  shape: str, width: float) -> Fit:
    """Compare the two sides' difference spectra on a log scale; only their shape counts (their
    mean log ratio is removed), so a global contrast difference between the axes does not."""
    frequencies = np.linspace(LOWEST_FREQUENCY, 0.5, N_FREQUENCIES)
    axial_gamma = axial_variogram(sampling, shape, width, lags, strides.axial)
    model_gamma = lateral_variogram(planes, sampling, shape, width, lags, strides.lateral)
    axial = difference_spectrum(axial_gamma, frequencies)
    model = difference_spectrum(model_gamma, frequencies)
    if np.any(axial <= 0) or np.any(model <= 0):
        return Fit(shape, float(width), math.inf, math.nan)
    residual = np.log(axial) - np.log(model)
    offset = float(np.mean(residual))
    return Fit(shape, float(width), float(np.mean((residual - offset) ** 2)), math.exp(offset))


def family_widths(shape: str, sampling: Sampling) -> np.ndarray:
    """Coarse widths of one family: 0 to ``MAX_WIDTH`` spacings every ``COARSE_STEP``. A box
    at most one lateral pixel wide is a single tap ('take'), so the box family starts at one
    pixel (its 'take') and goes on above it."""
    step = COARSE_STEP * sampling.spacing
    coarse = np.arange(0.0, MAX_WIDTH * sampling.spacing + step / 2, step)
    if shape == "gaussian":
        return coarse
    pixel = min(sampling.lateral)
    return np.concatenate([[pixel], coarse[coarse > pixel]])


def search(sampling: Sampling, planes: np.ndarray, strides: Strides, lags: int) -> list[Fit]:
    """Every candidate tried, sorted by shape and width: each family's coarse grid, then a fine
    grid over the two coarse cells around the family's best."""
    fits: list[Fit] = []
    for shape in SHAPES:
        widths = family_widths(shape, sampling)
        family = [candidate_fit(sampling, planes, strides, lags, shape, w) for w in widths]
        best = int(np.argmin([f.misfit for f in family]))
        low, high = widths[max(best - 1, 0)], widths[min(best + 1, len(widths) - 1)]
        fine = np.linspace(low, high, 2 * FINE_STEPS + 1)
        fine = fine[~np.isin(np.round(fine, 9), np.round(widths, 9))]
        family += [candidate_fit(sampling, planes, strides, lags, shape, w) for w in fine]
        fits += sorted(family, key=lambda f: f.width)
    return fits


def plausible_widths(fits: list[Fit], shape: str, tolerance: float) -> tuple[float, float]:
    """Smallest and largest width of the family whose misfit is within ``1 + tolerance`` times
    the family's best: a flat misfit curve (an unidentifiable width) gives a wide range."""
    family = [f for f in fits if f.shape == shape]
    bound = (1 + tolerance) * min(f.misfit for f in family)
    widths = [f.width for f in family if f.misfit <= bound]
    return min(widths), max(widths)


def best_width(fits: list[Fit], shape: str) -> Fit:
    """The best fit of one family, its width refined by a parabola through it and its two
    neighbours on the width grid (kept inside them)."""
    family = sorted((f for f in fits if f.shape == shape), key=lambda f: f.width)
    index = int(np.argmin([f.misfit for f in family]))
    best = family[index]
    around = family[index - 1:index + 2]
    if len(around) == 3 and all(math.isfinite(f.misfit) for f in around):
        widths = [f.width for f in around]
        curvature, slope, _ = np.polyfit(widths, [f.misfit for f in around], 2)
        if curvature > 0:
            vertex = float(np.clip(-slope / (2 * curvature), widths[0], widths[2]))
            return Fit(shape, vertex, best.misfit, best.power_ratio)
    return best
