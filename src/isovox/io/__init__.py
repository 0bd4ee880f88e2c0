"""Read and write volumes, keeping their voxel spacing, unit, origin and orientation.

``read(path)`` and ``write(volume, path)`` pick the format from the path's suffix:

=====================================  ==========================================================
suffix                                 format (module)
=====================================  ==========================================================
.tif .tiff / .ome.tif .ome.tiff        ImageJ / plain / OME-TIFF (:mod:`isovox.io.tiff`)
.nii .nii.gz                           NIfTI-1/2 (:mod:`isovox.io.nifti`)
.h5 .hdf5 .hdf (``file.h5:/dataset``)  HDF5 (:mod:`isovox.io.hdf5`)
.zarr .ome.zarr (directories)          Zarr v2/v3, OME-NGFF 0.4/0.5 (:mod:`isovox.io.omezarr`)
.mrc .map .rec .st                     MRC / CCP4 (:mod:`isovox.io.mrc`)
=====================================  ==========================================================

Spacing rules (all formats): ``spacing=(z, y, x)`` fills in missing metadata or overrides it;
``unit=`` overrides the file's unit label. Without spacing in the file or from the user, reading
fails with a one-line :class:`~isovox.errors.IsovoxError` asking for ``--spacing Z Y X``. When the
user gives the spacing and neither the file nor the user gives a unit, the unit is the format's
usual one: nm for TIFF / HDF5 / Zarr, mm for NIfTI, angstrom for MRC.

Every write is atomic (see :mod:`isovox.io.atomic`): the output appears complete or not at all,
an existing output is replaced only with ``overwrite=True``, and the file a volume was read from
(``meta['source']``) is never overwritten.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from ..errors import IsovoxError
from ..volume import Volume
from .atomic import atomic_output, check_free_space, check_output

__all__ = ["read", "write", "write_together", "write_text", "check_output_path", "SUPPORTED_SUFFIXES",
           "split_dataset_path", "format_of", "create_zarr_output", "atomic_output"]

# Longest first, so that '.ome.tif' wins over '.tif' and '.nii.gz' over '.gz'.
_FORMATS: dict[str, str] = {
    ".ome.tiff": "ome-tiff", ".ome.tif": "ome-tiff", ".ome.zarr": "zarr", ".nii.gz": "nifti",
    ".tiff": "tiff", ".tif": "tiff", ".nii": "nifti", ".hdf5": "hdf5", ".hdf": "hdf5",
    ".h5": "hdf5", ".zarr": "zarr", ".mrc": "mrc", ".map": "mrc", ".rec": "mrc", ".st": "mrc",
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(_FORMATS, key=lambda s: (_FORMATS[s], len(s))))
# Format -> module. Modules are imported on first use: each pulls in its own library (zarr alone
# takes ~0.3 s), and reading a TIFF should not pay for nibabel, h5py, zarr and mrcfile.
_MODULES = {"tiff": "tiff", "ome-tiff": "tiff", "nifti": "nifti", "hdf5": "hdf5", "zarr": "omezarr",
            "mrc": "mrc"}

_HDF5_PATH = re.compile(r"^(?P<file>.*\.(?:h5|hdf5|hdf))(?::(?P<dataset>.*))?$", re.IGNORECASE)


def split_dataset_path(text: str | Path) -> tuple[Path, str | None]:
    """Split ``'file.h5:/group/data'`` into ``(Path('file.h5'), '/group/data')``.

    Only a colon right after an HDF5 suffix separates a dataset, so Windows drive letters and
    other formats pass through as ``(Path(text), None)``. ``'file.h5'`` and ``'file.h5:'`` give no
    dataset.
    """
    match = _HDF5_PATH.match(str(text))
    if match is None:
        return Path(text), None
    return Path(match.group("file")), (match.group("dataset") or None)


def format_of(path: str | Path) -> tuple[str, str]:
    """``(format name, matched suffix)`` for a path, or an error listing the supported suffixes."""
    name = Path(path).name.lower()
    for suffix, fmt in _FORMATS.items():
        if name.endswith(suffix):
            return fmt, suffix
    raise IsovoxError(f"unknown file type for {path}; supported suffixes: "
                      f"{' '.join(SUPPORTED_SUFFIXES)}")


def read(path: str | Path, *, spacing: Sequence[float] | None = None, unit: str | None = None,
         channel: int | None = None, lazy: bool = False) -> Volume:
    """Read a 3D volume (axes z, y, x) with its voxel spacing and world position.

    ``spacing`` (z, y, x) and ``unit`` override or fill in the file's metadata; ``channel`` picks
    one channel of a 4D array; ``lazy=True`` returns memory-mapped or dask data where the format
    allows it (see each format module). ``meta['source']`` holds the resolved input path.
    """
    file_path, dataset = split_dataset_path(path)
    fmt, _ = format_of(file_path)
    options: dict[str, Any] = dict(spacing=spacing, unit=unit, channel=channel, lazy=lazy)
    if fmt == "hdf5":
        options["dataset"] = dataset
    return _module(fmt).read(file_path, **options)


def write(volume: Volume, path: str | Path, *, overwrite: bool = False, levels: int | None = None) -> Path:
    """Write ``volume`` in the format named by ``path``'s suffix, atomically; returns the path.

    ``levels`` (.zarr / .ome.zarr only): resolution levels of the OME-Zarr pyramid, level 0
    included (1: full resolution only); None: as many as bring the coarsest level to at most
    256^3 voxels (see :mod:`isovox.io.pyramid`).

    Raises :class:`IsovoxError` if the output directory is missing, the output exists and
    ``overwrite`` is False, the output is the file the volume was read from, or the disk cannot
    hold it.
    """
    check_levels_apply([path], levels)
    with contextlib.ExitStack() as stack:
        return _write_within(stack, volume, path, overwrite, levels)


def write_together(volumes: Sequence[tuple[Volume, str | Path]], texts: Sequence[tuple[str | Path, str]] = (),
                   *, overwrite: bool = False, levels: int | None = None) -> list[Path]:
    """Write several outputs that only make sense together (a simulated volume, its ground truth
    and its record): every one is written to its temporary first, and they are moved into place
    only when all succeeded, so a failure (a full disk) leaves none of them behind. ``levels``:
    as for :func:`write`, for the Zarr outputs among them."""
    check_levels_apply([path for _, path in volumes], levels)
    with contextlib.ExitStack() as stack:
        paths = [_write_within(stack, volume, path, overwrite, levels) for volume, path in volumes]
        for path, text in texts:
            tmp = stack.enter_context(atomic_output(Path(path), suffix=Path(path).suffix, overwrite=overwrite))
            tmp.write_text(text, encoding="utf-8")
            paths.append(Path(path))
        return paths


def check_levels_apply(paths: Sequence[str | Path], levels: int | None) -> None:
    """Pyramid levels asked for outputs none of which is Zarr would be silently lost: refuse
    (a command calls this before its work, :func:`write` again before writing)."""
    if levels is not None and not any(format_of(split_dataset_path(p)[0])[0] == "zarr" for p in paths):
        names = ", ".join(split_dataset_path(p)[0].name for p in paths)
        raise IsovoxError(f"pyramid levels apply to .zarr / .ome.zarr outputs, not {names}")


def _write_within(stack: contextlib.ExitStack, volume: Volume, path: str | Path, overwrite: bool,
                  levels: int | None = None) -> Path:
    """Write ``volume`` to a temporary that becomes ``path`` when ``stack`` closes without error
    (``levels``: passed on to a Zarr writer, ignored by the other formats)."""
    if not isinstance(volume, Volume):
        raise IsovoxError(f"write() needs a Volume, got {type(volume).__name__}")
    file_path, dataset = split_dataset_path(path)
    fmt, suffix = format_of(file_path)
    options: dict[str, Any] = {"levels": levels} if fmt == "zarr" else {}
    if fmt in ("tiff", "ome-tiff"):
        options["ome"] = fmt == "ome-tiff"
    elif fmt == "hdf5":
        options["dataset"] = dataset
    writer = _module(fmt).write
    if fmt != "zarr" and not suffix.endswith(".gz"):
        # Uncompressed (or, for HDF5, compressed by at most this): the size is known up front, and
        # HDF5 and memory-mapped MRC writers crash the interpreter when the disk fills mid-write.
        check_free_space(file_path, _data_bytes(volume))
    tmp = stack.enter_context(atomic_output(file_path, suffix=suffix, directory=(fmt == "zarr"),
                                            overwrite=overwrite, source=volume.meta.get("source")))
    writer(volume, tmp, **options)
    return file_path


def _data_bytes(volume: Volume) -> int:
    return int(np.prod(volume.shape, dtype=np.float64)) * volume.dtype.itemsize


def check_output_path(path: str | Path, *, overwrite: bool = False,
                      inputs: Sequence[str | Path] = ()) -> Path:
    """Fail early (before any work) if ``path`` could not be written; returns the file path.

    Same checks as :func:`write` (directory exists; no silent replacement; never onto, into or
    over one of ``inputs``), for any file, so a command can check all its outputs, including
    reports, model folders and ground truths, before it starts computing.
    """
    file_path, _ = split_dataset_path(path)
    input_files = [split_dataset_path(given)[0] for given in inputs]
    return check_output(file_path, overwrite=overwrite, inputs=input_files)


def write_text(path: str | Path, text: str, *, overwrite: bool = False) -> Path:
    """Write a text file (a JSON report, say) atomically, with the checks of :func:`write`."""
    path = Path(path)
    with atomic_output(path, suffix=path.suffix, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def create_zarr_output(path: str | Path, shape: Sequence[int], dtype: Any, geometry: Any,
                       chunks: Sequence[int] | None = None, *, overwrite: bool = False) -> Any:
    """See :func:`isovox.io.omezarr.create_zarr_output` (imported here on first use)."""
    return _module("zarr").create_zarr_output(path, shape, dtype, geometry, chunks,
                                              overwrite=overwrite)


def _module(fmt: str) -> ModuleType:
    return importlib.import_module(f".{_MODULES[fmt]}", __name__)


def sibling_path(path: str | Path, tag: str, suffix: str | None = None) -> Path:
    """``path`` with ``tag`` added to its stem, in the same folder and format (or ``suffix``).

    ``lr.ome.tif`` + ``_gt`` gives ``lr_gt.ome.tif``; an HDF5 dataset path keeps its dataset.
    """
    file_path, dataset = split_dataset_path(path)
    _, matched = format_of(file_path)
    split = len(file_path.name) - len(matched)
    stem, own_suffix = file_path.name[:split], file_path.name[split:]      # keep the user's case
    sibling = file_path.with_name(f"{stem}{tag}{own_suffix if suffix is None else suffix}")
    return Path(f"{sibling}:{dataset}") if dataset and suffix is None else sibling
