"""3D patch pairs for supervised volumetric training (paper 004 sec. 3.4 and 4.1; paper 003 sec. 2.3).

Given isotropic high-resolution (HR) volumes, :class:`VolumePairs` makes the network input the
way reconstruction will see it, once per volume, then cuts aligned cubic patches:

1. Degrade each HR volume along ``axes`` by ``factor`` with a recipe of
   :mod:`isovox.degrade.recipes`: the result lies on the coarse acquisition grid (spacing times
   ``factor`` along each degraded axis). ``'kspace'`` follows paper 004 sec. 3.4 exactly:
   "truncating outer part of k-space with a factor of 2x2 in both phase-encoding directions",
   then "inverse FFT" of the smaller matrix, which equals the truncated spectrum sampled every
   ``factor``-th voxel, so the recipe's grid-keeping truncation is followed by taking slices.
2. Interpolate back onto the HR grid with cubic (Keys) along the degraded axes (paper 004
   interpolates linearly; isovox uses the same cubic pre-interpolation everywhere, so the
   network refines exactly what :func:`isovox.reconstruct` with ``'cubic'`` gives). The grid
   convention of :mod:`isovox.volume` holds: coarse voxel ``k`` lands on HR voxel ``k * factor``,
   and the HR target is cropped to ``floor((n - 1) / f) * f + 1`` voxels (integer factors) so
   input and target share one grid.
3. Normalise both with one intensity range for all volumes (the 0.1-99.9 percentiles of the HR
   data), which the model card keeps for reconstruction.
4. Training patches: ``patch_size``^3 cubes at random positions, each flipped along every axis
   with probability 1/2, and with the two lateral axes swapped with probability 1/2 when they
   are treated alike (paper 004 follows the augmentation of its ref. [27]; these are the
   symmetries that keep the degradation's axes in place). Validation patches come from a slab
   at the end of each volume's longest undegraded axis (``validation_fraction`` of it) that
   training patches never touch.

Memory: one float32 input and target per HR volume (8 bytes per HR voxel).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .degrade import ops as O
from .degrade.recipes import check_factor, check_recipe, recipe_ops
from .errors import IsovoxError
from .intensity import PERCENTILES, Normalisation
from .pairs import Batch
from .resample import resample
from .volume import AXIS_NAMES, Volume, axis_index, check_finite

_VALIDATION_STREAM = 7919      # seeds the validation patches apart from the training batches


def as_axes(axes: int | str | Sequence[int | str]) -> tuple[int, ...]:
    """Sorted unique axis indices from an index, a name ('z'), a string of names ('yx') or a list."""
    if isinstance(axes, str) and len(axes) > 1:
        axes = list(axes)
    values = [axes] if isinstance(axes, (int, np.integer, str)) else list(axes)
    result = tuple(sorted({axis_index(a) for a in values}))
    if not result:
        raise IsovoxError("give at least one axis to degrade")
    return result


def degrade_axes(volume: Volume, recipe: str, axes: Sequence[int], factor: float,
                 thickness: float | None = None) -> Volume:
    """``volume`` degraded by ``recipe`` along each of ``axes``, on the coarse grid (see module doc)."""
    check_recipe(recipe)
    factor = check_factor(factor)
    steps = []
    for axis in axes:
        steps += list(recipe_ops(recipe, axis, factor, volume.spacing, thickness).ops)
        if recipe == "kspace":
            steps.append(O.TakeSlices(axis, factor, 0.0))
    return O.Compose(tuple(steps))(volume)


def input_and_target(highres: Volume, recipe: str, axes: Sequence[int], factor: float,
                     thickness: float | None = None) -> tuple[Volume, Volume]:
    """(cubic interpolation of the degraded volume, HR crop on the same grid)."""
    lowres = degrade_axes(highres, recipe, axes, factor, thickness)
    upsampled = resample(lowres, highres.spacing, "cubic", dtype=np.float32)
    if any(upsampled.shape[a] > highres.shape[a] for a in range(3)):
        raise IsovoxError(f"interpolated shape {upsampled.shape} exceeds the HR shape {highres.shape}")
    return upsampled, highres.crop((0, 0, 0), upsampled.shape)


class VolumePairs:
    """Aligned (input, target) 3D patches from isotropic HR volumes (see the module docstring).

    ``sample(batch, rng)`` returns two float32 arrays (batch, 1, P, P, P); ``batch_sampler``
    gives the pure function of the iteration the training loop needs.
    """

    def __init__(self, highres: Volume | Sequence[Volume], *, factor: float, axes: int | str | Sequence = 0,
                 recipe: str = "gaussian", thickness: float | None = None, patch_size: int = 24,
                 validation_fraction: float = 0.1, seed: int = 0,
                 percentiles: Sequence[float] = PERCENTILES) -> None:
        volumes = [highres] if isinstance(highres, Volume) else list(highres)
        if not volumes:
            raise IsovoxError("give at least one high-resolution volume")
        self.axes, self.factor = as_axes(axes), check_factor(factor)
        self.recipe, self.thickness, self.seed = recipe, thickness, seed
        self.patch_size, self.validation_fraction = int(patch_size), float(validation_fraction)
        if not 0 <= self.validation_fraction < 1:
            raise IsovoxError(f"validation_fraction must lie in [0, 1), got {validation_fraction}")
        self._check_volumes(volumes)
        self.unit = volumes[0].unit
        self.normalisation = Normalisation.measure(volumes, percentiles)
        self.inputs, self.targets, self.train_regions, self.validation_regions = [], [], [], []
        for volume in volumes:
            upsampled, target = input_and_target(volume, recipe, self.axes, self.factor, thickness)
            self.inputs.append(self.normalisation.apply(upsampled.data))
            self.targets.append(self.normalisation.apply(target.numpy()))
            train, held = self._split(upsampled.shape)
            self.train_regions.append(train)
            self.validation_regions.append(held)
        spacing = volumes[0].spacing[self.axes[0]]
        self.target_spacing, self.lowres_spacing = float(spacing), float(spacing * self.factor)
        # y and x may swap when both are degraded or both are not: the degradation stays put
        self.swappable = (1 in self.axes) == (2 in self.axes)

    def _check_volumes(self, volumes: list[Volume]) -> None:
        p = self.patch_size
        if p < 4:
            raise IsovoxError(f"patch_size must be at least 4, got {p}")
        for i, v in enumerate(volumes):
            if not np.allclose(v.spacing, v.spacing[0], rtol=1e-3):
                raise IsovoxError(f"high-resolution volume {i} is not isotropic (spacing {v.spacing}); "
                                  "supervised 3D training needs isotropic references")
            if v.unit != volumes[0].unit or not np.isclose(v.spacing[0], volumes[0].spacing[0], rtol=1e-3):
                raise IsovoxError(f"high-resolution volume {i} has spacing {v.spacing} {v.unit}, volume 0 "
                                  f"{volumes[0].spacing} {volumes[0].unit}; resample them to one grid first")
            if min(v.shape) < p:
                raise IsovoxError(f"high-resolution volume {i} ({v.shape}) is smaller than a {p}^3 patch")

    def _split(self, shape: tuple[int, ...]) -> tuple[tuple, tuple | None]:
        """(training region, validation region) as (start, stop) per axis; see the module doc."""
        full = tuple((0, n) for n in shape)
        if self.validation_fraction == 0:
            return full, None
        free = [a for a in range(3) if a not in self.axes] or [0]
        axis = max(free, key=lambda a: shape[a])
        held = max(self.patch_size, int(np.ceil(self.validation_fraction * shape[axis])))
        if shape[axis] - held < self.patch_size:
            raise IsovoxError(f"a volume of shape {shape} leaves no {self.patch_size}^3 training patch beside "
                              f"a validation slab of {held} along {AXIS_NAMES[axis]}; use smaller patches "
                              "or validation_fraction=0")
        train, validation = list(full), list(full)
        train[axis], validation[axis] = (0, shape[axis] - held), (shape[axis] - held, shape[axis])
        return tuple(train), tuple(validation)

    def _cut(self, regions: list[tuple[int, tuple]], n: int, rng: np.random.Generator, augment: bool) -> Batch:
        """``n`` patches, each from one of ``regions`` = [(volume index, (start, stop) per axis)]."""
        p = self.patch_size
        inputs = np.empty((n, 1, p, p, p), np.float32)
        targets = np.empty_like(inputs)
        for i, choice in enumerate(rng.integers(len(regions), size=n)):   # one slice copy per patch
            v, region = regions[choice]
            corner = [rng.integers(lo, hi - p + 1) for lo, hi in region]
            box = tuple(slice(c, c + p) for c in corner)
            x, y = self.inputs[v][box], self.targets[v][box]
            if augment:
                flips = tuple(a for a in range(3) if rng.random() < 0.5)
                x, y = np.flip(x, flips), np.flip(y, flips)
                if self.swappable and rng.random() < 0.5:
                    x, y = np.swapaxes(x, 1, 2), np.swapaxes(y, 1, 2)
            inputs[i, 0], targets[i, 0] = x, y
        return inputs, targets

    def sample(self, batch: int, rng: np.random.Generator | None = None) -> Batch:
        rng = np.random.default_rng() if rng is None else rng
        return self._cut(list(enumerate(self.train_regions)), batch, rng, augment=True)

    def batch_sampler(self, batch: int) -> Callable[[int], Batch]:
        """``sampler(iteration)``: the batch of that iteration, the same on every call."""
        return lambda iteration: self.sample(batch, np.random.default_rng((self.seed, iteration)))

    def validation_set(self, n: int = 16) -> Batch | None:
        """``n`` fixed patches from the held-out slabs (None when nothing is held out)."""
        held = [(v, region) for v, region in enumerate(self.validation_regions) if region is not None]
        if not held:
            return None
        return self._cut(held, n, np.random.default_rng((self.seed, _VALIDATION_STREAM)), augment=False)

    def describe(self) -> dict:
        """The model card's ``degradation`` entry."""
        return {"recipe": self.recipe, "axes": [AXIS_NAMES[a] for a in self.axes], "factor": self.factor,
                "thickness": self.thickness, "interpolation": "cubic", "patch_size": self.patch_size,
                "volumes": len(self.inputs)}
