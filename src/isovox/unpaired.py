"""Unpaired training patches for degradation learning (Deng et al., paper 000, section 2).

Paper 000 trains its CycleGAN on "unpaired HR lateral (xy) and LR axial (xz/yz) slices from an
anisotropic 3D EM volume", assuming the tissue is statistically isotropic: a sharp lateral patch
and a blurred axial patch then show the same kind of structures, one before and one after the
unknown axial degradation. :class:`UnpairedPatches` draws both, from the same volume:

- high resolution: patches of the lateral planes (the planes across the low-resolution axis),
  exactly as :class:`isovox.pairs.LateralPairs` cuts its targets (random plane and position, one of
  the dihedral transforms so both lateral axes take turns as rows, rows resampled to the target
  spacing when it is coarser than the lateral one), left undegraded: ``(patch_size, patch_size)``;
- low resolution: real axial patches, ``(lowres_rows, patch_size)``: ``lowres_rows`` consecutive
  acquired sections (rows) by ``patch_size`` pixels of one lateral axis (columns), from either
  axial family (xz or yz when z is low-res), at a random position.

Field of view: ``lowres_rows`` is the number of section positions ``k * factor`` inside a sharp
patch (:class:`~isovox.pairs.LateralPairs`' ``n_lowres``), so a sharp patch degraded by G_hl
(row ``k`` at sharp row ``k * factor``) has exactly the rows of a real low-resolution patch, over
the same physical length, and both span ``patch_size`` lateral pixels along their columns: the
discriminator compares like with like. Restored patches (G_lh) have ``rows =
output_length(lowres_rows, factor)`` rows, the first ``rows`` of a sharp patch.

Choices written down (the paper gives none):

- Intensities: both sides normalised with the 0.1 / 99.9 percentiles of the volume
  (:class:`isovox.intensity.Normalisation`), as every isovox network sees them.
- Augmentation of the real low-resolution patches: a random flip of the columns only. Rows are
  never flipped or transposed: an asymmetric section profile must stay as acquired.
- No validation split: stage one has no paired truth to validate against; the whole volume
  serves (the paper uses "all the lateral (xy) slices and axial (xz/yz) slices").
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .errors import IsovoxError
from .intensity import PERCENTILES
from .pairs import LateralPairs
from .volume import AXIS_NAMES, Volume

Batch = tuple[np.ndarray, np.ndarray]


class UnpairedPatches:
    """Sharp lateral and real low-resolution axial patches of ``volume`` (see module doc).

    ``axis``, ``factor`` / ``target_spacing``, ``patch_size`` and ``percentiles`` mean what they
    mean for :class:`~isovox.pairs.LateralPairs`. ``sample(n)`` gives float32
    ``(highres (n, 1, patch_size, patch_size), lowres (n, 1, lowres_rows, patch_size))``, unpaired.
    """

    def __init__(self, volume: Volume, *, axis: int | str | None = None, factor: float | None = None,
                 target_spacing: float | None = None, patch_size: int = 64, seed: int = 0,
                 percentiles: Sequence[float] = PERCENTILES) -> None:
        # The sharp side and the whole geometry (factor, rows, normalisation) come from
        # LateralPairs, so that stage two's pairs match stage one's patches exactly.
        self.lateral = LateralPairs(volume, axis=axis, factor=factor, target_spacing=target_spacing,
                                    recipe="take", patch_size=patch_size, validation_fraction=0.0,
                                    seed=seed, percentiles=percentiles)
        self.volume, self.seed = volume, int(seed)
        lat = self.lateral
        self.axis, self.factor, self.patch_size = lat.axis, lat.factor, lat.patch_size
        self.lowres_spacing, self.target_spacing = lat.lowres_spacing, lat.target_spacing
        self.normalisation, self.rows, self.lowres_rows = lat.normalisation, lat.rows, lat.n_lowres
        # Axial families by their column axis (the lateral axis a patch runs along).
        self.column_axes = [a for a in lat.plane_axes if volume.shape[a] >= self.patch_size]
        if volume.shape[self.axis] < self.lowres_rows:
            raise IsovoxError(f"factor {self.factor:g} with patch size {self.patch_size} needs "
                              f"{self.lowres_rows} sections along {AXIS_NAMES[self.axis]}; the volume has "
                              f"{volume.shape[self.axis]}; use a smaller patch_size")
        if not self.column_axes:
            raise IsovoxError(f"patch size {self.patch_size} is wider than both lateral axes of the volume "
                              f"({volume.describe()}); use a smaller patch_size")
        self._rng = np.random.default_rng([self.seed, 2])

    def sample(self, batch: int, rng: np.random.Generator | None = None) -> Batch:
        """``batch`` sharp lateral patches and ``batch`` real axial patches, drawn independently."""
        rng = self._rng if rng is None else rng
        highres = self.lateral.sharp_patches(batch, rng)
        return highres[:, None], self.lowres_patches(batch, rng)[:, None]

    def batch_sampler(self, batch: int) -> Callable[[int], Batch]:
        """``f(iteration) -> batch``, a pure function of (seed, iteration), so that a resumed run
        draws the batches of an uninterrupted one (see :meth:`LateralPairs.batch_sampler`)."""
        return lambda iteration: self.sample(batch, np.random.default_rng([self.seed, 3, int(iteration)]))

    def lowres_patches(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Normalised real axial patches (batch, lowres_rows, patch_size), rows = acquired sections."""
        R, P, shape = self.lowres_rows, self.patch_size, self.volume.shape
        out = np.empty((batch, R, P), np.float32)
        for i, columns in enumerate(rng.choice(self.column_axes, batch)):
            (fixed,) = [a for a in range(3) if a not in (self.axis, columns)]
            index = [slice(None)] * 3
            index[fixed] = int(rng.integers(0, shape[fixed]))
            start, c0 = int(rng.integers(0, shape[self.axis] - R + 1)), int(rng.integers(0, shape[columns] - P + 1))
            index[self.axis], index[columns] = slice(start, start + R), slice(c0, c0 + P)
            patch = np.asarray(self.volume.data[tuple(index)], dtype=np.float32)
            out[i] = patch if self.axis < columns else patch.T      # rows = the low-resolution axis
        flipped = rng.random(batch) < 0.5
        out[flipped] = out[flipped][:, :, ::-1]
        return self.normalisation.apply(out)

    def describe(self) -> dict:
        """JSON-ready description of the patches (for the model card)."""
        return {"pairs": "unpaired lateral / axial", "axis": AXIS_NAMES[self.axis], "factor": self.factor,
                "patch_size": self.patch_size, "rows": self.rows, "lowres_rows": self.lowres_rows,
                "axial_columns": [AXIS_NAMES[a] for a in self.column_axes],
                "lowres_spacing": self.lowres_spacing, "target_spacing": self.target_spacing}
