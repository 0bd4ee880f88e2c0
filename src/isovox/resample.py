"""Separable resampling along one axis with interpolation kernels, on the grid convention of
:mod:`isovox.volume` (input index ``k`` lands on output index ``k * factor``).

Resampling an axis is a sparse matrix ``W`` of shape (n_out, n_in) applied to the array's columns
along that axis. Building ``W`` once per axis and multiplying in slabs keeps it vectorised, bounded
in memory, and exact at borders (mirror boundary, rows renormalised to sum to 1). The same matrix
serves down-sampling with anti-aliasing (the kernel widened by 1 / factor, as MATLAB's imresize does),
which the degradation library uses for its 'cubic' down-sampling, and blockwise reconstruction can
read each output block's input halo off the matrix's support.

Kernels: ``nearest``, ``linear``, ``cubic`` (Keys cubic convolution, a = -0.5, the 'bicubic' of
the papers), ``lanczos3`` (windowed sinc with 3 lobes).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from .errors import IsovoxError
from .indexing import mirror_index
from .volume import Volume, input_positions, output_length, resampling_factor, validate_spacing


def _linear(x: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - np.abs(x), 0.0, None)


def _keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    ax = np.abs(x)
    near = ((a + 2) * ax - (a + 3)) * ax * ax + 1
    far = ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a
    return np.where(ax <= 1, near, np.where(ax < 2, far, 0.0))


def _lanczos3(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3.0), 0.0)


# name -> (kernel function, half-width in input samples at scale 1)
KERNELS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float]] = {
    "linear": (_linear, 1.0),
    "cubic": (_keys_cubic, 2.0),
    "lanczos3": (_lanczos3, 3.0),
}
METHODS = ("nearest",) + tuple(KERNELS)


def check_method(method: str) -> str:
    if method not in METHODS:
        raise IsovoxError(f"unknown interpolation method {method!r}; choose one of {', '.join(METHODS)}")
    return method


def resampling_matrix(n_in: int, positions: np.ndarray, method: str = "cubic",
                      antialias: bool = True) -> sp.csr_matrix:
    """Sparse (len(positions), n_in) matrix sampling a signal of length ``n_in`` at ``positions``.

    ``positions`` are float input indices. When the positions are spaced wider than one input
    sample and ``antialias`` is set, the kernel is stretched by that spacing, so the matrix
    low-pass filters before it decimates.
    """
    check_method(method)
    positions = np.asarray(positions, dtype=float)
    n_out = len(positions)
    if method == "nearest":
        cols = np.clip(np.floor(positions + 0.5), 0, n_in - 1).astype(np.int64)
        return sp.csr_matrix((np.ones(n_out, np.float32), (np.arange(n_out), cols)), shape=(n_out, n_in))
    kernel, half_width = KERNELS[method]
    step = float(np.median(np.diff(positions))) if n_out > 1 else 1.0
    stretch = max(step, 1.0) if antialias else 1.0
    radius = int(np.ceil(half_width * stretch))
    offsets = np.arange(-radius + 1, radius + 1)
    taps = np.floor(positions)[:, None] + offsets[None, :]            # (n_out, 2 * radius)
    weights = kernel((positions[:, None] - taps) / stretch)
    cols = mirror_index(taps.astype(np.int64), n_in)
    rows = np.repeat(np.arange(n_out), taps.shape[1])
    matrix = sp.csr_matrix((weights.ravel(), (rows, cols.ravel())), shape=(n_out, n_in))
    matrix.sum_duplicates()
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    matrix = sp.diags(1.0 / row_sums) @ matrix                         # partition of unity
    return matrix.astype(np.float32).tocsr()


def apply_along_axis(array: np.ndarray, matrix: sp.spmatrix, axis: int,
                     out_dtype: np.dtype | None = None, progress: Callable[[int], None] | None = None,
                     slab_voxels: int = 1 << 24) -> np.ndarray:
    """``matrix`` applied to every 1D line of ``array`` along ``axis``, in slabs.

    The result has ``out_dtype`` (default: float32); an integer dtype is rounded and clipped to its
    range. ``progress(n)`` is called with the number of lines done after each slab.
    """
    out_dtype = np.dtype(out_dtype or np.float32)
    moved = np.moveaxis(np.asarray(array), axis, 0)                    # a view, no copy
    n_out = matrix.shape[0]
    result = np.empty((n_out,) + moved.shape[1:], dtype=out_dtype)
    rows_per_slab = max(1, slab_voxels // max(1, moved.shape[0] * int(np.prod(moved.shape[2:]))))
    for start in range(0, moved.shape[1], rows_per_slab):
        slab = moved[:, start:start + rows_per_slab]
        columns = slab.reshape(moved.shape[0], -1).astype(np.float32, copy=False)
        values = (matrix @ columns).reshape((n_out,) + slab.shape[1:])
        result[:, start:start + rows_per_slab] = cast_to_dtype(values, out_dtype)
        if progress is not None:
            progress(values.size)
    return np.moveaxis(result, 0, axis)


def cast_to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast float results to ``dtype``; integers are rounded and clipped to the dtype's range."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)


def resample_axis(volume: Volume, axis: int, factor: float, method: str = "cubic",
                  dtype: np.dtype | None = None, antialias: bool = True,
                  progress: Callable[[int], None] | None = None) -> Volume:
    """Resample one axis by ``factor`` (> 1 up-samples) on the module's grid convention."""
    positions = input_positions(volume.shape[axis], factor)
    matrix = resampling_matrix(volume.shape[axis], positions, method, antialias=antialias)
    data = apply_along_axis(volume.numpy(), matrix, axis, dtype or volume.dtype, progress)
    scale = [1.0, 1.0, 1.0]
    scale[axis] = 1.0 / factor
    return volume.on_new_grid(data, scale=scale)


def resampling_plan(volume: Volume, target_spacing: Sequence[float]) -> list[tuple[int, float, int]]:
    """Steps of :func:`resample`: (axis, factor, voxels written), shrinking axes first so that
    intermediate arrays stay small. Axes already at the target spacing are left out."""
    target = validate_spacing(target_spacing)
    factors = {axis: resampling_factor(s, t) for axis, (s, t) in enumerate(zip(volume.spacing, target))
               if not np.isclose(s, t, rtol=1e-9, atol=0)}
    shape = list(volume.shape)
    plan = []
    for axis in sorted(factors, key=lambda a: factors[a]):
        shape[axis] = output_length(shape[axis], factors[axis])
        plan.append((axis, factors[axis], int(np.prod(shape))))
    return plan


def resample(volume: Volume, target_spacing: Sequence[float], method: str = "cubic",
             dtype: np.dtype | None = None, progress: Callable[[int], None] | None = None) -> Volume:
    """Resample every axis whose spacing differs from ``target_spacing`` (z, y, x)."""
    check_method(method)
    target = validate_spacing(target_spacing)
    plan = resampling_plan(volume, target)
    final_dtype = np.dtype(dtype or volume.dtype)
    result = volume
    for i, (axis, factor, _) in enumerate(plan):   # float32 in between: round to the dtype once
        step_dtype = final_dtype if i == len(plan) - 1 else np.float32
        result = resample_axis(result, axis, factor, method, step_dtype, progress=progress)
    spacing = list(result.spacing)
    for axis, _, _ in plan:                        # store the requested value, not its float echo
        spacing[axis] = target[axis]
    return result.replace(spacing=tuple(spacing))
