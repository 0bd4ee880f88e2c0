"""Same-grid checks shared by the image metrics and the segmentation scores.

A score is only meaningful when voxel ``(z, y, x)`` of the test volume sits where voxel
``(z, y, x)`` of the reference does, so every entry point checks the grid before computing.
A bare array carries no geometry: it is taken to lie on the other input's grid, and only its
shape is checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import IsovoxError
# Spacings are "equal" within SPACING_RTOL (the volume module's one rule), after conversion to
# the reference unit.
from ..volume import SPACING_RTOL, Volume
# Origins are "equal" when they differ by less than this fraction of a voxel on every axis.
ORIGIN_VOXEL_TOL = 0.01
_FIX = "evaluate needs the same grid; reconstruct to the reference's spacing or crop"


def shape_of(item: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in getattr(item, "shape", np.shape(item)))


def data_of(item: Any) -> Any:
    """The array behind a Volume (numpy or lazy), or the item itself."""
    if isinstance(item, Volume):
        return item.data
    return item if hasattr(item, "shape") else np.asarray(item)


def _fmt(values: Any) -> str:
    return "(" + ", ".join(f"{float(v):g}" for v in values) + ")"


def check_same_grid(reference: Any, other: Any, what: str = "test volume") -> None:
    """Raise IsovoxError unless ``other`` lies on the grid of ``reference``.

    Shapes must match. When both are Volumes, spacing must agree within ``SPACING_RTOL``
    (relative, after unit conversion), origin within ``ORIGIN_VOXEL_TOL`` of a voxel, and the
    axis directions within 1e-4.
    """
    ref_shape, other_shape = shape_of(reference), shape_of(other)
    if len(ref_shape) != 3:
        raise IsovoxError(f"reference must be a 3D volume (z, y, x), got shape {ref_shape}")
    if ref_shape != other_shape:
        raise IsovoxError(f"{what} shape {other_shape} differs from reference {ref_shape}: {_FIX}")
    if not (isinstance(reference, Volume) and isinstance(other, Volume)):
        return
    unit = reference.unit
    moved = other.in_unit(unit)
    ref_spacing, other_spacing = np.asarray(reference.spacing), np.asarray(moved.spacing)
    if not np.allclose(other_spacing, ref_spacing, rtol=SPACING_RTOL, atol=0):
        raise IsovoxError(f"{what} spacing {_fmt(other_spacing)} {unit} differs from reference "
                          f"{_fmt(ref_spacing)} {unit}: {_FIX}")
    offset = np.abs(np.asarray(moved.origin) - np.asarray(reference.origin))
    if np.any(offset > ORIGIN_VOXEL_TOL * ref_spacing):
        raise IsovoxError(f"{what} origin {_fmt(moved.origin)} {unit} differs from reference "
                          f"{_fmt(reference.origin)} {unit} by more than {ORIGIN_VOXEL_TOL:g} voxel: "
                          "crop both to the same region or fix the origin")
    if not np.allclose(moved.direction, reference.direction, atol=1e-4):
        raise IsovoxError(f"{what} axis directions differ from the reference's: reorient one of "
                          "them so the arrays are in the same order")
