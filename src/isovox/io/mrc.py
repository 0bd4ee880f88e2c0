"""MRC / CCP4 maps (mrcfile): ``.mrc``, ``.map``, ``.rec``, ``.st``.

The data block is (sections, rows, columns); with the standard axis mapping (mapc, mapr, maps) =
(1, 2, 3) that is already (z, y, x), and other mappings are transposed to it. ``voxel_size`` is
(x, y, z) in angstrom (cell size / sampling), so spacing is it reversed; all zero means the file
was never calibrated (no spacing). ``header.origin`` (x, y, z, angstrom) is the origin; the
nxstart / nystart / nzstart fields are ignored. A volume stack (4D) needs ``channel=N``.

MRC modes store int8, int16, uint16, float16, float32 and complex64 exactly. Other dtypes
(int32, uint32, int64, float64) have no MRC mode: writing them is an error rather than a silent
lossy conversion. Spacing and origin are written in angstrom.

uint8, the usual EM dtype, is written as mode 0, one byte per voxel, marked unsigned the way
IMOD marks it: IMOD's stamp at byte 152 with the "bytes are signed" bit of ``imodFlags`` (byte
156) clear. Why not the alternatives: MRC2014 defines mode 0 as signed int8, and mrcfile follows
it by widening uint8 to mode 6 (uint16: twice the size, and every reader then sees uint16);
shifting the values into int8 would change them. The field's 8-bit EM data is unsigned, and the
readers it is opened with honour IMOD's marker. So, for a uint8 volume written by isovox:
isovox, IMOD (3dmod, header) and Fiji / Bio-Formats 6.13 and later read uint8, bit for bit;
mrcfile and strict MRC2014 readers read the same bytes as int8 (128..255 show as -128..-1), as
does Bio-Formats before 6.13. The header statistics (dmin, dmax, dmean, rms) describe the
unsigned values, which ``mrcfile.validate`` (reading int8) reports as inaccurate. On reading,
any mode 0 file with that marker (IMOD writes them) is uint8; without it, mode 0 is int8.

bool is stored as int8 (mode 0, no IMOD marker) with the label ``isovox dtype=bool`` and cast
back on read; files written by earlier isovox versions (uint8 as mode 6 with the label
``isovox dtype=uint8``) read back as uint8 the same way.

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
UINT8 = np.dtype("uint8")
# dtype -> dtype it is stored as: uint8's bytes as they are (the IMOD marker says unsigned),
# bool with a header label that restores it on read.
CAST_DTYPES = {UINT8: np.dtype("int8"), np.dtype("bool"): np.dtype("int8")}
LABEL_PREFIX = "isovox dtype="
_HEADER_BYTES = 1024
# IMOD's marker for mode 0 (see the module docstring): a stamp word at byte 152 and a flags word
# at byte 156 whose lowest bit means "bytes are signed". Both lie inside mrcfile's 'extra2' field.
IMOD_STAMP = 1146047817
_IMOD_STAMP_BYTE = 152
_IMOD_SIGNED_BYTES = 1


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
    original = _labelled_dtype(header) or (UINT8 if _has_unsigned_bytes(header) else None)
    if original is not None:
        data = _as_dtype(data, original, lazy)
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


def _imod_slot(header: Any) -> tuple[int, np.dtype]:
    """Where IMOD's two words start inside ``extra2``, and int32 in the header's byte order."""
    start = _IMOD_STAMP_BYTE - header.dtype.fields["extra2"][1]
    return start, np.dtype(header.dtype.fields["nversion"][0])


def _has_unsigned_bytes(header: Any) -> bool:
    """Mode 0 marked unsigned the IMOD way (IMOD's stamp, its signed-bytes flag clear)."""
    if int(header.mode) != 0:
        return False
    start, word = _imod_slot(header)
    stamp, flags = np.frombuffer(bytes(header.extra2)[start:start + 8], dtype=word)
    return int(stamp) == IMOD_STAMP and not int(flags) & _IMOD_SIGNED_BYTES


def _mark_unsigned_bytes(header: Any) -> None:
    start, word = _imod_slot(header)
    extra = bytearray(bytes(header.extra2))
    extra[start:start + 8] = np.array([IMOD_STAMP, 0], dtype=word).tobytes()
    header.extra2 = bytes(extra)


def _as_dtype(data: Any, dtype: np.dtype, lazy: bool) -> Any:
    """The data as ``dtype``: bytes reinterpreted between int8 and uint8 (no copy, no byte order
    to mind), else a cast (uint16 -> uint8 from older isovox files; int8 -> bool)."""
    if data.dtype.itemsize == dtype.itemsize == 1 and data.dtype.kind in "iu" and dtype.kind in "iu":
        return data.view(dtype)
    if not lazy:
        return data.astype(dtype)
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
    dtype = volume.dtype.newbyteorder("=")
    with mrcfile.new_mmap(str(path), shape=volume.shape, mrc_mode=mode, overwrite=True) as mrc:
        _reserve_blocks(path)
        for start, slab in iter_slabs(volume.data, 16):
            mrc.data[start:start + slab.shape[0]] = _as_dtype(slab, target, lazy=False)
        mrc.voxel_size = tuple(volume.spacing[::-1])
        mrc.header.origin = tuple(volume.origin[::-1])
        if dtype == UINT8:                     # the IMOD marker, not a label, says what it is
            _mark_unsigned_bytes(mrc.header)
            _set_unsigned_byte_stats(mrc)
        else:
            if target != dtype:
                mrc.add_label(f"{LABEL_PREFIX}{dtype.name}")
            mrc.update_header_stats()


def _set_unsigned_byte_stats(mrc: Any) -> None:
    """Header min / max / mean / rms of the bytes read as unsigned (mrcfile's own update would
    read them as int8), from a 256-bin histogram built slab by slab: exact, in bounded memory."""
    counts = np.zeros(256, dtype=np.int64)
    for _, slab in iter_slabs(mrc.data, 16):
        counts += np.bincount(slab.view(UINT8).ravel(), minlength=256)
    levels = np.arange(256, dtype=np.float64)
    present = np.flatnonzero(counts)
    mean = counts @ levels / counts.sum()
    mrc.header.dmin, mrc.header.dmax = float(present[0]), float(present[-1])
    mrc.header.dmean = mean
    mrc.header.rms = np.sqrt(counts @ (levels - mean) ** 2 / counts.sum())
