"""`Volume`: a 3D array in ZYX order that always carries its physical grid.

A Volume holds
- ``data``: numpy in memory, or a dask / zarr array for data read lazily;
- ``spacing``: (z, y, x) voxel size in ``unit`` (canonical spelling, see :mod:`isovox.units`);
- ``origin``: world position of the centre of voxel (0, 0, 0);
- ``direction``: 3x3 matrix whose column *a* is the world direction of array axis *a*
  (identity unless the file said otherwise, e.g. a NIfTI affine);
- ``meta``: format extras a writer may want back (NIfTI header, OME axis names, source path).

``affine`` maps array indices ``(z, y, x, 1)`` to world coordinates; it is derived from the three
fields above, so spacing has one source of truth.

Grid convention (used by every resampling in isovox)
-----------------------------------------------------
Voxel values are samples at voxel centres. Resampling an axis by ``factor = spacing_in /
spacing_out`` keeps the first sample where it was: input index ``k`` lands on output index
``k * factor``, and the output holds every output position inside the span of the input samples,
``n_out = floor((n_in - 1) * factor) + 1``. The world position of output voxel 0 equals that of
input voxel 0, so origins never move and nothing is extrapolated. With an integer factor every
acquired slice is an output slice (index ``k * factor``); with a non-integer one (6.5) the even
slices are (``k * 6.5`` integer for even k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from .errors import IsovoxError
from .units import canonical_unit, conversion_factor

AXIS_NAMES = ("z", "y", "x")
# Plane families by the axis they are stacked along: an 'xz' plane is a slice at fixed y.
PLANE_AXES = {"xy": 0, "xz": 1, "yz": 2}
# A float factor closer than this to an integer n is treated as n when counting output samples,
# so that 50 / 12.5 or 0.3 / 0.1 do not lose their last slice to rounding noise.
_FACTOR_EPS = 1e-6
# The one rule for "equal" spacings and factors: relative difference below SPACING_RTOL. Formats
# that store spacing in float32 (NIfTI, MRC) round it by up to 6e-8 relative (0.04 reads back as
# 0.03999999910593033), so the ratio of two stored spacings is off by up to ~1.2e-7; 1e-6 leaves a
# margin and is still far below any spacing difference a user means.
SPACING_RTOL = 1e-6
# Factors are ratios of small integers in practice (4, 6.5, 12.5, 25/3); a derived factor within
# SPACING_RTOL of such a ratio is that ratio, exactly.
_FACTOR_MAX_DENOMINATOR = 1000


def _as_triple(values: Sequence[float] | float, what: str) -> tuple[float, float, float]:
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        array = np.repeat(array, 3)
    if array.shape != (3,):
        raise IsovoxError(f"{what} needs 3 values (z, y, x), got {list(np.ravel(array))}")
    if not np.all(np.isfinite(array)):
        raise IsovoxError(f"{what} must be finite, got {tuple(array.tolist())}")
    return tuple(float(v) for v in array)  # type: ignore[return-value]


def check_intensity_dtype(dtype: np.dtype) -> np.dtype:
    """Processing needs real intensities: bool, integers or floats. Complex data (which a Volume
    may hold, e.g. read from MRC and written back) would lose its imaginary part silently in
    every cast, so reconstruction, simulation and training refuse it with the fix."""
    if dtype.kind == "c":
        raise IsovoxError(f"complex-valued data ({dtype}); isovox reconstructs real intensities: save "
                          "the magnitude (abs) or the real part first")
    if dtype.kind not in "biuf":
        raise IsovoxError(f"data of type {dtype} is not an image; isovox needs integer or float voxels")
    return dtype


def output_dtype(dtype: Any, default: np.dtype) -> np.dtype:
    """The dtype a result is cast to: ``dtype`` (a name such as 'uint8' or 'float32') or ``default``."""
    if dtype is None:
        return np.dtype(default)
    try:
        chosen = np.dtype(dtype)
    except TypeError:
        raise IsovoxError(f"unknown dtype {dtype!r}; use e.g. uint8, uint16, int16, float32") from None
    return check_intensity_dtype(chosen)


def validate_spacing(spacing: Sequence[float]) -> tuple[float, float, float]:
    triple = _as_triple(spacing, "spacing")
    if min(triple) <= 0:
        raise IsovoxError(f"spacing must be positive in every axis, got {triple}")
    return triple


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D array (axes z, y, x) with its physical voxel grid. See the module docstring."""

    data: Any
    spacing: tuple[float, float, float]
    unit: str
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = tuple(getattr(self.data, "shape", ()))
        if len(shape) != 3:
            raise IsovoxError(describe_bad_dimensions(shape))
        if min(shape) < 1:
            raise IsovoxError(f"volume has an empty axis: shape {shape}")
        object.__setattr__(self, "spacing", validate_spacing(self.spacing))
        object.__setattr__(self, "unit", canonical_unit(self.unit))
        object.__setattr__(self, "origin", _as_triple(self.origin, "origin"))
        direction = np.asarray(self.direction, dtype=float)
        if direction.shape != (3, 3) or not np.allclose(np.linalg.norm(direction, axis=0), 1, atol=1e-4):
            raise IsovoxError("direction must be a 3x3 matrix of unit column vectors")
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "meta", dict(self.meta))

    # --- what it is -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.data.shape)  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    @property
    def is_lazy(self) -> bool:
        # A memory map reads from disk on access, so it counts as lazy too.
        return not isinstance(self.data, np.ndarray) or isinstance(self.data, np.memmap)

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping array indices (z, y, x, 1) to world coordinates."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        matrix[:3, 3] = self.origin
        return matrix

    @property
    def extent(self) -> tuple[float, float, float]:
        """Physical size covered by the voxel centres' span plus one voxel, per axis."""
        return tuple(n * s for n, s in zip(self.shape, self.spacing))  # type: ignore[return-value]

    def numpy(self) -> np.ndarray:
        """The data as an in-memory numpy array (reads a lazy volume)."""
        return np.asarray(self.data)

    def describe(self) -> str:
        spacing = " x ".join(f"{s:g}" for s in self.spacing)
        shape = " x ".join(str(n) for n in self.shape)
        kind = "lazy" if self.is_lazy else "in memory"
        return f"{shape} voxels (z, y, x), {self.dtype}, spacing {spacing} {self.unit}, {kind}"

    def __repr__(self) -> str:
        return f"Volume({self.describe()})"

    # --- new volumes on the same or a new grid ------------------------------------------------
    def replace(self, **changes: Any) -> "Volume":
        fields = dict(data=self.data, spacing=self.spacing, unit=self.unit, origin=self.origin,
                      direction=self.direction, meta=self.meta)
        fields.update(changes)
        return Volume(**fields)

    def on_new_grid(self, data: Any, scale: Sequence[float] = (1, 1, 1),
                    shift: Sequence[float] = (0, 0, 0)) -> "Volume":
        """A volume whose index ``n`` sits at old index ``scale * n + shift`` (per axis).

        This is the one place where spacing and origin change; every resampling and crop goes
        through it, so geometry is never recomputed by hand elsewhere.
        """
        scale_arr = np.asarray(scale, dtype=float)
        shift_arr = np.asarray(shift, dtype=float)
        spacing = np.asarray(self.spacing) * scale_arr
        origin = np.asarray(self.origin) + self.direction @ (np.asarray(self.spacing) * shift_arr)
        return self.replace(data=data, spacing=tuple(spacing), origin=tuple(origin))

    def crop(self, start: Sequence[int], stop: Sequence[int]) -> "Volume":
        """Sub-volume ``[start, stop)`` per axis, with its origin moved to match."""
        slices = tuple(slice(int(a), int(b)) for a, b in zip(start, stop))
        return self.on_new_grid(self.data[slices], shift=[s.start for s in slices])

    def in_unit(self, unit: str) -> "Volume":
        """The same volume with spacing and origin expressed in another length unit."""
        factor = conversion_factor(self.unit, unit)
        return self.replace(spacing=tuple(s * factor for s in self.spacing),
                            origin=tuple(o * factor for o in self.origin), unit=canonical_unit(unit))


def describe_bad_dimensions(shape: tuple[int, ...]) -> str:
    if len(shape) == 2:
        return f"got a 2D image of shape {shape}; isovox needs a 3D volume (z, y, x)"
    if len(shape) == 4:
        return (f"got a 4D array of shape {shape}; choose one channel (--channel N, or channel= in "
                "the API) to make it 3D")
    return f"got an array with {len(shape)} dimensions (shape {shape}); isovox needs a 3D volume"


def check_finite(data: np.ndarray, what: str = "volume") -> None:
    """Raise a clear error if a float array holds NaN or Inf (integer arrays cannot)."""
    if np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.complexfloating):
        finite = np.isfinite(data)
        if not finite.all():
            bad = int(data.size - np.count_nonzero(finite))
            raise IsovoxError(f"{what} holds {bad} NaN or Inf value(s); replace them before processing")


# --- which axis, which factor, which grid --------------------------------------------------------

def lowres_axis(spacing: Sequence[float], rtol: float = 1e-3) -> int:
    """Index of the one axis whose spacing is coarser than the others.

    Raises if the volume is isotropic (nothing to reconstruct) or if two axes share the coarsest
    spacing (ambiguous: pass the axis explicitly).
    """
    values = np.asarray(validate_spacing(spacing))
    finest, coarsest = values.min(), values.max()
    if coarsest <= finest * (1 + rtol):
        raise IsovoxError(f"volume is already isotropic (spacing {tuple(values.tolist())}); "
                          "nothing to reconstruct")
    candidates = np.flatnonzero(values >= coarsest / (1 + rtol))
    if len(candidates) > 1:
        names = ", ".join(AXIS_NAMES[a] for a in candidates)
        raise IsovoxError(f"axes {names} share the coarsest spacing {coarsest:g}; "
                          "say which one is low-resolution (axis=)")
    return int(candidates[0])


def lateral_spacing(spacing: Sequence[float], axis: int) -> float:
    """The finest spacing of the two axes other than ``axis``: the default target along ``axis``
    (one place for what reconstruction, training pairs and ``isovox info`` call the factor)."""
    return float(min(s for a, s in enumerate(spacing) if a != axis))


def axis_index(axis: int | str) -> int:
    """Accept 0/1/2 or 'z'/'y'/'x'."""
    if isinstance(axis, str):
        if axis.lower() not in AXIS_NAMES:
            raise IsovoxError(f"axis must be one of z, y, x (or 0, 1, 2), got {axis!r}")
        return AXIS_NAMES.index(axis.lower())
    if int(axis) not in (0, 1, 2):
        raise IsovoxError(f"axis must be 0, 1 or 2 (z, y, x), got {axis}")
    return int(axis)


def planes_containing(axis: int) -> tuple[str, ...]:
    """Plane families that contain ``axis`` (the axial planes when ``axis`` is low-resolution)."""
    return tuple(name for name, stacked in PLANE_AXES.items() if stacked != axis)


def same_spacing(first: float, second: float) -> bool:
    """Whether two spacings (or factors) are equal under :data:`SPACING_RTOL` (float32 metadata)."""
    return math.isclose(float(first), float(second), rel_tol=SPACING_RTOL, abs_tol=0.0)


def resampling_factor(spacing_in: float, spacing_out: float) -> float:
    """``spacing_in / spacing_out`` as a float. Above 1 means more samples.

    Never rounded to a user-visible degree: only a ratio within :data:`SPACING_RTOL` of a ratio of
    small integers snaps to it, so spacings that agree to float32 precision (0.03999999910593033 um
    from a NIfTI header against 0.01 um) give the same factor (4, not 3.9999999) and the same grid.
    """
    if not (spacing_in > 0 and spacing_out > 0) or not math.isfinite(spacing_in / spacing_out):
        raise IsovoxError(f"spacings must be positive and finite, got {spacing_in} and {spacing_out}")
    return snap_factor(float(spacing_in) / float(spacing_out))


def snap_factor(factor: float) -> float:
    """``factor``, or the ratio of small integers it equals within :data:`SPACING_RTOL`."""
    nearest = Fraction(factor).limit_denominator(_FACTOR_MAX_DENOMINATOR)
    return float(nearest) if same_spacing(float(nearest), factor) else float(factor)


def output_length(n_in: int, factor: float) -> int:
    """Number of output samples on the grid convention of this module."""
    if factor <= 0:
        raise IsovoxError(f"factor must be positive, got {factor}")
    return int(math.floor((n_in - 1) * factor + _FACTOR_EPS)) + 1


def input_positions(n_in: int, factor: float) -> np.ndarray:
    """Input index (float) of every output sample: output ``j`` sits at input ``j / factor``."""
    return np.arange(output_length(n_in, factor), dtype=float) / factor


def as_volume(data: Any, spacing: Sequence[float] | None = None, unit: str = "nm", **kwargs: Any) -> Volume:
    """Wrap an array (or return a Volume unchanged). Spacing is required for a bare array."""
    if isinstance(data, Volume):
        return data
    if spacing is None:
        raise IsovoxError("a bare array has no spacing; give spacing=(z, y, x)")
    return Volume(data=data, spacing=tuple(spacing), unit=unit, **kwargs)  # type: ignore[arg-type]
