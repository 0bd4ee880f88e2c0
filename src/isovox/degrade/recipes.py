"""Named acquisition recipes: how a low-resolution volume is made from an isotropic one.

Each recipe is a :class:`~isovox.degrade.ops.Compose` along one ``axis`` with a float ``factor``
(>= 1, never rounded). Slice ``k`` of the result sits at input index ``offset + k * factor``.

- ``take``: keep every factor-th slice (ideal thin sections; the A2I-3DEM synthetic set,
  paper 001 section III.A, down-samples 15 nm to 45 nm this way).
- ``gaussian``: Gaussian slice profile with FWHM = ``thickness`` (default: the new spacing,
  ``spacing * factor``), then take (paper 001 section II.A, "anisotropic under-sampling").
- ``box``: average over a section ``thickness`` thick (default: the new spacing), then take:
  physical thick sections. A thickness below the new spacing leaves gaps between sections, one
  above it makes them overlap.
- ``cubic``: anti-aliased Keys cubic down-sampling (the usual 'bicubic' degradation).
- ``kspace``: k-space truncation by ``factor`` along ``axis``, grid unchanged (MRI, paper 004
  section 3.4, which truncates 2 x 2 in the two phase-encoding axes; here one axis, the
  through-plane one; compose two :class:`~isovox.degrade.ops.KSpaceTruncate` axes for the paper's
  exact setting).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..errors import IsovoxError
from ..volume import axis_index
from . import ops as O

RECIPES = ("take", "gaussian", "box", "cubic", "kspace")
# Recipes whose slice profile has a thickness; the others refuse one rather than ignore it.
_WITH_THICKNESS = ("gaussian", "box")


def check_recipe(name: str) -> str:
    if name not in RECIPES:
        raise IsovoxError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return name


def check_factor(factor: float) -> float:
    """A finite float >= 1 (an IsovoxError otherwise)."""
    try:
        value = float(factor)
    except (TypeError, ValueError):
        raise IsovoxError(f"factor must be a number >= 1, got {factor!r}") from None
    if not math.isfinite(value) or value < 1:
        raise IsovoxError(f"factor must be a finite number >= 1, got {factor!r}")
    return value


def _axis_spacing(spacing: float | Sequence[float], axis: int) -> float:
    values = np.ravel(np.asarray(spacing, dtype=float))
    value = float(values[0] if values.size == 1 else values[axis])
    if not (math.isfinite(value) and value > 0):
        raise IsovoxError(f"spacing must be positive, got {spacing!r}")
    return value


def recipe_ops(name: str, axis: int | str, factor: float, spacing: float | Sequence[float],
               thickness: float | None = None, offset: float = 0.0) -> O.Compose:
    """The ops of recipe ``name``.

    ``spacing`` is the input voxel size along ``axis`` (or the (z, y, x) triple); ``thickness``
    is in the same unit and only for 'gaussian' and 'box'; ``offset`` (input voxels) is the
    position of the first low-res slice, and must be 0 for 'kspace', which keeps the grid.
    """
    check_recipe(name)
    axis = axis_index(axis)
    factor = check_factor(factor)
    step = _axis_spacing(spacing, axis)
    if thickness is not None and name not in _WITH_THICKNESS:
        raise IsovoxError(f"recipe {name!r} has no slice thickness; use 'gaussian' or 'box' for one")
    width = step * factor if thickness is None else float(thickness)
    if name == "take":
        return O.Compose((O.TakeSlices(axis, factor, offset),))
    if name == "gaussian":
        return O.Compose((O.GaussianProfile(axis, width), O.TakeSlices(axis, factor, offset)))
    if name == "box":
        return O.Compose((O.BoxProfile(axis, width), O.TakeSlices(axis, factor, offset)))
    if name == "cubic":
        return O.Compose((O.CubicDownsample(axis, factor, offset),))
    if offset != 0:
        raise IsovoxError("recipe 'kspace' keeps the grid; offset must be 0")
    return O.Compose((O.KSpaceTruncate((axis,), (factor,)),))
