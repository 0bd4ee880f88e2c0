"""Test-time augmentation (TTA): the network averaged over symmetric variants of each plane, and
the uncertainty of that average: the spread of the variants, plus the output's misfit to the
acquired sections when the model card records how they were acquired.

Variants. An axial plane has rows along the low-resolution axis and columns along a lateral one
(:mod:`.slicewise`). Mirroring the columns is a symmetry of the acquisition (the lateral axes are
sampled alike in both directions), and so is mirroring the rows when a section's profile is
symmetric (a Gaussian or box profile through the section's middle, the usual models). So a plane
has four variants (:data:`FLIPS`): as it is, columns mirrored, rows mirrored, both. Each variant
is predicted and its prediction mirrored back, so all four describe the same voxels. A network
that has learned the symmetry gives four nearly equal answers; where they disagree, the
reconstruction depends on an orientation the data do not prefer, which is what the uncertainty
reports.

Cost: one forward pass per variant, so TTA takes 4x the network time of a plain run (8 passes per
voxel with the default fusion of two plane families, against 2). Interpolation, normalisation and
fusion are paid once; mirroring a batch of planes costs a copy, negligible next to a pass.

Statistics. Every voxel gets one prediction per (plane family, variant) pair, always in the same
order, and :class:`VoxelMoments` folds them in one at a time with Welford's update (running mean
and sum of squared deviations M2), so nothing of output size is kept per variant. Welford instead
of sums of squares: the variants are nearly equal, and ``E[x^2] - E[x]^2`` would cancel to float32
rounding noise (about 3e-4 of the range after the square root), where Welford gives exactly 0 for
equal predictions. The spread is the population variance ``M2 / n`` over the ``n`` variants of
both families pooled: the spread of the ensemble itself, not an estimate of a larger population
(it includes the disagreement of the two plane families: the pooled variance is the mean
within-family variance plus the variance of the two family means).

Uncertainty. ``sqrt(spread variance + misfit variance)``, in the output's intensity unit: two
independent sources of doubt added as variances, with no weight fitted to any data. The misfit
(:mod:`.misfit`) is the squared difference between the output re-acquired with the card's slice
profile and the acquired sections, spread linearly between sections; a card that records no slice
profile leaves the spread alone. Why both: the variants share most of the error a large factor
leaves (the detail no section shows), so their spread alone ranks where the output errs only
weakly; the misfit sees that shared error through the acquisition. On simulated FlyEM x4
(``benchmarks/uncertainty.py``, docs/benchmarks.md) the Spearman correlation of per-patch mean
uncertainty with per-patch mean absolute error rose from 0.453 (spread alone) to 0.524 in fp32
(0.446 to 0.521 in bf16); the misfit alone gave 0.506. Adding ``|output - cubic|`` (what the
network invents) as a third variance scored lower (0.510), and so did the family disagreement
alone (0.204)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple

import numpy as np

from ..volume import Volume

#: Axes of a (plane, row, column) batch to mirror, per variant: identity, lateral (columns),
#: axial (rows, the low-resolution axis), both.
FLIPS: tuple[tuple[int, ...], ...] = ((), (2,), (1,), (1, 2))
IDENTITY_ONLY: tuple[tuple[int, ...], ...] = ((),)


class Reconstruction(NamedTuple):
    """A reconstruction and its uncertainty: per voxel, the root of the variance over the TTA
    variants plus the misfit variance to the acquired sections (module docstring), float32, in the
    output's intensity unit, on the same grid (spacing, origin) as ``volume``. Unpacks as a pair.
    (Code paths that were not asked for the uncertainty leave it None.)"""

    volume: Volume
    uncertainty: Volume | None


def variants(tta: bool) -> tuple[tuple[int, ...], ...]:
    """The mirrorings run per plane: all of :data:`FLIPS` with TTA, the plane as it is without."""
    return FLIPS if tta else IDENTITY_ONLY


def predict_variants(predict: Callable[[np.ndarray], np.ndarray], planes: np.ndarray,
                     flips: tuple[tuple[int, ...], ...]) -> Iterator[np.ndarray]:
    """``predict`` of each mirrored variant of ``planes`` (N, rows, columns), mirrored back."""
    for axes in flips:
        if not axes:
            yield predict(planes)
            continue
        mirrored = np.ascontiguousarray(np.flip(planes, axes))
        yield np.flip(predict(mirrored), axes)


@dataclass
class VoxelMoments:
    """Running per-voxel mean and M2 (sum of squared deviations; None when no spread is wanted)
    of the predictions folded in so far (Welford). Views of it (:meth:`oriented`, slicing) update
    the same arrays."""

    mean: np.ndarray
    m2: np.ndarray | None = None

    @classmethod
    def zeros(cls, shape: tuple[int, ...], spread: bool) -> "VoxelMoments":
        return cls(np.zeros(shape, np.float32), np.zeros(shape, np.float32) if spread else None)

    def oriented(self, order: tuple[int, int, int]) -> "VoxelMoments":
        """A view with axes ``order`` moved to the front (a plane family's (plane, row, column))."""
        move = lambda array: None if array is None else np.moveaxis(array, order, (0, 1, 2))  # noqa: E731
        return VoxelMoments(move(self.mean), move(self.m2))

    def __getitem__(self, index) -> "VoxelMoments":
        return VoxelMoments(self.mean[index], None if self.m2 is None else self.m2[index])

    def add(self, prediction: np.ndarray, count: int) -> None:
        """Fold in the ``count``-th prediction (1-based) of every voxel of this view."""
        delta = prediction - self.mean
        self.mean += delta / np.float32(count)
        if self.m2 is not None:
            delta *= prediction - self.mean
            self.m2 += delta

    def variance(self, count: int) -> np.ndarray:
        """``M2 / count``, computed in place in M2 (which it then is)."""
        if self.m2 is None:
            raise ValueError("these moments were accumulated without their spread")
        self.m2 /= np.float32(count)
        return self.m2

    def standard_deviation(self, count: int) -> np.ndarray:
        """``sqrt(M2 / count)``, computed in place in M2 (which it then is)."""
        return np.sqrt(self.variance(count), out=self.m2)


def uncertainty(spread_variance: np.ndarray, misfit_variance: np.ndarray | None) -> np.ndarray:
    """``sqrt(spread_variance + misfit_variance)`` (the spread alone without a misfit), in place
    in ``spread_variance``."""
    if misfit_variance is not None:
        spread_variance += misfit_variance
    return np.sqrt(spread_variance, out=spread_variance)
