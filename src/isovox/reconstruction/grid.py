"""The target grid of a reconstruction: which axis is refined, and to which spacing.

:class:`Grid` is computed once per reconstruction (by :func:`reconstruction_grid` for
interpolation, by a model's :meth:`~isovox.reconstruction.model.ReconstructionModel.grid`, which
also checks the volume against the model card) and passed down to everything that needs it: the
interpolation, the network run, the blockwise plan. Interpolation and every model kind place
their result with :meth:`Grid.place`, so they agree on spacing and origin exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import IsovoxError
from ..volume import (AXIS_NAMES, Volume, axis_index, lateral_spacing, lowres_axis, output_length, resampling_factor,
                      same_spacing)


@dataclass(frozen=True)
class Grid:
    """Where a reconstruction of a volume with ``spacing`` puts its voxels.

    ``axis``: the low-resolution axis (the one refined most; the first of several for a 3D model
    that restores two axes together); ``target``: the full target spacing (z, y, x), in the
    volume's unit. An axis whose target equals its spacing is left alone.
    """

    axis: int
    spacing: tuple[float, float, float]
    target: tuple[float, float, float]

    @property
    def factors(self) -> tuple[float, float, float]:
        """Per-axis factor ``spacing / target``, exactly 1 on axes left alone."""
        return tuple(1.0 if same_spacing(s, t) else resampling_factor(s, t)  # type: ignore[return-value]
                     for s, t in zip(self.spacing, self.target))

    @property
    def factor(self) -> float:
        """The factor along the low-resolution axis."""
        return self.factors[self.axis]

    @property
    def refined(self) -> tuple[int, ...]:
        """The axes the reconstruction changes."""
        return tuple(a for a, f in enumerate(self.factors) if f != 1.0)

    @property
    def output_spacing(self) -> tuple[float, float, float]:
        """The result's spacing: the target on refined axes (as given, not its float echo), the
        input's elsewhere."""
        return tuple(t if f != 1.0 else s  # type: ignore[return-value]
                     for s, t, f in zip(self.spacing, self.target, self.factors))

    def output_shape(self, shape: Sequence[int]) -> tuple[int, int, int]:
        """Shape of the reconstruction of a volume of ``shape`` on this grid."""
        return tuple(output_length(int(n), f) for n, f in zip(shape, self.factors))  # type: ignore[return-value]

    def place(self, volume: Volume, data: Any) -> Volume:
        """``data`` (already of :meth:`output_shape`) as the reconstruction of ``volume``: voxel 0
        keeps its world position and orientation, spacing from :attr:`output_spacing`."""
        return volume.replace(data=data, spacing=self.output_spacing)


def reconstruction_grid(volume: Volume, target_spacing: float | Sequence[float] | None = None,
                        axis: int | str | None = None) -> Grid:
    """The :class:`Grid` of a reconstruction of ``volume`` (checked, in the volume's unit).

    By default only the low-resolution axis changes, to the finest spacing of the other two. A
    scalar ``target_spacing`` applies to the low-resolution axis; three values set every axis.
    Raises for an isotropic volume and for a target coarser than the acquisition (factor < 1).
    """
    if axis is None and target_spacing is not None and np.ndim(target_spacing) != 0:
        # three target values set every axis: no single low-res axis needs to be named (k-space
        # MRI is coarse along two); report the one refined most
        ratios = [s / float(t) for s, t in zip(volume.spacing, target_spacing)]  # type: ignore[arg-type]
        lowres = int(np.argmax(ratios)) if len(ratios) == 3 and min(ratios) > 0 else 0
    else:
        lowres = lowres_axis(volume.spacing) if axis is None else axis_index(axis)
    lateral = lateral_spacing(volume.spacing, lowres)
    if axis is not None and volume.spacing[lowres] <= lateral * (1 + 1e-3):
        raise IsovoxError(f"axis {AXIS_NAMES[lowres]} is not coarser than the others "
                          f"(spacing {volume.spacing}); nothing to reconstruct")
    target = list(volume.spacing)
    if target_spacing is None:
        target[lowres] = lateral
    elif np.ndim(target_spacing) == 0:
        target[lowres] = float(target_spacing)  # type: ignore[arg-type]
    else:
        target = [float(t) for t in target_spacing]  # type: ignore[union-attr]
        if len(target) != 3:
            raise IsovoxError(f"target spacing needs 1 or 3 values, got {len(target)}")
    for a in range(3):
        if target[a] <= 0:
            raise IsovoxError(f"target spacing must be positive, got {target[a]} for axis {AXIS_NAMES[a]}")
        factor = resampling_factor(volume.spacing[a], target[a])
        if factor < 1 - 1e-9:
            raise IsovoxError(f"target spacing {target[a]:g} {volume.unit} along {AXIS_NAMES[a]} is coarser "
                              f"than the input's {volume.spacing[a]:g} (factor {factor:.4g} < 1); "
                              "reconstruction only refines")
    return Grid(lowres, tuple(volume.spacing), tuple(target))  # type: ignore[arg-type]


def lowres_target(volume: Volume, target_spacing: float | Sequence[float] | None,
                  axis: int | str | None = None) -> float | None:
    """The target spacing of the low-resolution axis, for a model that refines that axis only.

    One value (or None) passes through; three values must leave the other two axes unchanged.
    """
    if target_spacing is None or np.ndim(target_spacing) == 0:
        return target_spacing  # type: ignore[return-value]
    lowres = reconstruction_grid(volume, None, axis).axis
    values = [float(t) for t in target_spacing]  # type: ignore[union-attr]
    if len(values) != 3:
        raise IsovoxError(f"target spacing needs 1 or 3 values, got {len(values)}")
    moved = [AXIS_NAMES[a] for a in range(3)
             if a != lowres and not same_spacing(values[a], volume.spacing[a])]
    if moved:
        raise IsovoxError(f"a model reconstructs the low-resolution axis only; target spacing "
                          f"along {', '.join(moved)} must stay {volume.spacing}")
    return values[lowres]


def check_output_fits(volume: Volume, grid: Grid, bytes_per_voxel: float) -> None:
    """Refuse an in-memory reconstruction whose working arrays (``bytes_per_voxel`` per output
    voxel) cannot fit in the memory available now, with the number and the blockwise way out."""
    from ..runtime import check_fits_in_memory

    shape = grid.output_shape(volume.shape)
    voxels = float(np.prod(shape, dtype=np.float64))
    check_fits_in_memory(voxels * bytes_per_voxel, f"an output of {' x '.join(map(str, shape))} voxels",
                         "reconstruct block by block into a .zarr output with --block-size 128")


def defect_gaps(volume: Volume, target_spacing, axis, bad_sections: Sequence[int], detect: bool):
    """The defective sections to bridge along the low-resolution axis (:mod:`isovox.gaps`), or None:
    one answer for in-memory and blockwise reconstruction."""
    from ..gaps import find_gaps

    if not detect and not bad_sections:
        return None
    three = target_spacing is not None and np.ndim(target_spacing) != 0
    try:
        lowres = reconstruction_grid(volume, target_spacing if three else None, axis).axis
    except IsovoxError:
        if bad_sections:                 # the user named sections: they need an axis
            raise
        return None                      # no single low-resolution axis (k-space 2 x 2): no sections
    return find_gaps(volume, lowres, bad_sections, detect)
