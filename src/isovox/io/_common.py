"""Rules shared by every format module: input checks, the spacing rules, axis handling.

Each reader turns its file into (array, axes letters, spacing-from-file, unit-from-file, origin,
direction) and hands them to :func:`make_volume`, so that the rules below are applied the same way
for every format:

- a ``spacing`` given by the user overrides the file's (or fills it in when the file has none);
  a ``unit`` given by the user overrides the file's unit *label* (no conversion: the numbers are
  taken to be in that unit; use :meth:`Volume.in_unit` to convert);
- with no spacing at all, or a zero / negative / non-finite one in the file and none given, the
  read fails with a one-line :class:`IsovoxError` that says to pass ``--spacing Z Y X``;
- singleton T / C / S axes are dropped; a remaining channel axis needs ``channel=N``;
- float data read into memory is checked for NaN / Inf.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import IsovoxError
from ..units import canonical_unit, is_known_unit
from ..volume import Volume, check_finite, describe_bad_dimensions, validate_spacing

SPATIAL = "ZYX"
# Axis letters that name a sequence of images; with no explicit Z axis, one of these is Z
# (tifffile calls the pages of a plain multi-page TIFF 'I' or 'Q').
_SEQUENCE_LIKE = "IQT"


def require_input(path: Path) -> Path:
    """The resolved path of an existing input, or a one-line error."""
    path = Path(path)
    if not path.exists():
        raise IsovoxError(f"file not found: {path}")
    return path.resolve()


def short_reason(exc: BaseException) -> str:
    """First line of an exception's message, short enough for a one-line error."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextlib.contextmanager
def library_errors(path: Path, fmt: str) -> Iterator[None]:
    """Turn any exception a format library raises into 'cannot read PATH as FMT: reason'.

    Our own IsovoxErrors pass through untouched, so checks made inside the block keep their
    messages.
    """
    try:
        yield
    except IsovoxError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - every library has its own exception zoo
        raise IsovoxError(f"cannot read {path} as {fmt}: {short_reason(exc)}") from exc


def known_unit_or_none(unit: Any) -> str | None:
    """Canonical spelling of a unit found in a file, or None if it is absent or not a length."""
    if unit is None:
        return None
    if isinstance(unit, bytes):
        unit = unit.decode("utf-8", "replace")
    unit = str(unit).strip()
    return canonical_unit(unit) if unit and is_known_unit(unit) else None


def resolve_spacing(path: Path, file_spacing: Sequence[float] | None, file_unit: str | None,
                    spacing: Sequence[float] | None, unit: str | None,
                    default_unit: str) -> tuple[tuple[float, float, float], str]:
    """Apply the spacing rules of this module; returns (spacing (z, y, x), canonical unit)."""
    if spacing is not None:
        chosen = validate_spacing(spacing)
    elif file_spacing is None:
        raise IsovoxError(f"no voxel spacing in {path}; give --spacing Z Y X")
    else:
        values = np.asarray(file_spacing, dtype=float)
        if values.shape != (3,) or not np.all(np.isfinite(values)) or np.any(values <= 0):
            shown = ", ".join(f"{v:g}" for v in values.ravel())
            raise IsovoxError(f"invalid voxel spacing ({shown}) in {path}; spacing must be "
                              "positive; give --spacing Z Y X")
        chosen = tuple(float(v) for v in values)  # type: ignore[assignment]
    return chosen, canonical_unit(unit or file_unit or default_unit)  # type: ignore[return-value]


def _drop_singletons(data: Any, axes: str) -> tuple[Any, str]:
    """Remove size-1 axes that are not spatial (T, C, S, ...): they carry no choice."""
    for index in reversed(range(len(axes))):
        if axes[index] not in SPATIAL and data.shape[index] == 1:
            data = data[(slice(None),) * index + (0,)]
            axes = axes[:index] + axes[index + 1:]
    return data, axes


def _name_z_axis(axes: str) -> str:
    """With no explicit Z, the one remaining sequence axis (I, Q, or T) is the Z axis."""
    if "Z" in axes:
        return axes
    candidates = [a for a in axes if a in _SEQUENCE_LIKE]
    if len(candidates) >= 1:
        return axes.replace(candidates[0], "Z", 1)
    return axes


def to_zyx(data: Any, axes: str, path: Path, channel: int | None) -> Any:
    """A 3D (z, y, x) view of ``data`` whose axes are named by the letters in ``axes``.

    Works on numpy, memmap, dask and zarr-like arrays (only indexing and transpose are used).
    """
    axes = axes.upper()
    if len(axes) != data.ndim:
        raise IsovoxError(f"cannot read {path}: axes {axes!r} do not match shape {tuple(data.shape)}")
    data, axes = _drop_singletons(data, axes)
    axes = _name_z_axis(axes)
    others = [i for i, a in enumerate(axes) if a not in SPATIAL]
    if not all(a in axes for a in SPATIAL):
        spatial_shape = tuple(data.shape[i] for i, a in enumerate(axes) if a in SPATIAL)
        raise IsovoxError(f"{path}: {describe_bad_dimensions(spatial_shape)}")
    if len(others) > 1:
        raise IsovoxError(f"{path}: {describe_bad_dimensions(tuple(data.shape))}")
    if others:
        data, axes = pick_channel(data, axes, others[0], path, channel)
    elif channel not in (None, 0):
        raise IsovoxError(f"channel {channel} out of range: {path} has a single channel")
    order = [axes.index(a) for a in SPATIAL]
    return data if order == [0, 1, 2] else data.transpose(order)


def guess_axes(shape: tuple[int, ...]) -> str:
    """Axis letters for an array with no axis names (plain HDF5 or Zarr).

    ZYX, with a 4th axis taken as channels first (c, z, y, x) unless the last axis is short and
    the first is not, as in ilastik's (z, y, x, c).
    """
    if len(shape) == 4:
        return "ZYXC" if shape[-1] <= 4 < shape[0] else "CZYX"
    return "ZYX"[-len(shape):] if len(shape) <= 3 else "C" * (len(shape) - 3) + "ZYX"


def pick_channel(data: Any, axes: str, axis: int, path: Path, channel: int | None) -> tuple[Any, str]:
    """Select ``channel`` along ``axis`` (a 4D array becomes 3D)."""
    count = int(data.shape[axis])
    if channel is None:
        raise IsovoxError(f"{path}: {describe_bad_dimensions(tuple(data.shape))} "
                          f"(it has {count} channels along axis {axes[axis]})")
    if not -count <= int(channel) < count:
        raise IsovoxError(f"channel {channel} out of range: {path} has {count} channels "
                          f"(0 to {count - 1})")
    index = (slice(None),) * axis + (int(channel),)
    return data[index], axes[:axis] + axes[axis + 1:]


def make_volume(data: Any, *, path: Path, fmt: str, lazy: bool,
                spacing: tuple[float, float, float], unit: str,
                origin: Sequence[float] = (0.0, 0.0, 0.0), direction: np.ndarray | None = None,
                meta: dict | None = None) -> Volume:
    """Build the Volume a reader returns; checks finiteness of data read into memory."""
    if not lazy:
        data = np.asarray(data)
        check_finite(data, what=str(path))
    full_meta = {"source": str(path), "format": fmt}
    full_meta.update(meta or {})
    return Volume(data=data, spacing=spacing, unit=unit, origin=tuple(origin),
                  direction=np.eye(3) if direction is None else direction, meta=full_meta)


# --- helpers for writers ---------------------------------------------------------------------------

def is_dask(data: Any) -> bool:
    return type(data).__module__.startswith("dask.")


def iter_slabs(data: Any, depth: int) -> Iterator[tuple[int, np.ndarray]]:
    """(start, numpy slab) along z, so writers never hold more than ``depth`` slices of lazy data."""
    for start in range(0, int(data.shape[0]), depth):
        yield start, np.asarray(data[start:start + depth])


def warn_dropped_direction(volume: Volume, fmt: str) -> None:
    """Formats without an orientation field lose a non-identity direction; say so."""
    if not np.allclose(volume.direction, np.eye(3), atol=1e-6):
        warnings.warn(f"{fmt} stores no axis orientation; the volume's direction matrix is not "
                      "saved (write NIfTI, HDF5 or Zarr to keep it)", UserWarning, stacklevel=3)


def optional_direction(values: Any) -> np.ndarray | None:
    """A direction matrix read from a file attribute, or None if absent or malformed."""
    if values is None:
        return None
    matrix = np.asarray(values, dtype=float)
    if matrix.shape != (3, 3):
        return None
    return matrix
