"""The block plan: the output grid cut into blocks, and the input region each block reads.

Why a block computed on its own equals the same voxels of the whole-volume reconstruction
-----------------------------------------------------------------------------------------
A block is reconstructed by running the *in-memory* method (interpolation, slice-wise network,
3D network) on an input *region* and cropping the block out of the region's result. The region is
chosen so that the crop is exactly what the whole volume would give:

1. **Same grid.** On the grid convention of :mod:`isovox.volume`, input index ``k`` lands on
   output index ``k * f``. If the region starts at an input index ``k0`` with ``k0 * f`` an
   integer, the region's output grid is the whole volume's grid shifted by ``k0 * f`` output
   voxels. With ``f = p / q`` in lowest terms, that means ``k0`` is a multiple of ``q`` (factor
   2.5 = 5/2: even input slices). The factor is turned into ``p / q`` with
   ``Fraction.limit_denominator``; a factor that is no ratio of integers with ``q <=``
   :data:`MAX_DENOMINATOR` is refused (blocks would have no common grid).
2. **Interpolation kernel.** Output sample ``j`` reads input samples ``floor(j / f) - r + 1`` to
   ``floor(j / f) + r`` (``r`` = the kernel's half-width: 1 linear and nearest, 2 cubic, 3
   lanczos3; factors >= 1 never stretch the kernel). The region covers them plus one sample on
   each side, so that a ``j / f`` that rounds to the neighbouring integer in floating point (the
   region computes ``(j - k0 f) / f``, the whole volume ``j / f``) still finds every tap inside.
   Where the region reaches the volume's border, the mirror boundary of :mod:`isovox.resample`
   folds at the same sample as for the whole volume.
3. **Receptive field.** A network output voxel depends on the interpolated voxels within its
   receptive halo ``h`` (output voxels, per axis). The region covers the block plus ``h`` on every
   side (clipped at the volume's border, where the network pads as it does for the whole volume),
   *measured on the output grid*, before step 2 turns it into input samples: the interpolated
   voxels the network reads must themselves be exact.
4. **Window grid.** Networks that are not shift-equivariant (windowed attention, pooling) need
   every region to start on their window grid (a multiple ``m`` of output voxels, see
   :func:`isovox.reconstruction.tiling.size_multiple`), so region starts are rounded down to input
   indices ``k0`` with ``k0 * f`` a multiple of ``m``: multiples of ``q * m / gcd(p, m)``.

Everything here is integer arithmetic on :class:`fractions.Fraction` factors, so no float can
move a region by one sample.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Sequence

from ..errors import IsovoxError
from ..volume import AXIS_NAMES, output_length

#: Largest denominator ``q`` of a factor ``p / q`` that blocks can be aligned to.
MAX_DENOMINATOR = 1000
_FACTOR_RTOL = 1e-9


def as_fraction(factor: float, axis: int = 0) -> Fraction:
    """``factor`` as ``p / q`` (see the module docstring, point 1), or a one-line error."""
    fraction = Fraction(factor).limit_denominator(10 * MAX_DENOMINATOR)
    if fraction.denominator > MAX_DENOMINATOR or abs(float(fraction) - factor) > _FACTOR_RTOL * factor:
        raise IsovoxError(
            f"factor {factor:.9g} along {AXIS_NAMES[axis]} is not a ratio of small integers (p/q with "
            f"q <= {MAX_DENOMINATOR}), so output blocks cannot start on acquired slices; choose a "
            f"target spacing that gives such a factor (e.g. {float(Fraction(factor).limit_denominator(8)):g})")
    return fraction


@dataclass(frozen=True)
class AxisGrid:
    """One axis of a blockwise reconstruction: input length, factor, and what a region needs.

    ``factor``: ``p / q`` (exact arithmetic); ``value``: the float factor the in-memory code uses
    (it decides the output length, so both agree to the last sample); ``kernel_radius``:
    half-width of the interpolation kernel (0 on an axis that is not resampled); ``halo``:
    receptive halo of the network in output voxels; ``multiple``: the network's window grid in
    output voxels.
    """

    n_in: int
    factor: Fraction
    value: float = 1.0
    kernel_radius: int = 0
    halo: int = 0
    multiple: int = 1

    @property
    def resampled(self) -> bool:
        return self.factor != 1

    @property
    def n_out(self) -> int:
        return output_length(self.n_in, self.value) if self.resampled else self.n_in

    @property
    def start_step(self) -> int:
        """Region starts are multiples of this many input samples (module docstring, 1 and 4)."""
        p, q = self.factor.numerator, self.factor.denominator
        return q * self.multiple // math.gcd(p, self.multiple)

    def output_index(self, k: int) -> int:
        """Output index of input index ``k`` (``k`` a multiple of :attr:`start_step`)."""
        return int(k * self.factor)

    def region(self, start: int, stop: int) -> tuple[int, int]:
        """Input samples ``[k0, k1)`` whose reconstruction holds output ``[start, stop)`` exactly."""
        need_lo = max(0, start - self.halo)
        need_hi = min(self.n_out, stop + self.halo)             # exclusive
        if self.resampled:
            # floor(j / f) exactly, for the first and last output sample needed
            first = need_lo * self.factor.denominator // self.factor.numerator
            last = (need_hi - 1) * self.factor.denominator // self.factor.numerator
            need_lo, need_hi = first - self.kernel_radius, last + self.kernel_radius + 2
        step = self.start_step
        k0 = max(0, need_lo) // step * step
        return k0, min(self.n_in, need_hi)


@dataclass(frozen=True)
class Block:
    """One output block: ``[start, stop)`` on the output grid, read from input ``[region_start,
    region_stop)``; the region's reconstruction begins at output index ``region_offset``."""

    index: tuple[int, int, int]
    start: tuple[int, int, int]
    stop: tuple[int, int, int]
    region_start: tuple[int, int, int]
    region_stop: tuple[int, int, int]
    region_offset: tuple[int, int, int]

    @property
    def name(self) -> str:
        """A file-name-safe identifier, e.g. ``'2_0_13'``."""
        return "_".join(str(i) for i in self.index)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(b - a for a, b in zip(self.start, self.stop))  # type: ignore[return-value]

    @property
    def voxels(self) -> int:
        return math.prod(self.shape)

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """Where the block goes in the output array."""
        return tuple(slice(a, b) for a, b in zip(self.start, self.stop))  # type: ignore[return-value]

    @property
    def crop(self) -> tuple[slice, slice, slice]:
        """Where the block lies in the reconstruction of its region."""
        return tuple(slice(a - o, b - o) for a, b, o in  # type: ignore[return-value]
                     zip(self.start, self.stop, self.region_offset))


@dataclass(frozen=True)
class BlockPlan:
    """The output grid of ``axes`` cut into blocks of ``block_size`` (the last ones smaller)."""

    axes: tuple[AxisGrid, AxisGrid, AxisGrid]
    block_size: tuple[int, int, int]

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return tuple(a.n_out for a in self.axes)  # type: ignore[return-value]

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        """Blocks per axis."""
        return tuple(-(-n // b) for n, b in zip(self.output_shape, self.block_size))  # type: ignore[return-value]

    def __len__(self) -> int:
        return math.prod(self.grid_shape)

    def block(self, index: Sequence[int]) -> Block:
        start, stop, region_start, region_stop, offset = [], [], [], [], []
        for axis, i, size in zip(self.axes, index, self.block_size):
            a, b = i * size, min(axis.n_out, (i + 1) * size)
            k0, k1 = axis.region(a, b)
            start.append(a), stop.append(b), region_start.append(k0), region_stop.append(k1)
            offset.append(axis.output_index(k0))
        return Block(tuple(int(i) for i in index), *(tuple(v) for v in  # type: ignore[arg-type]
                     (start, stop, region_start, region_stop, offset)))

    def blocks(self) -> Iterator[Block]:
        for index in itertools.product(*(range(n) for n in self.grid_shape)):
            yield self.block(index)


def make_plan(input_shape: Sequence[int], factors: Sequence[float], block_size: int | Sequence[int], *,
              kernel_radius: int = 0, halo: int | Sequence[int] = 0, multiple: int = 1) -> BlockPlan:
    """The :class:`BlockPlan` of a reconstruction of ``input_shape`` by per-axis ``factors``.

    ``kernel_radius`` applies to the resampled axes (factor != 1); ``halo`` (output voxels, one
    value or one per axis) and ``multiple`` describe the network (0 and 1 for interpolation).
    """
    sizes = [int(block_size)] * 3 if isinstance(block_size, (int, float)) else [int(b) for b in block_size]
    if len(sizes) != 3 or min(sizes) < 1:
        raise IsovoxError(f"block size needs 1 or 3 positive values (z, y, x), got {block_size}")
    halos = [int(halo)] * 3 if isinstance(halo, (int, float)) else [int(h) for h in halo]
    axes = tuple(AxisGrid(int(n), as_fraction(float(f), a) if f != 1 else Fraction(1), float(f),
                          kernel_radius if f != 1 else 0, halos[a], int(multiple))
                 for a, (n, f) in enumerate(zip(input_shape, factors)))
    return BlockPlan(axes, tuple(sizes))  # type: ignore[arg-type]
