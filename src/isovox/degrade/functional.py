"""Pure numpy degradations, one axis at a time, with parameters in physical units.

Every function takes an ndarray, leaves it untouched and returns a new **float32** array; casting
back to the caller's dtype (rounding and clipping integers) is done once, at the end of a
composition, by :mod:`isovox.degrade.ops`, so that a chain such as blur -> take -> noise on uint8
data is rounded a single time.

What is simulated, and where it comes from
------------------------------------------
- Slice profile and anisotropic under-sampling (A2I-3DEM, paper 001, section II.A: "noise,
  artifacts, distortions, and anisotropic under-sampling resolution with ratio 1/rho"): a
  Gaussian point-spread (``gaussian_profile``) or a thick-section average (``box_profile``) along
  the section axis, followed by ``take_slices``; or anti-aliased cubic down-sampling
  (``cubic_downsample``, the 'bicubic' baseline of the papers).
- MRI low resolution (mDCSRN, paper 004, section 3.4): ``kspace_truncate``.
- Noise and EM section artifacts (paper 001, section II.A, which names them without a model; the
  models below are our choice and are written down in each docstring).

Sample positions follow the grid convention of :mod:`isovox.volume`: slice ``k`` is taken at input
index ``offset + k * step``, for every ``k`` whose position lies inside ``[0, n - 1]``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import scipy.fft
import scipy.ndimage as ndi

from ..errors import IsovoxError
from ..resample import apply_along_axis, resampling_matrix

# Positions closer than this to an integer (or to n - 1) count as that integer: 0.1 * 65 / 10 must
# not lose a slice, nor fall back to interpolation, because of float rounding.
_POSITION_EPS = 1e-6
# Ratio between a Gaussian's full width at half maximum and its standard deviation.
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def _float32(array: np.ndarray) -> np.ndarray:
    return np.array(array, dtype=np.float32, copy=True)


def _check_axis(array: np.ndarray, axis: int) -> int:
    if not -array.ndim <= axis < array.ndim:
        raise IsovoxError(f"axis {axis} is out of range for an array with {array.ndim} dimensions")
    return axis % array.ndim


def _data_range(array: np.ndarray) -> float:
    """max - min of the data, or 1 for constant data (so relative amplitudes stay defined)."""
    span = float(np.max(array)) - float(np.min(array))
    return span if span > 0 else 1.0


# --- slice profile (point-spread along the section axis) ----------------------------------------

def gaussian_profile(array: np.ndarray, axis: int, fwhm: float, spacing: float) -> np.ndarray:
    """Blur along ``axis`` with a Gaussian of full width at half maximum ``fwhm``.

    ``fwhm`` and ``spacing`` are in the same physical unit; the voxel sigma is
    ``fwhm / (2 sqrt(2 ln 2)) / spacing``. Borders are mirrored about the edge sample
    (``c b | a b c``), as in :func:`isovox.indexing.mirror_index`. ``fwhm = 0`` copies.
    """
    axis = _check_axis(array, axis)
    if fwhm < 0 or spacing <= 0:
        raise IsovoxError(f"fwhm must be >= 0 and spacing > 0, got fwhm {fwhm}, spacing {spacing}")
    _check_profile_width(array, axis, fwhm, spacing, "fwhm")
    data = _float32(array)
    if fwhm == 0:
        return data
    sigma = fwhm / FWHM_PER_SIGMA / spacing
    return ndi.gaussian_filter1d(data, sigma, axis=axis, mode="mirror").astype(np.float32, copy=False)


def _check_profile_width(array: np.ndarray, axis: int, width: float, spacing: float, name: str) -> None:
    """A slice profile wider than twice the axis means nothing physical, and its kernel would take
    minutes and gigabytes to build (a 1e9 nm FWHM): refuse it with the axis' extent."""
    extent = array.shape[axis] * spacing
    if width > 2 * extent:
        raise IsovoxError(f"{name} {width:g} is more than twice the volume's extent along this axis "
                          f"({extent:g}, same unit); a slice profile must be thinner than the volume")


def box_weights(width: float) -> np.ndarray:
    """Taps of a centred box ``width`` voxels wide: tap ``j`` is the overlap of voxel ``j``
    (``[j - 1/2, j + 1/2]``) with ``[-width/2, width/2]``, divided by ``width``.

    A fractional width gives the two end taps fractional weights; the taps always sum to 1.
    """
    if width <= 0:
        raise IsovoxError(f"box width must be positive, got {width}")
    half = width / 2.0
    radius = max(0, math.ceil(half - 0.5 - _POSITION_EPS))
    taps = np.arange(-radius, radius + 1, dtype=float)
    overlap = np.minimum(taps + 0.5, half) - np.maximum(taps - 0.5, -half)
    weights = np.clip(overlap, 0.0, None)
    return weights / weights.sum()


def box_profile(array: np.ndarray, axis: int, thickness: float, spacing: float) -> np.ndarray:
    """Average over a centred slab ``thickness`` thick along ``axis`` (a thick physical section).

    ``thickness`` and ``spacing`` share a unit. Mass is conserved (weights sum to 1); borders are
    mirrored like :func:`gaussian_profile`.
    """
    axis = _check_axis(array, axis)
    if thickness <= 0 or spacing <= 0:
        raise IsovoxError(f"thickness and spacing must be positive, got {thickness} and {spacing}")
    _check_profile_width(array, axis, thickness, spacing, "thickness")
    weights = box_weights(thickness / spacing)
    return ndi.correlate1d(_float32(array), weights, axis=axis, mode="mirror").astype(np.float32, copy=False)


# --- under-sampling ------------------------------------------------------------------------------

def slice_positions(n: int, step: float, offset: float = 0.0) -> np.ndarray:
    """Input indices ``offset + k * step`` for ``k = 0, 1, ...`` while the position is <= n - 1."""
    if not (math.isfinite(step) and step > 0):
        raise IsovoxError(f"step must be a positive number, got {step}")
    if not (math.isfinite(offset) and 0 <= offset <= n - 1 + _POSITION_EPS):
        raise IsovoxError(f"offset must lie in [0, {n - 1}] (the axis has {n} samples), got {offset}")
    count = int(math.floor((n - 1 - offset) / step + _POSITION_EPS)) + 1
    positions = offset + np.arange(count, dtype=float) * step
    return np.minimum(positions, n - 1)


def take_slices(array: np.ndarray, axis: int, step: float, offset: float = 0.0) -> np.ndarray:
    """Sample ``array`` along ``axis`` at ``offset + k * step`` (see :func:`slice_positions`).

    Integer positions are copied exactly; fractional ones (odd ``k`` with step 6.5) are
    interpolated with the Keys cubic kernel, without anti-aliasing: the slice profile, if any, is a
    separate op (:func:`gaussian_profile`, :func:`box_profile`), as in a physical acquisition.
    """
    axis = _check_axis(array, axis)
    positions = slice_positions(array.shape[axis], step, offset)
    rounded = np.rint(positions)
    exact = np.abs(positions - rounded) < _POSITION_EPS
    moved = np.moveaxis(np.asarray(array), axis, 0)
    result = np.empty((len(positions),) + moved.shape[1:], dtype=np.float32)
    result[exact] = moved[rounded[exact].astype(np.int64)]
    if not exact.all():
        matrix = resampling_matrix(moved.shape[0], positions[~exact], "cubic", antialias=False)
        result[~exact] = apply_along_axis(moved, matrix, 0, np.float32)
    return np.moveaxis(result, 0, axis)


def cubic_downsample(array: np.ndarray, axis: int, factor: float, offset: float = 0.0) -> np.ndarray:
    """Anti-aliased Keys cubic down-sampling along ``axis`` at ``offset + k * factor``.

    The cubic kernel is stretched by ``factor`` (MATLAB ``imresize``'s anti-aliasing), the usual
    'bicubic' degradation of super-resolution papers.
    """
    axis = _check_axis(array, axis)
    if not (math.isfinite(factor) and factor >= 1):
        raise IsovoxError(f"down-sampling factor must be >= 1, got {factor}")
    positions = slice_positions(array.shape[axis], factor, offset)
    # One extra position past the end makes the matrix see the step even when a single slice is
    # taken (its kernel stretch is read off the position spacing); that row is dropped.
    padded = np.append(positions, positions[-1] + factor)
    matrix = resampling_matrix(array.shape[axis], padded, "cubic", antialias=True)[: len(positions)]
    return apply_along_axis(array, matrix, axis, np.float32)


def kspace_truncate(array: np.ndarray, axes: Sequence[int], factors: Sequence[float]) -> np.ndarray:
    """MRI low resolution by k-space truncation (mDCSRN, paper 004, section 3.4).

    FFT over ``axes``, keep the central ``1 / factor`` of the frequencies of each axis, zero the
    rest, inverse FFT, real part. The matrix size is unchanged: zero-filling k-space *is* the
    interpolation back to the original grid, so the paper's final "linearly interpolate to the
    original image size" step is not needed.

    Choice (the paper does not say how the band edge is rounded): a frequency ``f`` (cycles per
    sample) is kept when ``|f| < 0.5 / factor``, strictly, so the kept band is symmetric (the
    output stays real) and holds nothing at or above the Nyquist frequency of the coarse grid. With
    ``n / factor`` even this keeps ``n / factor - 1`` bins. ``factor = 1`` keeps everything.
    """
    axes = [_check_axis(array, a) for a in axes]
    factors = [float(f) for f in factors]
    if len(axes) != len(factors) or len(set(axes)) != len(axes):
        raise IsovoxError(f"kspace_truncate needs one factor per distinct axis, got axes {axes}, factors {factors}")
    if any(not (math.isfinite(f) and f >= 1) for f in factors):
        raise IsovoxError(f"k-space truncation factors must be >= 1, got {factors}")
    spectrum = scipy.fft.fftn(_float32(array), axes=axes)
    for axis, factor in zip(axes, factors):
        if factor == 1:
            continue
        n = array.shape[axis]
        cycles = np.abs(scipy.fft.fftfreq(n, d=1.0 / n))           # integer bin index |k|
        keep = 2.0 * cycles * factor < n * (1 - _POSITION_EPS)       # |k| / n < 0.5 / factor
        shape = [1] * array.ndim
        shape[axis] = n
        spectrum *= keep.reshape(shape)
    return np.real(scipy.fft.ifftn(spectrum, axes=axes)).astype(np.float32)


# --- noise ---------------------------------------------------------------------------------------

def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def gaussian_noise(array: np.ndarray, sigma: float, rng: np.random.Generator | int | None) -> np.ndarray:
    """Add white Gaussian noise whose standard deviation is ``sigma`` times the data range.

    The range is ``max - min`` of ``array`` itself (1 for constant data), so the same ``sigma``
    means the same signal-to-noise ratio for uint8, uint16 or float data.
    """
    if not (math.isfinite(sigma) and sigma >= 0):
        raise IsovoxError(f"noise sigma must be >= 0, got {sigma}")
    data = _float32(array)
    if sigma == 0:
        return data
    scale = np.float32(sigma * _data_range(data))
    data += _generator(rng).standard_normal(data.shape, dtype=np.float32) * scale
    return data


def poisson_noise(array: np.ndarray, photons: float, rng: np.random.Generator | int | None) -> np.ndarray:
    """Shot noise: the data are taken as photon counts whose maximum is ``photons``.

    Values are mapped linearly so that ``min(0, data.min())`` is 0 counts and ``data.max()`` is
    ``photons`` counts, drawn from a Poisson law, and mapped back; fewer photons means more noise.
    """
    if not (math.isfinite(photons) and photons > 0):
        raise IsovoxError(f"photons must be a positive number, got {photons}")
    data = _float32(array)
    low, high = min(0.0, float(data.min())), float(data.max())
    if high <= low:
        return data
    scale = photons / (high - low)
    counts = _generator(rng).poisson((data - low) * scale)
    return (counts / scale + low).astype(np.float32)


# --- EM section artifacts (one value per section along the section axis) -------------------------

def _section_vector(n: int, indices: Sequence[int], values: Sequence[float] | float, default: float) -> np.ndarray:
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise IsovoxError(f"section indices must lie in [0, {n - 1}], got {indices.tolist()}")
    vector = np.full(n, default, dtype=np.float32)
    vector[indices] = values
    return vector


def _along(vector: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = -1
    return vector.reshape(shape)


def drop_sections(array: np.ndarray, axis: int, indices: Sequence[int], fill: str = "previous") -> np.ndarray:
    """Missing sections: ``fill='zero'`` blanks them, ``'previous'`` repeats the last section
    that is not missing (a run of leading missing sections repeats the first one kept)."""
    axis = _check_axis(array, axis)
    n = array.shape[axis]
    missing = _section_vector(n, indices, 1.0, 0.0).astype(bool)
    if fill == "zero":
        return _float32(array) * _along((~missing).astype(np.float32), array.ndim, axis)
    if fill != "previous":
        raise IsovoxError(f"fill must be 'zero' or 'previous', got {fill!r}")
    if missing.all():
        raise IsovoxError("every section is missing; nothing to copy from")
    source = np.maximum.accumulate(np.where(missing, -1, np.arange(n)))
    source[source < 0] = np.flatnonzero(~missing)[0]
    return np.take(array, source, axis=axis).astype(np.float32)


def darken_sections(array: np.ndarray, axis: int, indices: Sequence[int],
                    gains: Sequence[float] | float) -> np.ndarray:
    """Multiply the listed sections by ``gains`` (one per index, or one for all): a darker
    (gain < 1) or brighter section, e.g. a section imaged with a different dose."""
    axis = _check_axis(array, axis)
    vector = _section_vector(array.shape[axis], indices, gains, 1.0)
    return _float32(array) * _along(vector, array.ndim, axis)


def flicker_sections(array: np.ndarray, axis: int, gains: Sequence[float], biases: Sequence[float]) -> np.ndarray:
    """Per-section contrast change ``gain * value + bias * range`` (one gain and bias per section).

    ``biases`` are fractions of the data range (``max - min``), as for :func:`gaussian_noise`.
    """
    axis = _check_axis(array, axis)
    n = array.shape[axis]
    gains, biases = np.asarray(gains, np.float32), np.asarray(biases, np.float32)
    if gains.shape != (n,) or biases.shape != (n,):
        raise IsovoxError(f"flicker needs {n} gains and {n} biases, got {gains.size} and {biases.size}")
    data = _float32(array)
    offset = biases * np.float32(_data_range(data))
    return data * _along(gains, array.ndim, axis) + _along(offset, array.ndim, axis)


def shift_sections(array: np.ndarray, axis: int, shifts: Sequence[Sequence[float]],
                   indices: Sequence[int] | None = None) -> np.ndarray:
    """Translate sections in their plane by subpixel ``(d1, d2)`` voxels (section misalignment).

    ``(d1, d2)`` move the data along the two other axes in increasing order ((y, x) for sections
    along z). ``shifts`` has one pair per section, or one per entry of ``indices`` when given.
    Cubic-spline interpolation (scipy.ndimage.shift, order 3), borders reflected.
    """
    axis = _check_axis(array, axis)
    moved = np.moveaxis(_float32(array), axis, 0)
    n = moved.shape[0]
    indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
    shifts = np.asarray(shifts, dtype=float).reshape(-1, moved.ndim - 1)
    if len(shifts) != len(indices) or (indices.size and (indices.min() < 0 or indices.max() >= n)):
        raise IsovoxError(f"shift_sections needs one shift per section index in [0, {n - 1}]")
    for index, shift in zip(indices, shifts):   # one 2D interpolation per section
        if np.any(shift != 0):
            moved[index] = ndi.shift(moved[index], shift, order=3, mode="reflect")
    return np.moveaxis(moved, 0, axis)
