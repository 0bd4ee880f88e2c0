"""The output's misfit to the acquired sections, spread over the output grid: the second term of
the uncertainty (:mod:`.ensemble`).

Sectioned again the way the stack was acquired (the slice profile and section spacing the model
card records), a faithful reconstruction gives back the acquired sections
(:mod:`isovox.assess.consistency` scores that for a whole volume). Where it does not, the output
is wrong there, whatever the network's mirrored variants agree on: the re-acquired difference is
the error of the output seen through the acquisition (the error blurred by the profile and
sampled at the sections, plus the acquisition's noise). It needs only the input and the card,
no ground truth.

Definition. For every acquired section ``k`` and lateral position, the squared residual
``r_k^2 = (A(output)_k - acquired_k)^2``, where ``A`` is the card's acquisition
(:func:`isovox.degrade.recipe_ops`: the recipe, its thickness, the factor) applied to the network
output before the acquired slices are put back. Between two sections, the output voxel gets the
linear interpolation of the two squared residuals along the low-resolution axis (on the grid
convention of :mod:`isovox.volume`: section ``k`` at output index ``k * factor``): a variance in
the network's normalised unit, added to the TTA variance. Squared residuals rather than signed
ones: a voxel midway between a section the output overshoots and one it undershoots is not
certain.

Reach. The term at an output voxel reads the output within the profile's radius of its two
neighbouring sections, so a block computed alone needs that much more halo along the
low-resolution axis (:func:`misfit_reach`, added by :meth:`.slicewise.SliceModel.reach`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..degrade.functional import FWHM_PER_SIGMA
from ..errors import IsovoxError
from ..resample import resample
from ..volume import Volume
from .grid import Grid

#: output voxels a fractional section position reads on each side (Keys cubic in take_slices)
_FRACTIONAL_TAPS = 2
#: scipy's gaussian_filter1d kernel radius, in sigmas (its default ``truncate``)
_GAUSSIAN_TRUNCATE = 4.0


def card_profile(card: Any, unit: str) -> dict | None:
    """``{'recipe', 'thickness'}`` (thickness in ``unit``) of the acquisition ``card`` records,
    or None when it records none isovox can apply (no degradation, or one that is no slice
    profile, e.g. 'kspace'): the uncertainty is then the TTA spread alone."""
    from ..assess.consistency import card_acquisition

    try:
        return card_acquisition(card.degradation or {}, card.unit, unit)
    except IsovoxError:           # its only refusal: the card's recipe is no slice profile
        return None


def misfit_reach(grid: Grid, profile: dict) -> int:
    """Output voxels along the low-resolution axis the misfit of one output voxel depends on
    beyond the voxel itself: the section spacing (its two neighbouring sections) plus the
    profile's radius around a section (an upper bound, rounded up)."""
    spacing = grid.target[grid.axis]
    thickness = profile["thickness"]
    width = grid.factor * spacing if thickness is None else thickness       # the recipes' default
    radius = {"take": 0.0,
              "gaussian": _GAUSSIAN_TRUNCATE * width / FWHM_PER_SIGMA / spacing,
              "box": width / spacing / 2,
              "cubic": 2 * grid.factor}[profile["recipe"]]
    return math.ceil(grid.factor) + math.ceil(radius) + 1 + _FRACTIONAL_TAPS


def misfit_variance(output: np.ndarray, acquired: np.ndarray, grid: Grid, profile: dict, unit: str) -> np.ndarray:
    """The squared residual of ``output`` (float32, on ``grid``'s target) re-acquired with
    ``profile`` against ``acquired`` (the sections, same intensity scale), spread linearly
    between the sections onto the output grid (see the module docstring). Float32, output size."""
    from ..degrade import recipe_ops

    ops = recipe_ops(profile["recipe"], grid.axis, grid.factor, grid.target, profile["thickness"])
    again = np.moveaxis(ops.apply(Volume(output, grid.target, unit)).numpy(), grid.axis, 0)
    measured = np.moveaxis(acquired, grid.axis, 0)
    n = min(len(again), len(measured))
    squared = np.empty(measured.shape, np.float32)
    np.subtract(again[:n], measured[:n], out=squared[:n])
    squared[n:] = squared[n - 1]     # a section the output's grid ends before: its last neighbour's
    np.square(squared, out=squared)
    squared = np.moveaxis(squared, 0, grid.axis)
    return resample(Volume(squared, grid.spacing, unit), grid.target, "linear", dtype=np.float32).data
