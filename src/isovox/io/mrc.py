"""MRC / CCP4 maps (mrcfile): ``.mrc``, ``.map``, ``.rec``, ``.st``.

The data block is (sections, rows, columns); with the standard axis mapping (mapc, mapr, maps) =
(1, 2, 3) that is already (z, y, x), and other mappings are transposed to it. ``voxel_size`` is
(x, y, z) in angstrom (cell size / sampling), so spacing is it reversed; all zero means the file
was never calibrated (no spacing). ``header.origin`` (x, y, z, angstrom) is the origin; the
nxstart / nystart / nzstart fields are ignored. A volume stack (4D) needs ``channel=N``.

MRC modes store int8, int16, uint16, float16, float32 and complex64 exactly. uint8 (which
mrcfile stores as mode 6, uint16) and bool (stored as int8) are written with the label
``isovox dtype=uint8`` / ``isovox dtype=bool`` and cast back on read, so values and dtype both
round-trip. Other dtypes (int32, uint32, int64, float64) have no MRC mode: writing them is an
error rather than a silent lossy conversion. Spacing and origin are written in angstrom.

``lazy=True`` memory-maps the data block (a dask array when a label cast is needed).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import mrcfile
import mrcfile.utils
import numpy as np

from ..errors import IsovoxError
from ..volume import Volume
from ._common import (iter_slabs, library_errors, make_volume, require_input, resolve_spacing,
                      to_zyx, warn_dropped_direction)

FORMAT = "MRC"
DEFAULT_UNIT = "angstrom"
EXACT_DTYPES = tuple(np.dtype(d) for d in ("int8", "int16", "uint16", "float16", "float32", "complex64"))
# dtype -> dtype it is stored as; a header label restores the original on read.
CAST_DTYPES = {np.dtype("uint8"): np.dtype("uint16"), np.dtype("bool"): np.dtype("int8")}
LABEL_PREFIX = "isovox dtype="
_HEADER_BYTES = 1024


# --- reading -------------------------------------------------------------------------------------

def read(path: Path, *, spacing=None, unit=None, channel=None, lazy: bool = False) -> Volume:
    path = require_input(path)
    with library_errors(path, FORMAT), warnings.catch_warnings():
        warnings.simplefilter("ignore")        # mrcfile warns, then raises, on bad headers
        with mrcfile.open(str(path), mode="r", header_only=lazy) as mrc:
            header = mrc.header.copy()
            voxel = mrc.voxel_size
            file_spacing = (float(voxel.z), float(voxel.y), float(voxel.x))
            data = _memmap(path, header) if lazy else mrc.data
    original = _labelled_dtype(header)
    if original is not None:
        data = _cast_lazily(data, original) if lazy else data.astype(original)
    data = to_zyx(data, _axes(header, data.ndim), path, channel)
    if file_spacing == (0.0, 0.0, 0.0):
        file_spacing = None                    # MRC's 'not calibrated'
    spacing, unit = resolve_spacing(path, file_spacing, "angstrom", spacing, unit, DEFAULT_UNIT)
    origin = tuple(float(header.origin[a]) for a in ("z", "y", "x"))
    return make_volume(data, path=path, fmt="mrc", lazy=lazy, spacing=spacing, unit=unit,
                       origin=origin)


def _axes(header: Any, ndim: int) -> str:
    """Letters of the data axes (sections, rows, columns) from mapc / mapr / maps."""
    mapping = (int(header.maps), int(header.mapr), int(header.mapc))
    letters = "".join("XYZ"[m - 1] for m in mapping) if sorted(mapping) == [1, 2, 3] else "ZYX"
    if ndim == 4:
        return "C" + letters                   # volume stack: (volume, z, y, x)
    return letters[-ndim:]


def _memmap(path: Path, header: Any) -> np.memmap:
    """The data block as a read-only memmap (it stays valid after the MRC file is closed)."""
    offset = _HEADER_BYTES + int(header.nsymbt)
    dtype = mrcfile.utils.data_dtype_from_header(header)
    shape = mrcfile.utils.data_shape_from_header(header)
    needed = offset + int(np.prod(shape)) * dtype.itemsize
    if needed > path.stat().st_size:
        raise ValueError(f"file is truncated: data needs {needed} bytes, file has {path.stat().st_size}")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def _labelled_dtype(header: Any) -> np.dtype | None:
    for raw in header.label[: int(header.nlabl)]:
        text = bytes(raw).decode("ascii", "replace").strip()
        if text.startswith(LABEL_PREFIX):
            return np.dtype(text[len(LABEL_PREFIX):].strip())
    return None


def _cast_lazily(data: np.memmap, dtype: np.dtype) -> Any:
    import dask.array as da
    return da.from_array(data, chunks="auto").astype(dtype)


# --- writing -------------------------------------------------------------------------------------

def stored_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype the data is written as, or a one-line error if MRC cannot hold it exactly."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype in EXACT_DTYPES:
        return dtype
    if dtype in CAST_DTYPES:
        return CAST_DTYPES[dtype]
    names = ", ".join(str(d) for d in EXACT_DTYPES + tuple(CAST_DTYPES))
    raise IsovoxError(f"MRC cannot store dtype {dtype} exactly (it holds {names}); convert the "
                      "volume or write .tif, .h5 or .zarr")


def _reserve_blocks(path: Path) -> None:
    """Allocate the (sparse) memory-mapped file's blocks now: a full disk then raises ENOSPC here,
    instead of killing the process with SIGBUS at the first store into an unbacked page."""
    if not hasattr(os, "posix_fallocate"):
        return
    descriptor = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(descriptor, 0, os.fstat(descriptor).st_size)
    finally:
        os.close(descriptor)


def write(volume: Volume, path: Path) -> None:
    """Write ``volume`` to ``path`` (a temporary file chosen by :mod:`isovox.io.atomic`)."""
    target = stored_dtype(volume.dtype)
    warn_dropped_direction(volume, "MRC")
    volume = volume.in_unit("angstrom")        # MRC's only unit
    mode = mrcfile.utils.mode_from_dtype(target)
    with mrcfile.new_mmap(str(path), shape=volume.shape, mrc_mode=mode, overwrite=True) as mrc:
        _reserve_blocks(path)
        for start, slab in iter_slabs(volume.data, 16):
            mrc.data[start:start + slab.shape[0]] = slab.astype(target, copy=False)
        mrc.voxel_size = tuple(volume.spacing[::-1])
        mrc.header.origin = tuple(volume.origin[::-1])
        if target != volume.dtype.newbyteorder("="):
            mrc.add_label(f"{LABEL_PREFIX}{volume.dtype.newbyteorder('=').name}")
        mrc.update_header_stats()
