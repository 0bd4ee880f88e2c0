"""HDF5 (h5py): ``file.h5`` or ``file.h5:/group/dataset``.

Without a dataset name the file must hold exactly one 3D dataset. Arrays are (z, y, x).

Spacing, looked up on the dataset and then on the file's root group:
- ``resolution`` (z, y, x), in the ``unit`` attribute if there is one, else nm (the CREMI
  convention, e.g. ``volumes/raw`` in the CREMI challenge files);
- ``element_size_um`` (z, y, x) in micrometres (ilastik and Fiji's HDF5 plugin).
Origin from ``offset`` (CREMI, same unit as the spacing) or ``origin``; a non-identity direction
from isovox's ``direction`` attribute (3x3, columns = array axes).

Writing creates a new file with one dataset (default name ``volume``), chunked (~64^3) and
gzip-compressed, with attributes ``resolution``, ``unit``, ``offset`` (and ``direction`` when it
is not the identity), plus ``element_size_um`` (z, y, x in micrometres, float32) so that ilastik
and Fiji's HDF5 plugin see the spacing too; on reading, ``resolution`` takes precedence. An
existing file is replaced as a whole, not edited.

A 4D dataset (no axis names in plain HDF5) is taken as channels-first (c, z, y, x), unless its last
axis is short (<= 4) and its first is not, as in ilastik's (z, y, x, c); ``channel=N`` picks one.

``lazy=True`` returns a dask array over the h5py dataset. The h5py file stays open for as long as
that array (and so the Volume) is referenced, and closes when it is garbage-collected; dask reads
it under a lock because HDF5 is not thread-safe for concurrent reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import IsovoxError
from ..volume import Volume
from ._common import (guess_axes, is_dask, iter_slabs, known_unit_or_none, library_errors,
                      make_volume, optional_direction, require_input, resolve_spacing, to_zyx)

FORMAT = "HDF5"
DEFAULT_UNIT = "nm"
DEFAULT_DATASET = "volume"
_CHUNK = 64


# --- reading -------------------------------------------------------------------------------------

def read(path: Path, *, dataset: str | None = None, spacing=None, unit=None, channel=None,
         lazy: bool = False) -> Volume:
    path = require_input(path)
    with library_errors(path, FORMAT):
        handle = h5py.File(path, "r")
    try:
        with library_errors(path, FORMAT):
            node = _find_dataset(handle, path, dataset)
            attrs = _geometry_attrs(node, handle)
            name = node.name
            data: Any = _lazy_array(node) if lazy else node[()]
        data = to_zyx(data, guess_axes(node.shape), path, channel)
    except BaseException:
        handle.close()
        raise
    if not lazy:
        handle.close()
    file_spacing, file_unit, origin, direction = attrs
    spacing, unit = resolve_spacing(path, file_spacing, file_unit, spacing, unit, DEFAULT_UNIT)
    return make_volume(data, path=path, fmt="hdf5", lazy=lazy, spacing=spacing, unit=unit,
                       origin=origin, direction=direction, meta={"dataset": name})


def list_datasets(handle: h5py.File) -> list[h5py.Dataset]:
    found: list[h5py.Dataset] = []
    handle.visititems(lambda name, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def _find_dataset(handle: h5py.File, path: Path, name: str | None) -> h5py.Dataset:
    if name:
        node = handle.get(name)
        if not isinstance(node, h5py.Dataset):
            names = ", ".join(d.name for d in list_datasets(handle)) or "none"
            raise IsovoxError(f"no dataset {name!r} in {path}; datasets: {names}")
        return node
    datasets = list_datasets(handle)
    volumes = [d for d in datasets if d.ndim == 3]
    if len(volumes) == 1:
        return volumes[0]
    if not volumes and len(datasets) == 1:
        return datasets[0]                       # the only dataset: its shape error says more
    if not datasets:
        raise IsovoxError(f"no datasets in {path}")
    names = ", ".join(f"{d.name} {d.shape}" for d in datasets)
    raise IsovoxError(f"{path} holds several datasets ({names}); name one as {path}:/DATASET")


def _attr(node: h5py.Dataset, handle: h5py.File, key: str) -> Any:
    for holder in (node, handle):
        if key in holder.attrs:
            return holder.attrs[key]
    return None


def _geometry_attrs(node: h5py.Dataset, handle: h5py.File) -> tuple[Any, str | None, Any, Any]:
    """(spacing, unit, origin, direction) from the attribute conventions in the module docstring."""
    origin = _attr(node, handle, "offset")
    origin = _attr(node, handle, "origin") if origin is None else origin
    origin = (0.0, 0.0, 0.0) if origin is None else tuple(np.asarray(origin, float).ravel())
    direction = optional_direction(_attr(node, handle, "direction"))
    resolution = _attr(node, handle, "resolution")
    if resolution is not None:
        unit = known_unit_or_none(_attr(node, handle, "unit")) or "nm"
        return tuple(np.asarray(resolution, float).ravel()), unit, origin, direction
    element_size = _attr(node, handle, "element_size_um")
    if element_size is not None:
        return tuple(np.asarray(element_size, float).ravel()), "um", origin, direction
    return None, None, origin, direction


def _lazy_array(node: h5py.Dataset) -> Any:
    import dask.array as da
    # chunks="auto" follows the dataset's own chunking; the dataset keeps its file open.
    return da.from_array(node, chunks="auto", lock=True)


# --- writing -------------------------------------------------------------------------------------

def write(volume: Volume, path: Path, *, dataset: str | None = None) -> None:
    """Write ``volume`` as dataset ``dataset`` (default 'volume') of a new file at ``path``."""
    if volume.dtype.kind in "OUSV":
        raise IsovoxError(f"HDF5 output cannot store dtype {volume.dtype}")
    chunks = tuple(min(_CHUNK, n) for n in volume.shape)
    with h5py.File(path, "w") as handle:
        node = handle.create_dataset(dataset or DEFAULT_DATASET, shape=volume.shape,
                                     dtype=volume.dtype, chunks=chunks, compression="gzip",
                                     compression_opts=4, shuffle=True)
        node.attrs["resolution"] = np.asarray(volume.spacing, dtype=float)
        node.attrs["unit"] = volume.unit
        node.attrs["element_size_um"] = np.asarray(volume.in_unit("um").spacing, dtype=np.float32)
        node.attrs["offset"] = np.asarray(volume.origin, dtype=float)
        if not np.allclose(volume.direction, np.eye(3)):
            node.attrs["direction"] = volume.direction
        _copy_data(volume.data, node, chunks[0])


def _copy_data(data: Any, node: h5py.Dataset, depth: int) -> None:
    if is_dask(data):
        import dask.array as da
        da.store(data, node, lock=True)          # h5py writes must not run concurrently
        return
    for start, slab in iter_slabs(data, depth):
        node[start:start + slab.shape[0]] = slab
