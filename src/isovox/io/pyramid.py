"""Multiscale pyramids for OME-Zarr outputs: levels 1..N-1 built from a written level 0.

A viewer (napari, neuroglancer) shows a large volume by fetching a coarse level for the overview
and finer ones as it zooms in, so a big isotropic result needs lower resolution levels beside the
full one. :func:`add_levels` adds them to an isovox OME-Zarr image whose level 0 (array ``0``) is
already on disk, and rewrites the group's ``multiscales`` metadata to list every level.

Choices, and why:

- **Written here, not by a library.** ome-zarr-py and ngff-zarr both write a whole pyramid,
  level 0 included, from an in-memory or dask array. Blockwise reconstruction has already written
  level 0 chunk by chunk (resumably) and needs only the lower levels added, in the same codec,
  chunking and metadata as isovox's own writer; the arithmetic is a few lines. ome-zarr-py (with
  s3fs, botocore and pydantic behind it, about 150 MB) stays a test-only dependency that checks
  our output opens as a valid pyramid.
- **Streaming.** Each level is read from the previous level's array on disk, one output chunk at a
  time (about 64^3 voxels, so a task reads at most 128^3), on a small thread pool: memory does not
  grow with the volume, and a dask-backed or blockwise level 0 is never loaded whole.
- **Local mean over 2 voxels per halved axis.** isovox writes intensities, for which the mean is
  the box filter that keeps the level's average brightness and avoids aliasing better than
  taking every second voxel. (A label volume would need the mode or nearest; isovox writes none.)
  Integer levels are rounded to the nearest integer; every level has level 0's dtype.
- **Per-axis halving.** An axis is halved unless it is already at least twice as coarse as the
  finest axis (or has a single voxel): an isotropic volume halves on every axis, while an
  anisotropic one (40 x 4 x 4 nm) halves y and x first, until the voxels are as close to cubes as
  powers of two allow, then all three. Halving a coarse axis further would make the overview
  levels even more anisotropic and throw away the few sections the axis has.
- **Odd lengths round up.** A level has ``ceil(n / 2)`` voxels on a halved axis: the last voxel is
  the mean of the one voxel left, so nothing at the far edge is dropped.
- **Default number of levels:** halve until the coarsest level holds at most 256^3 voxels
  (:data:`MAX_COARSEST_VOXELS`), a size a viewer loads at once for the overview; a volume already
  that small keeps a single level, as before.
- **Geometry.** Level k's scale is level 0's spacing times its cumulative factor; its translation
  moves by half the averaged extent, ``origin + (factor - 1) / 2 * spacing``, because the mean of
  voxels 0 and 1 sits between their centres. So every level overlays level 0 in world space.

Atomicity: the caller works on the temporary that :func:`isovox.io.atomic.atomic_output` (or the
blockwise work folder) moves into place only on success, and the metadata naming the levels is
written last, so a reader never sees a level the metadata names but was not finished.
"""

from __future__ import annotations

import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import product
from typing import Any, Sequence

import numpy as np
import zarr

from ..errors import IsovoxError

#: The automatic pyramid stops once its coarsest level holds at most this many voxels.
MAX_COARSEST_VOXELS = 256 ** 3
#: Chunk edge of the lower levels (clipped to the level's shape), as isovox's writer uses for level 0.
LEVEL_CHUNK = 64
#: Halve an axis only while it is less than this many times as coarse as the finest axis.
COARSE_RATIO = 2.0
DOWNSAMPLING = "local_mean"


@dataclass(frozen=True)
class Level:
    """One pyramid level: its shape, its factor per axis relative to the previous level (1 or 2)
    and relative to level 0."""

    shape: tuple[int, int, int]
    step: tuple[int, int, int]
    factor: tuple[int, int, int]


def halving_step(shape: Sequence[int], spacing: Sequence[float]) -> tuple[int, int, int] | None:
    """Per-axis factor (2: halve, 1: keep) from a level to the next, or None if no axis can be
    halved (every axis has one voxel). See the module docstring for the rule."""
    open_axes = [axis for axis in range(3) if shape[axis] > 1]
    if not open_axes:
        return None
    finest = min(spacing[axis] for axis in open_axes)
    limit = COARSE_RATIO * finest * (1 - 1e-9)            # exactly twice as coarse counts as coarse
    return tuple(2 if axis in open_axes and spacing[axis] < limit else 1  # type: ignore[return-value]
                 for axis in range(3))


def plan_levels(shape: Sequence[int], spacing: Sequence[float], levels: int | None = None,
                max_voxels: int = MAX_COARSEST_VOXELS) -> list[Level]:
    """The levels of a pyramid over a level 0 of ``shape`` and ``spacing`` (z, y, x).

    ``levels``: how many, level 0 included (1: no pyramid); None: until the coarsest level holds
    at most ``max_voxels`` voxels. Asking for more levels than halving can make is an error.
    """
    if levels is not None and (isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 1):
        raise IsovoxError(f"levels must be a whole number >= 1 (1: full resolution only), got {levels!r}")
    current = Level(tuple(int(n) for n in shape), (1, 1, 1), (1, 1, 1))  # type: ignore[arg-type]
    plan = [current]

    def wants_another() -> bool:
        return len(plan) < levels if levels is not None else math.prod(current.shape) > max_voxels

    while wants_another():
        step = halving_step(current.shape, [s * f for s, f in zip(spacing, current.factor)])
        if step is None:
            raise IsovoxError(f"a {' x '.join(map(str, shape))} volume has at most {len(plan)} pyramid "
                              f"levels, not {levels}; ask for fewer")
        current = Level(tuple(-(-n // s) for n, s in zip(current.shape, step)), step,  # type: ignore[arg-type]
                        tuple(f * s for f, s in zip(current.factor, step)))  # type: ignore[arg-type]
        plan.append(current)
    return plan


def dataset_entry(path: str, scale: Sequence[float], translation: Sequence[float]) -> dict:
    """One ``datasets`` item of OME-NGFF multiscales: the array path and its transformations."""
    return {"path": path, "coordinateTransformations": [
        {"type": "scale", "scale": [float(s) for s in scale]},
        {"type": "translation", "translation": [float(t) for t in translation]}]}


def level_entry(index: int, level: Level, spacing: Sequence[float], origin: Sequence[float]) -> dict:
    """The ``datasets`` item of ``level``: its spacing, and its first voxel's centre in world space."""
    return dataset_entry(str(index), [s * f for s, f in zip(spacing, level.factor)],
                         [o + (f - 1) / 2 * s for o, s, f in zip(origin, spacing, level.factor)])


def create_level(group: Any, path: str, shape: Sequence[int], dtype: Any,
                 chunks: Sequence[int] | None = None) -> Any:
    """An empty level array in ``group``, in isovox's layout: Blosc-zstd, dimension names z, y, x,
    chunks ~64^3 clipped to the shape unless given."""
    shape = tuple(int(n) for n in shape)
    chunks = tuple(int(c) for c in chunks) if chunks else tuple(min(LEVEL_CHUNK, n) for n in shape)
    compressor = zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")
    return group.create_array(path, shape=shape, dtype=np.dtype(dtype), chunks=chunks, compressors=compressor,
                              dimension_names=("z", "y", "x"), fill_value=0, overwrite=True)


def downsample_mean(block: np.ndarray, step: Sequence[int], dtype: Any) -> np.ndarray:
    """Mean over ``step`` voxels per axis (1 or 2), in ``dtype``; an odd length at the end of an
    axis keeps its last voxel alone (the edge is repeated, so the mean is that voxel)."""
    dtype = np.dtype(dtype)
    pad = [(0, (-n) % s) for n, s in zip(block.shape, step)]
    if any(after for _, after in pad):
        block = np.pad(block, pad, mode="edge")
    work = np.result_type(block.dtype, np.float64)       # exact sums for every integer dtype
    shape = [length for n, s in zip(block.shape, step) for length in (n // s, s)]
    mean = block.astype(work, copy=False).reshape(shape).mean(axis=(1, 3, 5))
    if dtype.kind in "iub":
        mean = np.rint(mean)                               # nearest, not truncated towards zero
    return mean.astype(dtype)


def fill_level(source: Any, target: Any, step: Sequence[int], workers: int | None = None) -> None:
    """Write ``target`` (a zarr array) as the ``step`` mean of ``source``, one target chunk per
    task: each task reads at most ``step`` times a chunk of ``source``."""
    grid = [range(0, n, c) for n, c in zip(target.shape, target.chunks)]

    def one_chunk(start: tuple[int, ...]) -> None:
        out = tuple(slice(b, min(b + c, n)) for b, c, n in zip(start, target.chunks, target.shape))
        read = tuple(slice(o.start * s, min(o.stop * s, n)) for o, s, n in zip(out, step, source.shape))
        target[out] = downsample_mean(np.asarray(source[read]), step, target.dtype)

    count = max(1, int(workers or min(os.cpu_count() or 1, 8)))
    pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="isovox-pyramid")
    futures = [pool.submit(one_chunk, start) for start in product(*grid)]
    try:
        for future in futures:
            future.result()                                # the first failure stops the level
    finally:
        # On failure: drop the queued chunks, and let the running ones end before the caller
        # removes the partial output (they would otherwise write into a deleted folder).
        pool.shutdown(wait=False, cancel_futures=True)
        wait([f for f in futures if not f.cancelled()])


def add_levels(path: Any, levels: int | None = None, *, workers: int | None = None) -> int:
    """Add the lower levels to the isovox OME-Zarr image at ``path`` (its level 0 written); returns
    the number of levels, level 0 included.

    Level k is written as array ``k`` from level k-1 on disk; arrays of an earlier, longer pyramid
    (a resumed blockwise run) are removed; the group's ``multiscales`` then lists every level.
    ``levels``: see :func:`plan_levels`. ``workers``: threads (default: one per core, at most 8).
    """
    group = zarr.open_group(str(path), mode="r+")
    attrs = dict(group.attrs)
    multiscale = dict(attrs["ome"]["multiscales"][0])
    base = multiscale["datasets"][0]
    transforms = {t["type"]: t[t["type"]] for t in base["coordinateTransformations"]}
    spacing, origin = transforms["scale"], transforms.get("translation", [0.0, 0.0, 0.0])
    source = group[base["path"]]
    plan = plan_levels(source.shape, spacing, levels)
    for name, _ in list(group.arrays()):
        if name.isdigit() and name != base["path"]:
            del group[name]
    for index, level in enumerate(plan[1:], start=1):
        target = create_level(group, str(index), level.shape, source.dtype)
        fill_level(source, target, level.step, workers)
        source = target
    multiscale["datasets"] = [base] + [level_entry(i, level, spacing, origin)
                                       for i, level in enumerate(plan[1:], start=1)]
    if len(plan) > 1:
        multiscale["type"] = DOWNSAMPLING
        multiscale["metadata"] = {"description": "mean over 2 voxels along each halved axis; an axis at "
                                  "least twice as coarse as the finest is kept", "method": f"{__name__}.add_levels"}
    group.attrs["ome"] = {**attrs["ome"], "multiscales": [multiscale]}   # last: the levels are complete
    return len(plan)
