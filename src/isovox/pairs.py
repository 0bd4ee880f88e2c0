"""Training pairs for the 2D reconstruction networks, cut from the volumes themselves.

:class:`LateralPairs` (self-supervised, A2I-3DEM, paper 001 section II-A): the lateral planes of
an anisotropic volume (the planes across its low-resolution axis) are sharp in both directions.
A patch of such a plane is degraded along its rows the way the acquisition degraded the axial
direction (a recipe of :mod:`isovox.degrade.recipes`), optionally given noise and EM section
artifacts, interpolated back (cubic) onto the target grid, and paired with the sharp patch. The
network learns *interpolated axial-like plane -> sharp plane* with rows = the low-resolution
direction, which is what it is fed at reconstruction time. Pre-upsampling is how the paper
handles non-integer factors (6.5 works like 4).

:class:`AxialPairs` (oracle upper bound): the true axial planes of a ground-truth volume paired
with the low-resolution volume interpolated (cubic) onto the ground truth's grid.

Choices written down (the paper gives no numbers):

- Intensities are normalised with the 0.1 and 99.9 percentiles of the (low-resolution) volume,
  ``(value - low) / (high - low)``, not clipped (:class:`isovox.intensity.Normalisation`); the
  same range goes into the model card so reconstruction normalises identically.
- Sample ``k`` of a degraded patch sits at patch row ``k * factor`` (offset 0); the random patch
  position supplies the phase relative to the volume. Recipe borders are mirrored at the patch
  edge (:mod:`isovox.degrade.functional`).
- The recipe is :func:`isovox.degrade.recipes.recipe_ops` along the patch rows at the target
  spacing; 'kspace' keeps the grid, so its rows are then sampled every ``factor`` (an MRI
  acquisition of thick slices).
- Every patch gets one of the 8 dihedral transforms *before* degradation, so both lateral axes
  take turns as "rows". An in-plane axis whose spacing is coarser than the target spacing is
  never put on the rows (its patch would need up-sampling to become a target).
- A target spacing coarser than the lateral spacing: the HR patch rows are first resampled
  (anti-aliased cubic) to the target spacing; columns stay at the lateral spacing, as they do
  in the axial planes at reconstruction time.
- The last ``validation_fraction`` of the lateral planes (along the low-resolution axis) is
  held out; validation pairs are clean (recipe only, no noise or artifacts) so the reported
  PSNR measures the super-resolution task alone.
- Noise and artifacts are applied per sample with probability ``augment_probability`` (the
  network also sees clean inputs), artifacts before noise, as in :mod:`isovox.simulation`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .degrade import functional as F
from .degrade.random import RandomCompose, RandomGaussianNoise, RandomPoissonNoise, RandomSectionArtifacts
from .degrade.recipes import check_factor, check_recipe, recipe_ops
from .errors import IsovoxError
from .intensity import PERCENTILES, Normalisation
from .resample import apply_along_axis, resampling_matrix
from .volume import (AXIS_NAMES, Volume, axis_index, input_positions, lateral_spacing, lowres_axis, output_length,
                     resampling_factor)

MIN_LOWRES_ROWS = 3            # fewer rows per patch leave cubic interpolation nothing to work with
_VALIDATION_STREAM = 7919      # seeds the validation pairs apart from the training batches
Batch = tuple[np.ndarray, np.ndarray]


def dihedral(patches: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Square patches (N, Q, Q): code ``c`` rotates by ``90 * (c % 4)`` degrees, then flips the
    columns if ``c >= 4``. Odd ``c % 4`` puts the second in-plane axis on the rows."""
    out = np.empty_like(patches)
    for code in np.unique(codes):        # one vectorised transform per code present
        index = np.flatnonzero(codes == code)
        turned = np.rot90(patches[index], int(code) % 4, axes=(1, 2))
        out[index] = turned[:, :, ::-1] if code >= 4 else turned
    return out


def _held_out(n: int, fraction: float, what: str) -> int:
    """How many of ``n`` planes are held out for validation (at least 1, leaving 1)."""
    if not 0 <= fraction < 1:
        raise IsovoxError(f"validation_fraction must lie in [0, 1), got {fraction}")
    if fraction == 0:
        return 0
    if n < 2:
        raise IsovoxError(f"{what}: {n} plane(s) is too few for a validation split; "
                          "need at least 2 (or validation_fraction=0)")
    return min(n - 1, max(1, math.ceil(fraction * n)))


def _augmenters(noise: Any, poisson: Any, artifacts: Any) -> list:
    """Random wrappers of :mod:`isovox.degrade.random` along the rows (axis 1 of a sample)."""
    steps: list = []
    if artifacts:
        settings = {} if artifacts is True else dict(artifacts)
        try:
            steps.append(RandomSectionArtifacts(**{**settings, "axis": 1}))
        except TypeError as error:
            raise IsovoxError(f"bad artifact settings: {error}") from None
    if noise is not None and noise is not False:
        steps.append(RandomGaussianNoise(sigma=(0.0, 0.05) if noise is True else noise))
    if poisson is not None and poisson is not False:
        steps.append(RandomPoissonNoise(photons=(20.0, 1000.0) if poisson is True else poisson))
    return steps


class LateralPairs:
    """Self-supervised pairs from the lateral planes of one anisotropic volume (see module doc).

    ``factor`` (or ``target_spacing``) defaults to lowres spacing / finest lateral spacing;
    ``thickness`` is the recipe's slice profile in the volume's unit (FWHM for 'gaussian', slab
    for 'box'; default the low-res spacing). ``noise``: Gaussian sigma (fraction of the range) or
    a (lo, hi) range, True = (0, 0.05); ``poisson``: photon range, True = (20, 1000);
    ``artifacts``: True or a dict of :class:`~isovox.degrade.random.RandomSectionArtifacts`
    settings. ``sample(n)`` gives float32 (n, 1, rows, patch_size) inputs and targets.
    ``degradation``: a callable replacing the recipe (e.g. a learned one, paper 000), mapping
    normalised sharp patches (n, patch_size, patch_size) to (n, lowres_rows, patch_size).
    """

    def __init__(self, volume: Volume, *, axis: int | str | None = None, factor: float | None = None,
                 target_spacing: float | None = None, recipe: str = "gaussian",
                 thickness: float | None = None, patch_size: int = 64, noise: Any = None,
                 poisson: Any = None, artifacts: Any = None, augment_probability: float = 0.5,
                 validation_fraction: float = 0.1, seed: int = 0,
                 percentiles: Sequence[float] = PERCENTILES,
                 degradation: Callable[[np.ndarray], np.ndarray] | None = None,
                 exclude_planes: Sequence[int] = ()) -> None:
        self.volume, self.seed, self.recipe = volume, int(seed), check_recipe(recipe)
        self.degradation = degradation
        self.axis = lowres_axis(volume.spacing) if axis is None else axis_index(axis)
        self.plane_axes = tuple(a for a in range(3) if a != self.axis)
        self.patch_size, self.thickness = int(patch_size), thickness
        self.lowres_spacing = volume.spacing[self.axis]
        self.factor, self.target_spacing = self._grid(factor, target_spacing)
        self.augmenters = _augmenters(noise, poisson, artifacts)
        self.augment_probability = float(augment_probability)
        if not 0 <= self.augment_probability <= 1:
            raise IsovoxError(f"augment_probability must lie in [0, 1], got {augment_probability}")
        self._settings = {"noise": noise, "poisson": poisson, "artifacts": artifacts}
        self._geometry()
        # defective sections (blank, saturated, ...) teach nothing: no patch is cut from them
        self.excluded = tuple(sorted(set(int(k) for k in exclude_planes)))
        self.normalisation = Normalisation.measure(volume, percentiles, skip=(self.axis, self.excluded))
        planes = np.setdiff1d(np.arange(volume.shape[self.axis]), self.excluded)
        n_val = _held_out(len(planes), validation_fraction, f"volume with {len(planes)} usable lateral planes")
        self.train_planes, self.validation_planes = planes[:len(planes) - n_val], planes[len(planes) - n_val:]
        self._rng = np.random.default_rng(self.seed)
        self._validation: dict[int, Batch] = {}

    # --- geometry -------------------------------------------------------------------------
    def _grid(self, factor: float | None, target: float | None) -> tuple[float, float]:
        lateral = lateral_spacing(self.volume.spacing, self.axis)
        if self.lowres_spacing <= lateral * (1 + 1e-3):
            raise IsovoxError(f"axis {AXIS_NAMES[self.axis]} is not coarser than the lateral axes "
                              f"(spacing {self.volume.spacing}); the volume is isotropic along it")
        if factor is not None and target is not None and not math.isclose(self.lowres_spacing / target, factor, rel_tol=1e-6):
            raise IsovoxError(f"factor {factor:g} and target spacing {target:g} disagree "
                              f"(low-res spacing {self.lowres_spacing:g}); give one of them")
        if factor is None:
            factor = resampling_factor(self.lowres_spacing, lateral if target is None else float(target))
        factor = check_factor(factor)
        return factor, self.lowres_spacing / factor

    def _geometry(self) -> None:
        """Which dihedral codes, how big a square to cut, and the fixed resampling matrices."""
        P, f, t = self.patch_size, self.factor, self.target_spacing
        spacings = [self.volume.spacing[a] for a in self.plane_axes]
        row_ok = [s <= t * (1 + 1e-3) for s in spacings]
        if not any(row_ok):
            raise IsovoxError(f"target spacing {t:g} {self.volume.unit} is finer than the lateral spacing "
                              f"{min(spacings):g}; lateral planes hold no detail that fine")
        self._codes = np.array([c for c in range(8) if row_ok[c % 2]])
        self._row_matrix, sources = {}, [P]
        for parity, s in enumerate(spacings):
            if row_ok[parity] and not math.isclose(s, t, rel_tol=1e-6):
                n_src = math.ceil((P - 1) * t / s - 1e-6) + 1
                self._row_matrix[parity] = resampling_matrix(n_src, np.arange(P) * t / s, "cubic")
                sources.append(n_src)
        self._square = max(sources)
        min_patch = math.ceil(2 * f + 1 - 1e-9)
        plane = [self.volume.shape[a] for a in self.plane_axes]
        if min(plane) < min_patch:
            raise IsovoxError(f"factor {f:g} needs lateral planes of at least {min_patch} pixels "
                              f"({MIN_LOWRES_ROWS} low-res rows per patch); this volume's are "
                              f"{plane[0]} x {plane[1]}; use a smaller factor")
        if P < min_patch:
            raise IsovoxError(f"factor {f:g} needs patches of at least {min_patch} pixels "
                              f"({MIN_LOWRES_ROWS} low-res rows); patch size is {P}; "
                              "use a larger patch_size or a smaller factor")
        if min(plane) < self._square:
            raise IsovoxError(f"patch size {P} needs {self._square} x {self._square} lateral pixels at "
                              f"factor {f:g}; this volume's lateral planes are {plane[0]} x {plane[1]}; "
                              f"use a smaller patch_size (at least {min_patch})")
        self._ops = recipe_ops(self.recipe, 1, f, t, self.thickness)
        self.n_lowres = len(F.slice_positions(P, f))
        self.rows = output_length(self.n_lowres, f)
        self._up = resampling_matrix(self.n_lowres, input_positions(self.n_lowres, f), "cubic")

    # --- pairs ----------------------------------------------------------------------------
    def sample(self, batch: int, rng: np.random.Generator | None = None) -> Batch:
        """``batch`` random training pairs (inputs, targets), each (batch, 1, rows, patch_size)."""
        rng = self._rng if rng is None else rng
        planes = self.train_planes[rng.integers(0, len(self.train_planes), batch)]
        codes = rng.choice(self._codes, batch)
        lowres, highres = self._degraded(planes, codes, rng)
        return self._pair(self._augment(lowres, rng), highres)

    def batch_sampler(self, batch: int) -> Callable[[int], Batch]:
        """``f(iteration) -> batch``, a pure function of (seed, iteration), so that a resumed
        training run draws exactly the batches the uninterrupted one would have."""
        return lambda iteration: self.sample(batch, np.random.default_rng([self.seed, 1, int(iteration)]))

    def validation_set(self, n: int = 64) -> Batch:
        """``n`` fixed (seeded) clean pairs from the held-out planes; the same on every call."""
        if not len(self.validation_planes):
            raise IsovoxError("no validation planes (validation_fraction=0)")
        if n not in self._validation:
            rng = np.random.default_rng([self.seed, _VALIDATION_STREAM])
            planes = self.validation_planes[rng.integers(0, len(self.validation_planes), n)]
            lowres, highres = self._degraded(planes, rng.choice(self._codes, n), rng)
            self._validation[n] = self._pair(lowres, highres)
        return self._validation[n]

    def sharp_patches(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """``batch`` normalised, undegraded training patches (batch, patch_size, patch_size), as
        the degradation receives them: the high-resolution side of :mod:`isovox.unpaired`."""
        planes = self.train_planes[rng.integers(0, len(self.train_planes), batch)]
        return self._highres(planes, rng.choice(self._codes, batch), rng)

    def _degraded(self, planes: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> Batch:
        highres = self._highres(planes, codes, rng)
        if self.degradation is not None:
            return np.asarray(self.degradation(highres), dtype=np.float32), highres
        patches = Volume(highres, (1.0, self.target_spacing, self.target_spacing), self.volume.unit)
        lowres = self._ops.apply(patches).numpy()
        if lowres.shape[1] == highres.shape[1]:     # 'kspace' keeps the grid: acquire the slices
            lowres = F.take_slices(lowres, 1, self.factor)
        return lowres, highres

    def _highres(self, planes: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Normalised (N, P, P) patches: cut square, dihedral, rows to the target spacing."""
        Q, P, (u, v) = self._square, self.patch_size, self.plane_axes
        starts = [rng.integers(0, self.volume.shape[a] - Q + 1, len(planes)) for a in (u, v)]
        cut = np.empty((len(planes), Q, Q), np.float32)
        for i, plane in enumerate(planes):
            index = [slice(None)] * 3
            index[self.axis] = int(plane)
            index[u], index[v] = slice(starts[0][i], starts[0][i] + Q), slice(starts[1][i], starts[1][i] + Q)
            cut[i] = np.asarray(self.volume.data[tuple(index)], dtype=np.float32)
        turned = dihedral(self.normalisation.apply(cut), codes)
        out = np.empty((len(planes), P, P), np.float32)
        for parity in np.unique(codes % 2):
            index = np.flatnonzero(codes % 2 == parity)
            matrix = self._row_matrix.get(int(parity))
            rows = turned[index][:, :P] if matrix is None else apply_along_axis(turned[index][:, :matrix.shape[1]], matrix, 1)
            out[index] = rows[:, :, :P]
        return out

    def _augment(self, lowres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.augmenters:
            return lowres
        chain = RandomCompose(self.augmenters)
        for i in np.flatnonzero(rng.random(len(lowres)) < self.augment_probability):
            sample = Volume(lowres[i:i + 1], (1.0, 1.0, 1.0), self.volume.unit)
            lowres[i] = chain(sample, rng)[0].numpy()[0]
        return lowres

    def _pair(self, lowres: np.ndarray, highres: np.ndarray) -> Batch:
        inputs = apply_along_axis(lowres, self._up, 1)          # cubic back onto the target grid
        return np.ascontiguousarray(inputs[:, None]), np.ascontiguousarray(highres[:, None, :self.rows])

    def describe(self) -> dict:
        """JSON-ready description of how the pairs are made (the model card's ``degradation``)."""
        return {"pairs": "lateral", "recipe": self.recipe if self.degradation is None else "learned",
                "axis": AXIS_NAMES[self.axis],
                "factor": self.factor, "thickness": self.thickness,
                "ops": self._ops.to_dict()["ops"] if self.degradation is None else None,
                "patch_size": self.patch_size, "rows": self.rows, "lowres_rows": self.n_lowres,
                "upsampling": "cubic", "augment_probability": self.augment_probability,
                **{k: (list(v) if isinstance(v, tuple) else v) for k, v in self._settings.items()},
                "train_planes": _spans(self.train_planes), "validation_planes": _spans(self.validation_planes),
                "excluded_planes": list(self.excluded)}


def _spans(planes: np.ndarray) -> list:
    """[first, stop) of a plane list without holes (the usual case), else the list itself."""
    if len(planes) and planes[-1] - planes[0] + 1 == len(planes):
        return [int(planes[0]), int(planes[-1]) + 1]
    return [int(p) for p in planes]


class AxialPairs:
    """Oracle pairs: true axial planes of ``ground_truth`` (rows = the low-resolution axis) and
    the matching patch of ``lowres`` interpolated (cubic) onto the ground truth's grid.

    ``lowres`` slice ``k`` must sit at ground-truth index ``k * factor`` (what
    :func:`isovox.simulation.simulate` produces); the lateral axes must match. Both volumes are
    normalised with the percentiles of ``lowres`` (the network's input at reconstruction time).
    The held-out part is the last ``validation_fraction`` of the first lateral axis; axial planes
    of both families are cut inside the training part (a family needs ``patch_size`` pixels of
    extent). Augmentation: random row and column flips only, so rows stay the low-res axis.
    """

    def __init__(self, lowres: Volume, ground_truth: Volume, *, axis: int | str | None = None,
                 patch_size: int = 64, flips: bool = True, validation_fraction: float = 0.1,
                 seed: int = 0, percentiles: Sequence[float] = PERCENTILES) -> None:
        ground_truth = ground_truth.in_unit(lowres.unit)
        self.axis = lowres_axis(lowres.spacing) if axis is None else axis_index(axis)
        a, self.patch_size, self.flips, self.seed = self.axis, int(patch_size), bool(flips), int(seed)
        lateral = [b for b in range(3) if b != a]
        if any(lowres.shape[b] != ground_truth.shape[b] or not math.isclose(lowres.spacing[b], ground_truth.spacing[b], rel_tol=1e-3)
               for b in lateral):
            raise IsovoxError(f"lateral axes of the low-res volume ({lowres.describe()}) and the ground truth "
                              f"({ground_truth.describe()}) differ; they must share their lateral grid")
        self.lowres_spacing, self.target_spacing = lowres.spacing[a], ground_truth.spacing[a]
        self.factor = check_factor(resampling_factor(self.lowres_spacing, self.target_spacing))
        self.normalisation = Normalisation.measure(lowres, percentiles)
        n_lr = lowres.shape[a]
        up = apply_along_axis(self.normalisation.apply(lowres.numpy()),
                              resampling_matrix(n_lr, input_positions(n_lr, self.factor), "cubic"), a)
        rows = min(up.shape[a], ground_truth.shape[a])
        take = np.arange(rows)
        order = (a, *lateral)                     # arrays as (low-res axis, lateral 0, lateral 1)
        self._input = np.moveaxis(np.take(up, take, axis=a), order, (0, 1, 2))
        self._target = np.moveaxis(self.normalisation.apply(np.take(ground_truth.numpy(), take, axis=a)),
                                   order, (0, 1, 2))
        P = self.patch_size
        if rows < P:
            raise IsovoxError(f"patch size {P} needs {P} ground-truth slices along {AXIS_NAMES[a]}; "
                              f"the volumes overlap on {rows}; use a smaller patch_size")
        n0 = self._input.shape[1]
        n_val = _held_out(n0, validation_fraction, f"{n0} planes along {AXIS_NAMES[lateral[0]]}")
        self.train_region, self.validation_region = (0, n0 - n_val), (n0 - n_val, n0)
        if not self._families(self.train_region):
            raise IsovoxError(f"patch size {P} does not fit the lateral extent {self._input.shape[1:]} "
                              "of the training part; use a smaller patch_size")
        self._rng = np.random.default_rng(self.seed)
        self._validation: dict[int, Batch] = {}

    def _families(self, region: tuple[int, int]) -> list[int]:
        """0: planes at fixed lateral-0 index (columns along lateral 1); 1: planes at fixed
        lateral-1 index (columns along lateral 0, inside the region)."""
        lo, hi = region
        fits = [hi > lo and self._input.shape[2] >= self.patch_size, hi - lo >= self.patch_size]
        return [family for family, ok in enumerate(fits) if ok]

    def _cut(self, region: tuple[int, int], n: int, rng: np.random.Generator, flips: bool) -> Batch:
        P, (lo, hi) = self.patch_size, region
        families = self._families(region)
        if not families:
            raise IsovoxError(f"patch size {P} does not fit the held-out part ({hi - lo} planes)")
        inputs, targets = np.empty((2, n, P, P), np.float32)
        for i, family in enumerate(rng.choice(families, n)):
            r = slice(r0 := int(rng.integers(0, self._input.shape[0] - P + 1)), r0 + P)
            if family == 0:
                c0 = int(rng.integers(0, self._input.shape[2] - P + 1))
                index = (r, int(rng.integers(lo, hi)), slice(c0, c0 + P))
            else:
                c0 = int(rng.integers(lo, hi - P + 1))
                index = (r, slice(c0, c0 + P), int(rng.integers(0, self._input.shape[2])))
            inputs[i], targets[i] = self._input[index], self._target[index]
        if flips:                                   # rows stay rows: no transposes
            for axis in (1, 2):
                chosen = np.flatnonzero(rng.random(n) < 0.5)
                inputs[chosen] = np.flip(inputs[chosen], axis)
                targets[chosen] = np.flip(targets[chosen], axis)
        return np.ascontiguousarray(inputs[:, None]), np.ascontiguousarray(targets[:, None])

    def sample(self, batch: int, rng: np.random.Generator | None = None) -> Batch:
        """``batch`` random training pairs (inputs, targets), each (batch, 1, P, P)."""
        return self._cut(self.train_region, batch, self._rng if rng is None else rng, self.flips)

    def batch_sampler(self, batch: int) -> Callable[[int], Batch]:
        """``f(iteration) -> batch``, a pure function of (seed, iteration); see LateralPairs."""
        return lambda iteration: self.sample(batch, np.random.default_rng([self.seed, 1, int(iteration)]))

    def validation_set(self, n: int = 64) -> Batch:
        """``n`` fixed (seeded) pairs from the held-out part, without flips."""
        if self.validation_region[0] == self.validation_region[1]:
            raise IsovoxError("no validation planes (validation_fraction=0)")
        if n not in self._validation:
            rng = np.random.default_rng([self.seed, _VALIDATION_STREAM])
            self._validation[n] = self._cut(self.validation_region, n, rng, flips=False)
        return self._validation[n]

    def describe(self) -> dict:
        """JSON-ready description of the pairs (the model card's ``degradation``)."""
        return {"pairs": "axial ground truth", "axis": AXIS_NAMES[self.axis], "factor": self.factor,
                "patch_size": self.patch_size, "upsampling": "cubic", "flips": self.flips,
                "train_region": list(self.train_region), "validation_region": list(self.validation_region)}
