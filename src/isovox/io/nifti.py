"""NIfTI-1 / NIfTI-2 (nibabel), ``.nii`` and ``.nii.gz``.

nibabel's array axes are (i, j, k) with i varying fastest on disk, and its affine maps
(i, j, k, 1) to world (RAS+, mm) at voxel centres. isovox's axes are (z, y, x) = (k, j, i), so the
array is transposed (a view: the bytes on disk are already in C order for z, y, x). isovox writes
world coordinates in (z, y, x) order for every format, so our affine is nibabel's with its first
three columns AND rows reversed: world (S, A, R) for indices (k, j, i). A TIFF volume written as
NIfTI then comes out in the standard orientation, and a NIfTI origin reads as (z, y, x) like every
other format's. From the affine: spacing = column norms, direction = normalised columns, origin =
translation. Any orientation (flips, obliques, a through-plane axis
that is not k) is therefore carried exactly.

The length unit comes from ``xyzt_units`` (mm when unknown, as the NIfTI standard says). NIfTI
can only say metre, mm or micron, so a volume in nm or angstrom is written in micron (cm in mm),
converted with :meth:`Volume.in_unit`. Many tools ignore ``xyzt_units`` and take every NIfTI
spacing as mm: to them an EM volume written in micron looks 1000 times too large (isovox, and
code that reads the field, get it right). Writing a NIfTI whose unit is not mm therefore warns
(one ``warning:`` line on the command line).

The header read is kept in ``meta['nifti_header']``; writing reuses a copy of it (data dtype,
shape, zooms and both sform / qform replaced from the volume's affine, their codes kept), so
fields such as ``descrip``, ``intent`` or ``qform_code`` survive a read / process / write cycle.
A 4D file (time or components in the 4th / 5th dimension) needs ``channel=N``.

``lazy=True`` memory-maps an uncompressed, unscaled ``.nii``; anything else (``.nii.gz``, scaled
data) has no useful random access and is read into memory.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

from ..errors import IsovoxError
from ..volume import Volume
from ._common import (known_unit_or_none, library_errors, make_volume, require_input,
                      resolve_spacing, to_zyx)

FORMAT = "NIfTI"
DEFAULT_UNIT = "mm"
# Canonical unit -> NIfTI xyz unit name, and the unit a volume is converted to when NIfTI has
# no name for its own.
_NIFTI_UNIT_NAMES = {"mm": "mm", "um": "micron", "m": "meter"}
_CONVERT_TO = {"nm": "um", "angstrom": "um", "cm": "mm"}
_NIB_AXES = "XYZTC"          # nibabel dims: i, j, k, then time, then vector components
_REVERSE = [2, 1, 0, 3]      # (z, y, x, 1) <-> (i, j, k, 1) columns, and (S, A, R) <-> (R, A, S) rows
_SWAP = np.ix_(_REVERSE, _REVERSE)
_ALIGNED = 2                 # sform/qform code 'aligned to another file', nibabel's default


# --- reading -------------------------------------------------------------------------------------

def read(path: Path, *, spacing=None, unit=None, channel=None, lazy: bool = False) -> Volume:
    path = require_input(path)
    # nibabel logs header repairs (a zero pixdim set to 1) to stderr; isovox decides on them itself
    with library_errors(path, FORMAT), _quiet_nibabel():
        image = nib.load(str(path), mmap=lazy)       # mmap=False: really read into memory
        if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
            raise ValueError(f"not a NIfTI image ({type(image).__name__})")
        header = image.header.copy()
        affine = np.asarray(image.affine, dtype=float)[_SWAP]
        _check_declared_size(path, header, lazy)
        data = np.asanyarray(image.dataobj)          # memmap if lazy, uncompressed, unscaled
    if data.ndim > len(_NIB_AXES):
        raise IsovoxError(f"{path}: NIfTI with {data.ndim} dimensions is not supported")
    lazy = lazy and isinstance(data, np.memmap)
    data = to_zyx(data, _NIB_AXES[:data.ndim], path, channel)
    file_spacing, direction = _split_affine(affine)
    if _spacing_unknown(path):
        file_spacing = None                          # nibabel would silently say 1 (mm)
    file_unit = known_unit_or_none(header.get_xyzt_units()[0])
    spacing, unit = resolve_spacing(path, file_spacing, file_unit, spacing, unit, DEFAULT_UNIT)
    return make_volume(data, path=path, fmt="nifti", lazy=lazy, spacing=spacing, unit=unit,
                       origin=affine[:3, 3], direction=direction,
                       meta={"nifti_header": header})


@contextlib.contextmanager
def _quiet_nibabel():
    logger = nib.imageglobals.logger
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_declared_size(path: Path, header, lazy: bool) -> None:
    """A header that claims more data than the file holds (or than memory can take) fails before
    anything is allocated, with the numbers."""
    from ..runtime import check_fits_in_memory

    shape = [int(n) for n in header.get_data_shape()]
    declared = int(np.prod(shape, dtype=np.float64)) * header.get_data_dtype().itemsize
    if not path.name.lower().endswith(".gz"):
        stored = path.stat().st_size - int(header.get_data_offset())
        if declared > stored:
            raise IsovoxError(f"cannot read {path} as {FORMAT}: the header declares {shape} voxels ({declared} "
                              f"bytes) but the file holds {max(stored, 0)} bytes of data; truncated or corrupt")
    if not lazy:
        check_fits_in_memory(declared, f"reading {path.name} ({' x '.join(map(str, shape))} voxels)",
                             "read it lazily (blockwise reconstruction) or crop it first")


def _spacing_unknown(path: Path) -> bool:
    """No sform, no qform, and a zero or negative pixdim: the file does not say its spacing.

    Read from the raw header bytes: nibabel's loader replaces a zero pixdim by 1 without a word.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        block = handle.read(540)
    header_class = nib.Nifti2Header if len(block) >= 540 and block[:4] in (b"\x1c\x02\x00\x00",
                                                                          b"\x00\x00\x02\x1c") \
        else nib.Nifti1Header
    raw = header_class(block[:header_class.sizeof_hdr], check=False)
    if int(raw["sform_code"]) > 0 or int(raw["qform_code"]) > 0:
        return False
    return bool(np.any(np.asarray(raw["pixdim"][1:4], dtype=float) <= 0))


def _split_affine(affine: np.ndarray) -> tuple[tuple[float, ...], np.ndarray]:
    """(spacing, direction) from a (z, y, x) affine; a zero column keeps an identity direction."""
    columns = affine[:3, :3]
    norms = np.linalg.norm(columns, axis=0)
    direction = np.where(norms > 0, columns / np.where(norms > 0, norms, 1.0), np.eye(3))
    return tuple(float(n) for n in norms), direction


# --- writing -------------------------------------------------------------------------------------

def write(volume: Volume, path: Path) -> None:
    """Write ``volume`` to ``path`` (its suffix, .nii or .nii.gz, picks the compression)."""
    if volume.unit in _CONVERT_TO:
        volume = volume.in_unit(_CONVERT_TO[volume.unit])
    nib_affine = volume.affine[_SWAP]
    header = _header_for(volume, nib_affine)
    image_class = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
    data = np.asarray(volume.data).transpose(2, 1, 0)   # (x, y, z) view, Fortran order on disk
    # affine=None: the header we just filled is authoritative (nibabel would otherwise reset the
    # sform / qform codes whenever the float32 qform differs from the affine by rounding).
    image = image_class(data, None, header=header)
    nib.save(image, str(path))
    if volume.unit != DEFAULT_UNIT:         # said once the file exists: a failed write has only its error
        warnings.warn(f"NIfTI output is in {_NIFTI_UNIT_NAMES[volume.unit]} (xyzt_units); tools that "
                      "ignore that field read its spacing as mm", UserWarning, stacklevel=3)


def _header_for(volume: Volume, nib_affine: np.ndarray) -> nib.Nifti1Header:
    """The source header (a copy) or a new one, updated to describe ``volume``."""
    source = volume.meta.get("nifti_header")
    header = source.copy() if isinstance(source, nib.Nifti1Header) else nib.Nifti1Header()
    try:
        header.set_data_dtype(volume.dtype)
    except Exception as exc:  # nibabel raises HeaderDataError with a long message
        raise IsovoxError(f"NIfTI cannot store dtype {volume.dtype}; convert the volume "
                          "first (e.g. bool to uint8, float16 to float32)") from exc
    header.set_data_shape(volume.shape[::-1])
    header.set_zooms(volume.spacing[::-1])
    # Keep the codes the file had (they say what the world frame is); a header with neither
    # set would make readers fall back to pixdim and lose the origin, so use 'aligned' then.
    sform_code, qform_code = int(header["sform_code"]), int(header["qform_code"])
    if source is None or (sform_code == 0 and qform_code == 0):
        sform_code = qform_code = _ALIGNED
    header.set_sform(nib_affine, code=sform_code)
    header.set_qform(nib_affine, code=qform_code)
    header.set_slope_inter(1.0, 0.0)                    # values are stored as they are
    header.set_xyzt_units(xyz=_NIFTI_UNIT_NAMES[volume.unit], t=header.get_xyzt_units()[1])
    return header
