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
import math
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from ..errors import IsovoxError
from ..resample import cast_to_dtype
from ..volume import Volume, axis_index
from . import functional as F

OPS: dict[str, type["Op"]] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator: make an op rebuildable from ``{"op": name, ...}``."""
    def decorate(cls: type) -> type:
        cls.name = name
        OPS[name] = cls
        return cls
    return decorate


def _jsonable(value: Any) -> Any:
    if isinstance(value, Op):
        return value.to_dict()
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _floats(values: Any) -> tuple:
    """Nested sequences as nested tuples of floats (hashable, equal after a JSON round trip)."""
    if np.ndim(values) == 0:
        return float(values)  # type: ignore[return-value]
    return tuple(_floats(v) for v in values)


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in np.ravel(values))


class Op:
    """Base class: subclasses are frozen dataclasses that implement :meth:`apply`."""

    name: ClassVar[str] = "op"

    def apply(self, volume: Volume) -> Volume:
        """The degraded volume with float32 data (no cast back)."""
        raise NotImplementedError

    def __call__(self, volume: Volume) -> Volume:
        result = self.apply(volume)
        return result.replace(data=cast_to_dtype(result.data, volume.dtype))

    def to_dict(self) -> dict:
        params = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {"op": self.name, **params}

    def _set(self, **values: Any) -> None:
        for key, value in values.items():   # normalise fields of a frozen dataclass
            object.__setattr__(self, key, value)


def op_from_dict(spec: dict) -> Op:
    """Rebuild an op from :meth:`Op.to_dict` output (also after a JSON round trip)."""
    if not isinstance(spec, dict) or "op" not in spec:
        raise IsovoxError(f"an op description must be a dict with an 'op' key, got {spec!r}")
    params = dict(spec)
    name = params.pop("op")
    if name not in OPS:
        raise IsovoxError(f"unknown degradation op {name!r}; known ops: {', '.join(sorted(OPS))}")
    try:
        return OPS[name](**params)
    except TypeError as exc:
        raise IsovoxError(f"bad parameters for op {name!r}: {exc}") from None


def _data(volume: Volume) -> np.ndarray:
    return volume.numpy()


def _positive(value: float, what: str, allow_zero: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise IsovoxError(f"{what} must be {'>= 0' if allow_zero else 'positive'}, got {value}")
    return value


# --- slice profile -------------------------------------------------------------------------------

@register("gaussian_profile")
@dataclasses.dataclass(frozen=True)
class GaussianProfile(Op):
    """Gaussian slice profile along ``axis``; ``fwhm`` in the volume's unit."""

    axis: int
    fwhm: float

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), fwhm=_positive(self.fwhm, "fwhm", allow_zero=True))

    def apply(self, volume: Volume) -> Volume:
        data = F.gaussian_profile(_data(volume), self.axis, self.fwhm, volume.spacing[self.axis])
        return volume.replace(data=data)


@register("box_profile")
@dataclasses.dataclass(frozen=True)
class BoxProfile(Op):
    """Thick-section average along ``axis``; ``thickness`` in the volume's unit."""

    axis: int
    thickness: float

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), thickness=_positive(self.thickness, "thickness"))

    def apply(self, volume: Volume) -> Volume:
        data = F.box_profile(_data(volume), self.axis, self.thickness, volume.spacing[self.axis])
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
        self._set(axis=axis_index(self.axis), step=_positive(self.step, "step"),
                  offset=_positive(self.offset, "offset", allow_zero=True))

    def apply(self, volume: Volume) -> Volume:
        data = F.take_slices(_data(volume), self.axis, self.step, self.offset)
        return _on_axis_grid(volume, data, self.axis, self.step, self.offset)


@register("cubic_downsample")
@dataclasses.dataclass(frozen=True)
class CubicDownsample(Op):
    """Anti-aliased cubic down-sampling by ``factor`` along ``axis``, first sample at ``offset``."""

    axis: int
    factor: float
    offset: float = 0.0

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), factor=_positive(self.factor, "factor"),
                  offset=_positive(self.offset, "offset", allow_zero=True))

    def apply(self, volume: Volume) -> Volume:
        data = F.cubic_downsample(_data(volume), self.axis, self.factor, self.offset)
        return _on_axis_grid(volume, data, self.axis, self.factor, self.offset)


@register("kspace_truncate")
@dataclasses.dataclass(frozen=True)
class KSpaceTruncate(Op):
    """k-space truncation by ``factors`` along ``axes``, grid unchanged (paper 004, section 3.4)."""

    axes: tuple[int, ...]
    factors: tuple[float, ...]

    def __post_init__(self) -> None:
        self._set(axes=tuple(axis_index(a) for a in np.ravel(self.axes)), factors=_floats(np.ravel(self.factors)))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.kspace_truncate(_data(volume), self.axes, self.factors))


# --- noise (an explicit seed makes every op deterministic) ---------------------------------------

@register("gaussian_noise")
@dataclasses.dataclass(frozen=True)
class GaussianNoise(Op):
    """White Gaussian noise, ``sigma`` a fraction of the data range, drawn from ``seed``."""

    sigma: float
    seed: int

    def __post_init__(self) -> None:
        self._set(sigma=_positive(self.sigma, "sigma", allow_zero=True), seed=int(self.seed))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.gaussian_noise(_data(volume), self.sigma, self.seed))


@register("poisson_noise")
@dataclasses.dataclass(frozen=True)
class PoissonNoise(Op):
    """Shot noise with ``photons`` counts at the data's maximum, drawn from ``seed``."""

    photons: float
    seed: int

    def __post_init__(self) -> None:
        self._set(photons=_positive(self.photons, "photons"), seed=int(self.seed))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.poisson_noise(_data(volume), self.photons, self.seed))


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
        self._set(axis=axis_index(self.axis), indices=_ints(self.indices))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.drop_sections(_data(volume), self.axis, self.indices, self.fill))


@register("darken_sections")
@dataclasses.dataclass(frozen=True)
class DarkenSections(Op):
    """Sections ``indices`` along ``axis`` multiplied by ``gains`` (one per index)."""

    axis: int
    indices: tuple[int, ...]
    gains: tuple[float, ...]

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), indices=_ints(self.indices), gains=_floats(np.ravel(self.gains)))
        if len(self.gains) not in (1, len(self.indices)):
            raise IsovoxError(f"darken_sections needs one gain per index, got {len(self.gains)} for {len(self.indices)}")

    def apply(self, volume: Volume) -> Volume:
        gains = self.gains if len(self.gains) == len(self.indices) else self.gains[0]
        return volume.replace(data=F.darken_sections(_data(volume), self.axis, self.indices, gains))


@register("shift_sections")
@dataclasses.dataclass(frozen=True)
class ShiftSections(Op):
    """In-plane subpixel translation ``shifts[i] = (d1, d2)`` voxels of section ``indices[i]``."""

    axis: int
    indices: tuple[int, ...]
    shifts: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        shifts = _floats(np.reshape(np.asarray(self.shifts, dtype=float), (-1, 2)))
        self._set(axis=axis_index(self.axis), indices=_ints(self.indices), shifts=shifts)
        if len(self.shifts) != len(self.indices):
            raise IsovoxError(f"shift_sections needs one (d1, d2) per index, got {len(self.shifts)} for {len(self.indices)}")

    def apply(self, volume: Volume) -> Volume:
        data = F.shift_sections(_data(volume), self.axis, self.shifts or np.zeros((0, 2)), self.indices)
        return volume.replace(data=data)


@register("flicker_sections")
@dataclasses.dataclass(frozen=True)
class FlickerSections(Op):
    """Per-section ``gain * value + bias * range`` along ``axis`` (one gain, bias per section)."""

    axis: int
    gains: tuple[float, ...]
    biases: tuple[float, ...]

    def __post_init__(self) -> None:
        self._set(axis=axis_index(self.axis), gains=_floats(np.ravel(self.gains)),
                  biases=_floats(np.ravel(self.biases)))

    def apply(self, volume: Volume) -> Volume:
        return volume.replace(data=F.flicker_sections(_data(volume), self.axis, self.gains, self.biases))


# --- composition ------------------------------------------------------------------------------------

@register("compose")
@dataclasses.dataclass(frozen=True)
class Compose(Op):
    """Ops applied in order on float32 data, with one cast back to the input dtype at the end."""

    ops: tuple[Op, ...] = ()

    def __post_init__(self) -> None:
        ops = tuple(op_from_dict(op) if isinstance(op, dict) else op for op in self.ops)
        bad = [op for op in ops if not isinstance(op, Op)]
        if bad:
            raise IsovoxError(f"Compose takes ops, got {bad[0]!r}")
        self._set(ops=ops)

    def apply(self, volume: Volume) -> Volume:
        result = volume
        for op in self.ops:
            result = op.apply(result)
        if result is volume:   # no ops: still honour the float32 contract of apply
            result = volume.replace(data=np.asarray(volume.numpy(), dtype=np.float32))
        return result

    def to_dict(self) -> dict:
        return {"op": self.name, "ops": [op.to_dict() for op in self.ops]}

    @classmethod
    def from_dict(cls, spec: dict | Sequence[dict]) -> "Compose":
        """From :meth:`to_dict` output, or from a plain list of op dicts (a record)."""
        if isinstance(spec, dict):
            op = op_from_dict(spec)
            return op if isinstance(op, Compose) else cls((op,))
        return cls(tuple(op_from_dict(d) for d in spec))

    def flat(self) -> list[Op]:
        """The ops with nested Compose expanded, in application order."""
        result: list[Op] = []
        for op in self.ops:
            result.extend(op.flat() if isinstance(op, Compose) else [op])
        return result
