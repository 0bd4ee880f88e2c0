"""Simulate an anisotropic acquisition of an isotropic volume, with its aligned ground truth.

``simulate(volume, factor)`` degrades one axis with a named recipe
(:mod:`isovox.degrade.recipes`), optionally adds EM section artifacts and noise (A2I-3DEM,
paper 001 section II.A: "noise, artifacts, distortions, and anisotropic under-sampling"), and
returns the low-resolution volume, the matching ground truth and a record of every op with its
drawn parameters, from which :func:`isovox.degrade.replay` rebuilds the run exactly.

Alignment (the grid convention of :mod:`isovox.volume`): low-res slice ``k`` sits at input index
``offset + k * factor`` along ``axis``; the low-res spacing is ``spacing * factor`` (a float,
never rounded) and its origin is the input's moved by ``offset`` voxels. Reconstructing the
low-res volume back to the input spacing gives ``output_length(n_lowres, factor)`` slices whose
first one sits on low-res slice 0, so the ground truth is the input cropped to indices
``offset .. offset + output_length(n_lowres, factor) - 1``: same shape, same origin, scored
voxel for voxel. The 'kspace' recipe (MRI, paper 004 section 3.4) keeps the grid, so there the
low-res volume has the input's shape and the ground truth is the input.

Order of degradations: recipe (slice profile, sampling), then section artifacts on the acquired
sections, then noise (the detector's, last). The low-res dtype is the input's, cast once at the
end (integers rounded and clipped).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .degrade import ops as O
from .degrade.functional import slice_positions
from .degrade.random import RandomCompose, RandomGaussianNoise, RandomSectionArtifacts
from .degrade.recipes import check_factor, check_recipe, recipe_ops
from .errors import IsovoxError
from .volume import AXIS_NAMES, Volume, as_volume, axis_index, check_finite, check_intensity_dtype, output_length


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """``lowres``: the simulated acquisition; ``ground_truth``: the input on the grid a
    reconstruction of ``lowres`` covers; ``record``: the op dicts (JSON-serialisable) to replay it."""

    lowres: Volume
    ground_truth: Volume
    record: list[dict]


def simulate(volume: Volume, factor: float, axis: int | str = 0, recipe: str = "gaussian",
             thickness: float | None = None, offset: int = 0, noise: Any = None,
             artifacts: Any = None, seed: int | None = 0, gaps: float = 0.0) -> SimulationResult:
    """Degrade ``volume`` along ``axis`` by ``factor`` (float >= 1) with ``recipe``.

    - ``thickness``: slice thickness in the volume's unit for 'gaussian' (FWHM) and 'box'
      (default: the new spacing); may differ from it (gaps or overlaps).
    - ``offset``: input index of the first low-res slice, a whole number (the ground truth is a
      crop, not an interpolation); 0 for 'kspace'.
    - ``noise``: None; a number (Gaussian sigma as a fraction of the data range); an op, an op
      dict, or a random wrapper (e.g. ``RandomPoissonNoise((50, 500))``); or a list of them.
    - ``artifacts``: None; True (``RandomSectionArtifacts`` defaults along ``axis``); a dict of
      ``RandomSectionArtifacts`` arguments; an op, op dict or random wrapper; or a list of them.
    - ``seed``: seeds every random draw; the same seed gives the same result.
    - ``gaps``: fraction of the acquired sections lost (set to 0, after the noise: a lost section
      has no image), drawn at random among all but the first and last; their indices are in the
      record's ``drop_sections`` op, to give as ``bad_sections`` or to check detection against.
    """
    volume = as_volume(volume)
    check_intensity_dtype(volume.dtype)
    axis = axis_index(axis)
    factor = check_factor(factor)
    check_recipe(recipe)
    offset = _whole_offset(offset, volume.shape[axis])
    _check_slice_count(volume, axis, factor, offset)
    data = volume.numpy()
    check_finite(data)
    recipe_steps = recipe_ops(recipe, axis, factor, volume.spacing, thickness, offset)
    transforms = [*recipe_steps.ops, *_artifact_transforms(artifacts, axis), *_noise_transforms(noise),
                  *_gap_transforms(gaps, axis, len(slice_positions(volume.shape[axis], factor, offset)), seed)]
    lowres, record = RandomCompose(transforms)(volume.replace(data=data), seed)
    if recipe == "kspace":
        return SimulationResult(lowres, volume, record)
    return SimulationResult(lowres, _ground_truth(volume, axis, factor, offset, lowres.shape[axis]), record)


def _gap_transforms(gaps: float, axis: int, n_sections: int, seed: int | None) -> list[Any]:
    if not (np.isfinite(gaps) and 0 <= gaps < 1):
        raise IsovoxError(f"gaps must be a fraction in [0, 1), got {gaps!r}")
    count = int(round(gaps * n_sections))
    if count == 0:
        return []
    if count > n_sections - 2:
        raise IsovoxError(f"gaps {gaps} would remove {count} of {n_sections} sections; keep at least the first and last")
    rng = np.random.default_rng([0 if seed is None else int(seed), 0x6A95])
    lost = np.sort(rng.choice(np.arange(1, n_sections - 1), count, replace=False))
    return [O.DropSections(axis, tuple(int(k) for k in lost), "zero")]


def _whole_offset(offset: Any, n: int) -> int:
    value = float(offset)
    if not np.isfinite(value) or value != round(value) or not 0 <= value <= n - 1:
        raise IsovoxError(f"offset must be a whole number of voxels in [0, {n - 1}], got {offset!r}")
    return int(round(value))


def _check_slice_count(volume: Volume, axis: int, factor: float, offset: int) -> None:
    n = volume.shape[axis]
    count = len(slice_positions(n, factor, offset))
    if count < 2:
        raise IsovoxError(f"factor {factor:g} on {n} slices along {AXIS_NAMES[axis]} (offset {offset}) "
                          f"leaves {count} low-resolution slice; need at least 2 (lower the factor)")


def _ground_truth(volume: Volume, axis: int, factor: float, offset: int, n_lowres: int) -> Volume:
    """The input cropped to the grid a reconstruction of the low-res volume covers (a view)."""
    start, stop = [0, 0, 0], list(volume.shape)
    start[axis] = offset
    stop[axis] = offset + output_length(n_lowres, factor)
    return volume.crop(start, stop)


def _as_transforms(spec: Any, make_default: Any) -> list[Any]:
    """Normalise a noise/artifact argument to a list of ops and random wrappers."""
    if spec is None or spec is False:
        return []
    if isinstance(spec, (list, tuple)):
        return [t for item in spec for t in _as_transforms(item, make_default)]
    if isinstance(spec, dict) and "op" in spec:
        return [O.op_from_dict(spec)]
    if isinstance(spec, O.Op) or hasattr(spec, "draw"):
        return [spec]
    return [make_default(spec)]


def _noise_transforms(noise: Any) -> list[Any]:
    def default(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise IsovoxError(f"noise must be a number (Gaussian sigma as a fraction of the data range), "
                              f"an op or a random wrapper, got {value!r}")
        return RandomGaussianNoise(sigma=(float(value), float(value)))
    return _as_transforms(noise, default)


def _artifact_transforms(artifacts: Any, axis: int) -> list[Any]:
    def default(value: Any) -> Any:
        if value is True:
            return RandomSectionArtifacts(axis=axis)
        if isinstance(value, dict):
            try:
                return RandomSectionArtifacts(**{"axis": axis, **value})
            except TypeError as exc:
                raise IsovoxError(f"bad artifact settings: {exc}") from None
        raise IsovoxError(f"artifacts must be True, a dict of RandomSectionArtifacts settings, an op "
                          f"or a random wrapper, got {value!r}")
    return _as_transforms(artifacts, default)
