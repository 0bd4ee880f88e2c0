"""Resolution per axis and an isotropy score, read from the volume's own power spectra.

Method: spectral signal-to-noise along each axis
------------------------------------------------
Noise that is independent from voxel to voxel (detector, shot noise) has a flat per-voxel power
spectrum of the same level ``N`` along every axis (:mod:`.spectra`). Signal power falls with
frequency, because the optics, the section thickness, the slice profile or an interpolation blur
it. The resolution along an axis is taken where the signal stops standing out of the noise:
the first frequency ``f_c`` at which the directional spectrum falls to ``2 N`` (spectral
SNR = 1, signal power equal to noise power), reported as the period ``1 / f_c`` in the volume's
unit. If the spectrum is still above ``2 N`` at the axis' Nyquist frequency, the axis is
*sampling-limited* and its resolution is the finest period its grid can hold, ``2 x spacing``:
25 sections at 40 nm never report better than 80 nm, whatever the lateral detail.

The noise level ``N`` is the median spectrum over the top ``TAIL_FRACTION`` of the frequencies
of the best-sampled axes (finest spacing), taking the highest of those axes' levels. Why these
choices:

- the finest-sampled axes are the ones whose highest frequencies lie beyond the optics' cut-off
  (EM and MRI sample laterally finer than they resolve), so their tails hold noise, not signal;
  a coarsely sampled axis (the sections) still carries signal at its Nyquist frequency;
- the highest tail, because an axis whose tail sits lower than another's at the same sampling
  has had its noise filtered (interpolated along z, low-pass filtered along a scan line): its
  voxels are no longer independent, and its tail is not the noise of the acquisition.

Why this and not Fourier ring correlation between odd and even voxels: in an interpolated volume
(cubic z on a fine grid) neighbouring voxels are computed from the same sections, so the two
"independent" halves are not independent and their correlation measures the interpolation, not
the data. A power spectrum has no such blind spot: beyond the sections' Nyquist frequency it
holds only the interpolation kernel's attenuated images of the acquired band, which sink below
the noise within a fraction of that band. The z resolution of a cubic output therefore stays
coarse although its voxels are small: about 1.4 x the section spacing (0.7 x the input's sampling
limit) on synthetic volumes, 58 nm for FlyEM sections 40 nm apart (lateral 44 nm).

For Gaussian blur of ``sigma`` voxels the criterion is exact and explains the numbers: with
signal power ``S0 exp(-(2 pi sigma f)^2)`` and noise ``N``, ``f_c = sqrt(ln(S0 / N)) /
(2 pi sigma)``, inversely proportional to the blur and only weakly (square root of a logarithm)
dependent on the signal-to-noise ratio. Specimens with power-law spectra (EM, MRI) depend on it
more: doubling the noise power of the FlyEM sample coarsens every axis by 15-30 %, while the
isotropy score (a ratio) moves by 0.01. Compare absolute resolutions between volumes of similar
noise; the isotropy score is the robust number.

The isotropy score is ``lateral / axial``: the axial resolution is that of the coarsest axis
(or the axis given), the lateral one the mean of the other two. 1 is isotropic; a volume whose z
resolution is ten times coarser than its lateral one scores 0.1.

Limits: when even the finest-sampled axes carry signal up to their Nyquist frequency (no noise
tail: a noise-free rendering, a volume binned down to its resolution), ``N`` is overestimated and
every resolution comes out coarser than it is, never finer. Noise that is not white (correlated
between neighbouring voxels) is seen as signal along the axes it is correlated on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import IsovoxError
from ..volume import AXIS_NAMES, axis_index
from .spectra import DirectionalSpectrum

# Spectral SNR at the cut-off: signal power equal to noise power, i.e. spectrum = 2 x noise.
SNR_AT_CUTOFF = 1.0
# The top fraction of an axis' frequencies read as its noise tail.
TAIL_FRACTION = 0.2
# Axes whose spacing is within this relative tolerance of the finest count as "finest sampled".
SPACING_RTOL = 0.01


@dataclass(frozen=True)
class NoiseFloor:
    """White-noise power per voxel and the axis whose spectral tail it was read from."""

    level: float
    axis: int

    @property
    def threshold(self) -> float:
        """Spectrum level at the cut-off: noise plus signal of ``SNR_AT_CUTOFF`` times the noise."""
        return (1.0 + SNR_AT_CUTOFF) * self.level


@dataclass(frozen=True)
class AxisResolution:
    """Resolution along one axis, in the volume's unit (see the module docstring)."""

    axis: int
    spacing: float
    cutoff_frequency: float | None   # cycles per unit; None when no frequency beats the noise
    resolution: float | None         # 1 / cutoff_frequency; None when no frequency beats the noise
    limited_by: str                  # 'sampling' (reached Nyquist), 'blur or noise', 'noise'

    @property
    def name(self) -> str:
        return AXIS_NAMES[self.axis]

    @property
    def sampling_limit(self) -> float:
        """The finest resolution the grid can hold along this axis: 2 x spacing."""
        return 2.0 * self.spacing


def noise_floor(spectra: Sequence[DirectionalSpectrum]) -> NoiseFloor:
    """The white-noise level: the highest spectral tail among the finest-sampled axes."""
    finest = min(s.spacing for s in spectra)
    candidates = [s for s in spectra if s.spacing <= finest * (1 + SPACING_RTOL)]
    tails = {s.axis: _tail_level(s) for s in candidates}
    axis = max(tails, key=tails.get)
    level = tails[axis]
    if not level > 0:
        raise IsovoxError("the volume has no high-frequency content at all (constant or "
                          "quantised to a few values); its resolution cannot be estimated")
    return NoiseFloor(level=float(level), axis=int(axis))


def _tail_level(spectrum: DirectionalSpectrum) -> float:
    count = max(2, int(math.ceil(TAIL_FRACTION * len(spectrum.power))))
    return float(np.median(spectrum.power[-count:]))


def axis_resolution(spectrum: DirectionalSpectrum, floor: NoiseFloor) -> AxisResolution:
    """Cut-off of one axis: the first frequency where its spectrum falls to the threshold.

    Between the last bin above and the first bin below the threshold the crossing is
    interpolated linearly in log power (spectra fall roughly exponentially there).
    """
    power, frequency = spectrum.power, spectrum.frequency
    below = np.flatnonzero(power < floor.threshold)
    if below.size == 0:
        cutoff, limit = spectrum.nyquist, "sampling"
    elif below[0] == 0:
        return AxisResolution(spectrum.axis, spectrum.spacing, None, None, "noise")
    else:
        k = int(below[0])
        cutoff = _log_crossing(frequency[k - 1], frequency[k], power[k - 1], power[k], floor.threshold)
        limit = "blur or noise"
    return AxisResolution(spectrum.axis, spectrum.spacing, float(cutoff), float(1.0 / cutoff), limit)


def _log_crossing(f0: float, f1: float, p0: float, p1: float, level: float) -> float:
    """Frequency between ``f0`` and ``f1`` where log power, linear in between, equals ``level``."""
    if p1 <= 0:
        return f0
    fraction = (math.log(p0) - math.log(level)) / (math.log(p0) - math.log(p1))
    return f0 + float(np.clip(fraction, 0.0, 1.0)) * (f1 - f0)


@dataclass(frozen=True)
class Isotropy:
    """``score = lateral / axial`` resolution; 1 = isotropic, smaller = coarser along ``axial_axis``."""

    axial_axis: int
    axial_resolution: float | None
    lateral_resolution: float | None
    score: float | None


def isotropy(resolutions: Sequence[AxisResolution], axis: int | str | None = None) -> Isotropy:
    """Isotropy of three axis resolutions; ``axis``: the axial axis (default: the coarsest)."""
    values = [r.resolution if r.resolution is not None else math.inf for r in resolutions]
    axial = int(np.argmax(values)) if axis is None else axis_index(axis)
    lateral_values = [values[a] for a in range(3) if a != axial]
    lateral = float(np.mean(lateral_values))
    score = lateral / values[axial] if math.isfinite(lateral) and math.isfinite(values[axial]) else None
    return Isotropy(axial_axis=axial, axial_resolution=_finite_or_none(values[axial]),
                    lateral_resolution=_finite_or_none(lateral), score=score)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
