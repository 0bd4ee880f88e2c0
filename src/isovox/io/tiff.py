"""TIFF and OME-TIFF (tifffile).

Conventions read, in this order of preference:

- isovox's own JSON description (plain TIFFs isovox wrote for dtypes ImageJ cannot hold):
  ``{"shape": [...], "axes": "ZYX", "isovox": {"spacing": [z, y, x], "unit": ..., "origin": [...]}}``;
- OME-XML: ``Pixels/@PhysicalSizeX|Y|Z`` with ``PhysicalSize*Unit`` (OME default: micrometre);
  origin from the first plane's ``PositionX|Y|Z``;
- ImageJ: ``spacing=`` (z) and ``unit=`` in the ImageJ description, x / y from the XResolution /
  YResolution tags, which hold pixels per unit (spacing = 1 / resolution); ImageJ spells micrometres
  'micron' or '\\u00B5m'. ImageJ's ``xorigin=`` etc. are in pixels, world = (index - xorigin) * dx.
  No ``spacing=``, no unit and resolution (1, 1) means the image was never calibrated: no spacing.

A plain TIFF carries no z spacing, so it needs ``spacing=``. The array is series 0; its ``axes``
letters (Z, C, T, S, I, Q, Y, X) say which axis is which.

Writing (always uncompressed, contiguous, so the file can be memory-mapped later): ``.ome.tif(f)``
-> OME-TIFF with PhysicalSize* and plane positions; ``.tif`` -> ImageJ hyperstack when ImageJ can
hold the dtype (uint8, uint16, float32), else a plain TIFF with the isovox JSON description above
plus resolution tags.
"""

from __future__ import annotations

import contextlib
import logging
import math
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import tifffile

from ..errors import IsovoxError
from ..units import OME_XML_SYMBOLS, conversion_factor
from ..volume import Volume
from ._common import (iter_slabs, known_unit_or_none, library_errors, make_volume,
                      optional_direction, require_input, resolve_spacing, to_zyx,
                      warn_dropped_direction)

FORMAT = "TIFF"
DEFAULT_UNIT = "nm"
IMAGEJ_DTYPES = (np.dtype("uint8"), np.dtype("uint16"), np.dtype("float32"))
OME_DTYPES = tuple(np.dtype(d) for d in ("int8", "int16", "int32", "uint8", "uint16", "uint32",
                                         "float32", "float64"))
# ImageJ's own spelling for units whose canonical name it does not use.
_IMAGEJ_UNIT_NAMES = {"um": "micron"}
# tifffile logs, instead of raising, when it meets a truncated or corrupt file and then returns
# whatever it could parse (often a single page). These phrases in its log mark such a file; other
# warnings (e.g. 'coercing invalid ASCII to bytes' in a metadata tag) are harmless and ignored.
_CORRUPTION_PHRASES = ("corrupted file", "corrupted tag list", "invalid page offset",
                       "invalid offset to", "invalid circular reference", "invalid value offset",
                       "failed to read", "failed to reshape", "truncat")
# Above this many bytes, plain and OME-TIFF files are written as BigTIFF (offsets past 4 GiB).
_BIGTIFF_BYTES = 2**32 - 2**25


# --- reading -------------------------------------------------------------------------------------

def read(path: Path, *, spacing=None, unit=None, channel=None, lazy: bool = False) -> Volume:
    path = require_input(path)
    with library_errors(path, FORMAT), _corruption_log_raises():
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            file_spacing, file_unit, origin, direction = _geometry(tif, series)
            axes = series.axes
            data, lazy = _load(path, series, lazy)
    data = to_zyx(data, axes, path, channel)
    spacing, unit = resolve_spacing(path, file_spacing, file_unit, spacing, unit, DEFAULT_UNIT)
    return make_volume(data, path=path, fmt="tiff", lazy=lazy, spacing=spacing, unit=unit,
                       origin=origin, direction=direction, meta={"tiff_axes": axes})


@contextlib.contextmanager
def _corruption_log_raises() -> Iterator[None]:
    """Raise on tifffile log messages that mean the file is truncated or corrupt."""
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = _Collect(level=logging.WARNING)
    logger = logging.getLogger("tifffile")
    logger.addHandler(handler)
    try:
        yield
        bad = [m for m in messages if any(phrase in m.lower() for phrase in _CORRUPTION_PHRASES)]
        if bad:
            raise ValueError(f"file is truncated or corrupt ({bad[0].split('> ', 1)[-1]})")
    finally:
        logger.removeHandler(handler)


def _load(path: Path, series: Any, lazy: bool) -> tuple[Any, bool]:
    """Series data: memmap or dask when lazy and possible, else in memory. Returns (data, lazy)."""
    offset = series.dataoffset                       # None unless the data is one contiguous run
    if offset is not None and offset + series.nbytes > path.stat().st_size:
        raise ValueError(f"file is truncated: data needs {offset + series.nbytes} bytes, "
                         f"file has {path.stat().st_size}")
    if not lazy:
        return series.asarray(), False
    if offset is not None:
        # reshape: a guard in case tifffile's memmap and the series disagree on squeezed axes
        return tifffile.memmap(path, series=0, mode="r").reshape(series.shape), True
    # Compressed or scattered data: dask over tifffile's zarr store, which keeps its own file
    # handle open for as long as the dask array is referenced.
    try:
        import dask.array as da
        import zarr
        store = tifffile.imread(path, aszarr=True, series=0)
        return da.from_zarr(zarr.open(store, mode="r")), True
    except Exception:  # noqa: BLE001 - any failure of the optional lazy path: read it whole
        return series.asarray(), False


def _geometry(tif: tifffile.TiffFile, series: Any) -> tuple[Any, str | None, Any, Any]:
    """(spacing z, y, x or None, unit or None, origin, direction or None) from the best metadata
    the file has."""
    shaped = tif.shaped_metadata
    if shaped and isinstance(shaped[0], dict) and isinstance(shaped[0].get("isovox"), dict):
        info = shaped[0]["isovox"]
        return (info.get("spacing"), known_unit_or_none(info.get("unit")),
                tuple(info.get("origin", (0.0, 0.0, 0.0))), optional_direction(info.get("direction")))
    if tif.is_ome and tif.ome_metadata:
        return _ome_geometry(tif.ome_metadata) + (None,)
    if tif.is_imagej:
        return _imagej_geometry(tif.imagej_metadata or {}, tif.pages.first) + (None,)
    return None, None, (0.0, 0.0, 0.0), None


def _pixels_per_unit(page: Any, tag: str) -> float:
    value = page.tags.get(tag)
    if value is None:
        return 1.0
    numerator, denominator = value.value
    return numerator / denominator if denominator else 0.0


def _imagej_geometry(ij: dict, page: Any) -> tuple[Any, str | None, tuple[float, ...]]:
    unit_text = ij.get("unit")
    unit = None if unit_text in (None, "pixel", "pixels") else known_unit_or_none(unit_text)
    xres, yres = _pixels_per_unit(page, "XResolution"), _pixels_per_unit(page, "YResolution")
    if "spacing" not in ij and unit is None and (xres, yres) == (1.0, 1.0):
        return None, None, (0.0, 0.0, 0.0)           # never calibrated in ImageJ
    spacing = (float(ij.get("spacing", 1.0)), 1.0 / yres if yres > 0 else 0.0,
               1.0 / xres if xres > 0 else 0.0)
    # '0.0 -' rather than unary minus, so that an absent origin is 0.0 and not -0.0.
    origin = tuple(0.0 - float(ij.get(f"{a}origin", 0.0)) * s for a, s in zip("zyx", spacing))
    return spacing, unit, origin


def _ome_geometry(xml: str) -> tuple[Any, str | None, tuple[float, ...]]:
    root = ElementTree.fromstring(xml)
    pixels = next((e for e in root.iter() if e.tag.endswith("}Pixels") or e.tag == "Pixels"), None)
    if pixels is None:
        return None, None, (0.0, 0.0, 0.0)
    sizes = [pixels.get(f"PhysicalSize{a}") for a in "ZYX"]
    units = [known_unit_or_none(pixels.get(f"PhysicalSize{a}Unit", "µm")) for a in "ZYX"]
    if any(s is None for s in sizes) or any(u is None for u in units):
        return None, None, (0.0, 0.0, 0.0)
    unit = units[2]                                   # express all three in the x unit
    spacing = tuple(float(s) * conversion_factor(u, unit) for s, u in zip(sizes, units))
    return spacing, unit, _ome_origin(pixels, unit)


def _ome_origin(pixels: Any, unit: str) -> tuple[float, ...]:
    """World position of the first plane's corner voxel, when the file gives it in lengths."""
    plane = next((e for e in pixels if e.tag.endswith("Plane") and e.get("TheZ", "0") == "0"), None)
    if plane is None:
        return (0.0, 0.0, 0.0)
    origin = []
    for axis in "ZYX":
        value, axis_unit = plane.get(f"Position{axis}"), known_unit_or_none(plane.get(f"Position{axis}Unit"))
        origin.append(float(value) * conversion_factor(axis_unit, unit) if value and axis_unit else 0.0)
    return tuple(origin)


# --- writing -------------------------------------------------------------------------------------

def write(volume: Volume, path: Path, *, ome: bool = False) -> None:
    """Write ``volume`` to ``path`` (a temporary file chosen by :mod:`isovox.io.atomic`)."""
    ensure_writable_dtype(volume, ome)
    dtype = volume.dtype.newbyteorder("=")
    if ome:
        _write_ome(volume, path, dtype)
    elif dtype in IMAGEJ_DTYPES:
        _write_imagej(volume, path, dtype)
    else:
        _write_plain(volume, path, dtype)


def _pages(volume: Volume, dtype: np.dtype) -> Any:
    """The data for tifffile: the array itself if in memory, else z-slices read one by one."""
    if isinstance(volume.data, np.ndarray):
        return np.ascontiguousarray(volume.data, dtype=dtype)
    return (slab[0].astype(dtype, copy=False) for _, slab in iter_slabs(volume.data, 1))


def _resolution(volume: Volume) -> tuple[float, float]:
    """XResolution, YResolution: pixels per unit."""
    return 1.0 / volume.spacing[2], 1.0 / volume.spacing[1]


def _write_imagej(volume: Volume, path: Path, dtype: np.dtype) -> None:
    warn_dropped_direction(volume, "ImageJ TIFF")
    metadata = {"axes": "ZYX", "spacing": volume.spacing[0],
                "unit": _IMAGEJ_UNIT_NAMES.get(volume.unit, volume.unit)}
    for axis, origin, step in zip("zyx", volume.origin, volume.spacing):
        if origin != 0:
            metadata[f"{axis}origin"] = -origin / step  # ImageJ keeps the origin in pixels
    tifffile.imwrite(path, _pages(volume, dtype), shape=volume.shape, dtype=dtype, imagej=True,
                     resolution=_resolution(volume), metadata=metadata)


def _write_plain(volume: Volume, path: Path, dtype: np.dtype) -> None:
    info = {"spacing": list(volume.spacing), "unit": volume.unit, "origin": list(volume.origin),
            "direction": volume.direction.tolist()}
    tifffile.imwrite(path, _pages(volume, dtype), shape=volume.shape, dtype=dtype,
                     resolution=_resolution(volume), resolutionunit="NONE",
                     metadata={"axes": "ZYX", "isovox": info},
                     bigtiff=volume.dtype.itemsize * math.prod(volume.shape) > _BIGTIFF_BYTES)


def _write_ome(volume: Volume, path: Path, dtype: np.dtype) -> None:
    warn_dropped_direction(volume, "OME-TIFF")
    symbol = OME_XML_SYMBOLS[volume.unit]
    metadata: dict[str, Any] = {"axes": "ZYX"}
    for axis, step in zip("ZYX", volume.spacing):
        metadata[f"PhysicalSize{axis}"] = step
        metadata[f"PhysicalSize{axis}Unit"] = symbol
    # Plane k's position is the world position of voxel (k, 0, 0), taken from the volume's affine.
    corners = [volume.affine @ np.array([k, 0.0, 0.0, 1.0]) for k in range(volume.shape[0])]
    metadata["Plane"] = {}
    for index, axis in enumerate("ZYX"):
        metadata["Plane"][f"Position{axis}"] = [float(c[index]) for c in corners]
        metadata["Plane"][f"Position{axis}Unit"] = [symbol] * len(corners)
    tifffile.imwrite(path, _pages(volume, dtype), shape=volume.shape, dtype=dtype, ome=True,
                     metadata=metadata,
                     bigtiff=volume.dtype.itemsize * math.prod(volume.shape) > _BIGTIFF_BYTES)


def ensure_writable_dtype(volume: Volume, ome: bool = False) -> None:
    """TIFF holds every real numeric dtype; complex and bool need a decision from the user, and
    OME-XML has pixel types for 8/16/32-bit integers and 32/64-bit floats only."""
    dtype = volume.dtype.newbyteorder("=")
    if dtype.kind in "cbOUSV" or (ome and dtype not in OME_DTYPES):
        kind = "OME-TIFF" if ome else "TIFF"
        raise IsovoxError(f"{kind} output cannot store dtype {dtype}; convert the volume first"
                          + (" or write a plain .tif" if ome else ""))
