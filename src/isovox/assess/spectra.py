"""Directional power spectra: how much signal a volume holds at each frequency along each axis.

For axis ``a`` the spectrum is the power of 1D Fourier transforms of lines along ``a``, averaged
over many such lines. Each line has its mean removed and is multiplied by a Hann window (a line
is not periodic, and the jump between its ends would otherwise leak low-frequency power into
every bin). The power is normalised *per voxel*: ``|FFT|^2 / sum(window^2)``, so white noise of
variance ``s^2`` gives a flat spectrum of level ``s^2`` along every axis, whatever the spacing.
One noise level therefore applies to all three axes, which is what :mod:`.resolution` needs.
Frequencies are physical, in cycles per ``unit`` (``numpy.fft.rfftfreq(n, spacing)``); the zero
frequency (removed by the mean) is left out.

Reading: the lines come from whole planes, so a lazy volume (memory map, Zarr, Dask) is read
plane by plane and only as many planes as a voxel budget allows: xy planes (fixed z, evenly
spaced) give the lines along y and along x, xz planes (fixed y) the lines along z. A 250^3
volume is read in full at the default budget; a 125 x 1250 x 1250 stack reads a few planes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft

from ..errors import IsovoxError
from ..volume import AXIS_NAMES, Volume, check_finite

# Voxels read per plane family (xy planes for the y and x spectra, xz planes for z): 4 Mi voxels
# averages thousands of lines, so each frequency bin is known to about 1 %, in well under a second.
DEFAULT_VOXEL_BUDGET = 1 << 22
# Fewer samples than this along an axis give too few frequency bins to read a cut-off from.
MIN_AXIS_LENGTH = 8


@dataclass(frozen=True, eq=False)
class DirectionalSpectrum:
    """Per-voxel power of lines along one axis: ``power[i]`` at ``frequency[i]`` cycles/unit."""

    axis: int
    spacing: float
    frequency: np.ndarray
    power: np.ndarray
    n_lines: int

    @property
    def name(self) -> str:
        return AXIS_NAMES[self.axis]

    @property
    def nyquist(self) -> float:
        """Highest frequency the sampling can hold along this axis: 1 / (2 spacing)."""
        return 0.5 / self.spacing

    @property
    def density(self) -> np.ndarray:
        """Power per unit of physical frequency (``power * spacing``): for a specimen that is
        the same in every direction, the axes' densities agree at equal physical frequency."""
        return self.power * self.spacing


def directional_spectra(volume: Volume, voxel_budget: int = DEFAULT_VOXEL_BUDGET
                        ) -> tuple[DirectionalSpectrum, DirectionalSpectrum, DirectionalSpectrum]:
    """The z, y and x spectra of ``volume`` (see the module docstring)."""
    short = [AXIS_NAMES[a] for a, n in enumerate(volume.shape) if n < MIN_AXIS_LENGTH]
    if short:
        raise IsovoxError(f"volume {volume.shape} is too small to assess: axis {', '.join(short)} has "
                          f"fewer than {MIN_AXIS_LENGTH} samples")
    xy_planes = _planes(volume.data, stacked_along=0, voxel_budget=voxel_budget)  # (z', y, x)
    xz_planes = _planes(volume.data, stacked_along=1, voxel_budget=voxel_budget)  # (y', z, x)
    return (_spectrum(xz_planes, 1, 0, volume.spacing[0]),
            _spectrum(xy_planes, 1, 1, volume.spacing[1]),
            _spectrum(xy_planes, 2, 2, volume.spacing[2]))


def _planes(data: Any, stacked_along: int, voxel_budget: int) -> np.ndarray:
    """Evenly spaced whole planes across ``stacked_along``, as float32 with that axis first.

    One plane at a time is read from a lazy array; an in-memory array is indexed in one go.
    """
    shape = data.shape
    plane_voxels = int(np.prod(shape)) // shape[stacked_along]
    count = int(np.clip(voxel_budget // max(plane_voxels, 1), 1, shape[stacked_along]))
    indices = np.unique(np.linspace(0, shape[stacked_along] - 1, count).round().astype(int))
    if isinstance(data, np.ndarray) and not isinstance(data, np.memmap):
        block = np.take(data, indices, axis=stacked_along)
    else:
        take = [slice(None)] * 3
        planes = []
        for index in indices:
            take[stacked_along] = int(index)
            planes.append(np.asarray(data[tuple(take)]))
        block = np.stack(planes, axis=stacked_along)
    block = np.moveaxis(block, stacked_along, 0).astype(np.float32)
    check_finite(block)
    return block


def _spectrum(planes: np.ndarray, line_axis: int, axis: int, spacing: float) -> DirectionalSpectrum:
    """Average windowed power of the lines of ``planes`` along ``line_axis``."""
    lines = np.moveaxis(planes, line_axis, -1).reshape(-1, planes.shape[line_axis])
    lines = lines - lines.mean(axis=1, keepdims=True)
    window = np.hanning(lines.shape[1] + 2)[1:-1].astype(np.float32)  # no zero end weights
    transform = fft.rfft(lines * window, axis=1, workers=-1)
    power = (transform.real.astype(np.float64) ** 2 + transform.imag.astype(np.float64) ** 2)
    power = power.mean(axis=0) / float(np.sum(window.astype(np.float64) ** 2))
    frequency = fft.rfftfreq(lines.shape[1], d=spacing)
    return DirectionalSpectrum(axis=axis, spacing=float(spacing), frequency=frequency[1:],
                               power=power[1:], n_lines=int(lines.shape[0]))
