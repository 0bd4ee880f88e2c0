"""Deterministic degradation ops over a :class:`~isovox.volume.Volume` (TorchIO's middle layer).

Each op is a frozen dataclass holding its parameters, in physical units where the functional
layer uses them (``fwhm``, ``thickness`` in the volume's unit; the voxel size is read from the
volume). ``op(volume)`` returns a new Volume; ``op.to_dict()`` gives ``{"op": name, **params}``
with JSON types only, and :func:`op_from_dict` rebuilds any registered op from such a dict.

Dtype policy (decided here): ``op.apply(volume)`` returns float32 data; ``op(volume)`` is
``apply`` followed by one cast back to the input dtype (integers rounded and clipped,
:func:`isovox.resample.cast_to_dtype`). :class:`Compose` chains ``apply`` and casts once at the
end, so a chain on uint8 data is rounded a single time.

Grid changes (:class:`TakeSlices`, :class:`CubicDownsample`) go through ``Volume.on_new_grid``
with ``scale = step`` and ``shift = offset`` along the axis: new slice ``k`` sits at old index
``offset + k * step``, so spacing becomes ``spacing * step`` and the origin moves by ``offset``
voxels.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import IsovoxError
from ..volume import Volume, axis_index
from . import functional as F
from .base import OPS, Compose, Op, as_floats, as_ints, check_positive, op_from_dict, register  # noqa: F401

# --- slice profile -------------------------------------------------------------------------------

@register("gaussian_profile")
@dataclasses.dataclass(frozen=True)
class GaussianProfile(Op):
    """Gaussian slice profile along ``axis``; ``fwhm`` in the volume's unit."""

    axis: int
    fwhm: float

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), fwhm=check_positive(self.fwhm, "fwhm", allow_zero=True))

    def apply(self, volume: Volume) -> Volume:
        data = F.gaussian_profile(volume.numpy(), self.axis, self.fwhm, volume.spacing[self.axis])
        return volume.replace(data=data)


@register("box_profile")
@dataclasses.dataclass(frozen=True)
class BoxProfile(Op):
    """Thick-section average along ``axis``; ``thickness`` in the volume's unit."""

    axis: int
    thickness: float

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), thickness=check_positive(self.thickness, "thickness"))

    def apply(self, volume: Volume) -> Volume:
        data = F.box_profile(volume.numpy(), self.axis, self.thickness, volume.spacing[self.axis])
        return volume.replace(data=data)


# --- grid changes ---------------------------------------------------------------------------------

def _on_axis_grid(volume: Volume, data: np.ndarray, axis: int, step: float, offset: float) -> Volume:
    scale, shift = [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]
    scale[axis], shift[axis] = step, offset
    return volume.on_new_grid(data, scale=scale, shift=shift)


@register("take_slices")
@dataclasses.dataclass(frozen=True)
class TakeSlices(Op):
    """Keep slices ``offset + k * step`` along ``axis`` (step and offset in input voxels)."""

    axis: int
    step: float
    offset: float = 0.0

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), step=check_positive(self.step, "step"),
                  offset=check_positive(self.offset, "offset", allow_zero=True))

    def apply(self, volume: Volume) -> Volume:
        data = F.take_slices(volume.numpy(), self.axis, self.step, self.offset)
        return _on_axis_grid(volume, data, self.axis, self.step, self.offset)


@register("cubic_downsample")
@dataclasses.dataclass(frozen=True)
class CubicDownsample(Op):
    """Anti-aliased cubic down-sampling by ``factor`` along ``axis``, first sample at ``offset``."""

    axis: int
    factor: float
    offset: float = 0.0

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), factor=check_positive(self.factor, "factor"),
                  offset=check_positive(self.offset, "offset", allow_zero=True))

    def apply(self, volume: Volume) -> Volume:
        data = F.cubic_downsample(volume.numpy(), self.axis, self.factor, self.offset)
        return _on_axis_grid(volume, data, self.axis, self.factor, self.offset)


@register("kspace_truncate")
@dataclasses.dataclass(frozen=True)
class KSpaceTruncate(Op):
    """k-space truncation by ``factors`` along ``axes``, grid unchanged (paper 004, section 3.4)."""

    axes: tuple[int, ...]
    factors: tuple[float, ...]

    def __post_init__(self) -> None:
        self._set(axes=tuple(axis_index(a) for a in np.ravel(self.axes)), factors=as_floats(np.ravel(self.factors)))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.kspace_truncate(volume.numpy(), self.axes, self.factors))


# --- noise (an explicit seed makes every op deterministic) ---------------------------------------

@register("gaussian_noise")
@dataclasses.dataclass(frozen=True)
class GaussianNoise(Op):
    """White Gaussian noise, ``sigma`` a fraction of the data range, drawn from ``seed``."""

    sigma: float
    seed: int

    def __post_init__(self) -> None:
        self._set(sigma=check_positive(self.sigma, "sigma", allow_zero=True), seed=int(self.seed))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.gaussian_noise(volume.numpy(), self.sigma, self.seed))


@register("poisson_noise")
@dataclasses.dataclass(frozen=True)
class PoissonNoise(Op):
    """Shot noise with ``photons`` counts at the data's maximum, drawn from ``seed``."""

    photons: float
    seed: int

    def __post_init__(self) -> None:
        self._set(photons=check_positive(self.photons, "photons"), seed=int(self.seed))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.poisson_noise(volume.numpy(), self.photons, self.seed))


# --- EM section artifacts --------------------------------------------------------------------------

@register("drop_sections")
@dataclasses.dataclass(frozen=True)
class DropSections(Op):
    """Missing sections along ``axis``, filled with zeros or the previous section."""

    axis: int
    indices: tuple[int, ...]
    fill: str = "previous"

    def __post_init__(self) -> None:
        if self.fill not in ("zero", "previous"):
            raise IsovoxError(f"fill must be 'zero' or 'previous', got {self.fill!r}")
        self._set(axis=axis_index(self.axis), indices=as_ints(self.indices))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.drop_sections(volume.numpy(), self.axis, self.indices, self.fill))


@register("darken_sections")
@dataclasses.dataclass(frozen=True)
class DarkenSections(Op):
    """Sections ``indices`` along ``axis`` multiplied by ``gains`` (one per index)."""

    axis: int
    indices: tuple[int, ...]
    gains: tuple[float, ...]

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), indices=as_ints(self.indices), gains=as_floats(np.ravel(self.gains)))
        if len(self.gains) not in (1, len(self.indices)):
            raise IsovoxError(f"darken_sections needs one gain per index, got {len(self.gains)} for {len(self.indices)}")

    def apply(self, volume: Volume) -> Volume:
        gains = self.gains if len(self.gains) == len(self.indices) else self.gains[0]
        return volume.replace(data=F.darken_sections(volume.numpy(), self.axis, self.indices, gains))


@register("shift_sections")
@dataclasses.dataclass(frozen=True)
class ShiftSections(Op):
    """In-plane subpixel translation ``shifts[i] = (d1, d2)`` voxels of section ``indices[i]``."""

    axis: int
    indices: tuple[int, ...]
    shifts: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        shifts = as_floats(np.reshape(np.asarray(self.shifts, dtype=float), (-1, 2)))
        self._set(axis=axis_index(self.axis), indices=as_ints(self.indices), shifts=shifts)
        if len(self.shifts) != len(self.indices):
            raise IsovoxError(f"shift_sections needs one (d1, d2) per index, got {len(self.shifts)} for {len(self.indices)}")

    def apply(self, volume: Volume) -> Volume:
        data = F.shift_sections(volume.numpy(), self.axis, self.shifts or np.zeros((0, 2)), self.indices)
        return volume.replace(data=data)


@register("flicker_sections")
@dataclasses.dataclass(frozen=True)
class FlickerSections(Op):
    """Per-section ``gain * value + bias * range`` along ``axis`` (one gain, bias per section)."""

    axis: int
    gains: tuple[float, ...]
    biases: tuple[float, ...]

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), gains=as_floats(np.ravel(self.gains)),
                  biases=as_floats(np.ravel(self.biases)))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.flicker_sections(volume.numpy(), self.axis, self.gains, self.biases))
