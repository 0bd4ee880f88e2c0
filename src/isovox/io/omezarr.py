"""Zarr and OME-Zarr (zarr >= 3), ``.zarr`` / ``.ome.zarr`` directories.

Read, in this order:
- OME-NGFF 0.5: a Zarr v3 group whose ``zarr.json`` attributes hold ``{"ome": {"version": "0.5",
  "multiscales": [...]}}``;
- OME-NGFF 0.4 (and earlier): a Zarr v2 group whose ``.zattrs`` hold ``"multiscales"``;
- a plain array (or a group holding exactly one 3D array) with optional attributes ``spacing``
  (z, y, x), ``unit`` and ``origin``; without them the user must give the spacing.
For OME the first multiscale and its first (finest) dataset are used; axes come from the ``axes``
list (t, c, z, y, x), spacing from the ``scale`` and origin from the ``translation``
transformation (dataset-level composed with any multiscale-level one), unit from the axes.
OME-NGFF has no rotation, so a non-identity direction is kept in ``isovox.direction``.

Written: an OME-NGFF 0.5 image group, full resolution in array ``0`` of chunks ~64^3 (clipped to
the shape), Blosc-zstd compressed, dimension names z, y, x, and a multiscale pyramid below it in
arrays ``1``, ``2``, ... (``levels``: how many, level 0 included; default: until the coarsest holds
at most 256^3 voxels, so a small volume keeps one level; see :mod:`isovox.io.pyramid`).
:func:`create_zarr_output` makes the group with an empty level 0 for code that fills it block by
block, and :func:`isovox.io.pyramid.add_levels` adds the lower levels once it is full. Readers
take level 0 (the finest), so a pyramid reads back as its full-resolution volume.

``lazy=True`` returns ``dask.array.from_zarr`` of the array; otherwise the array is read into
memory.
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import zarr

from ..errors import IsovoxError
from ..units import OME_NAMES, conversion_factor
from ..volume import Volume
from ._common import (guess_axes, is_dask, iter_slabs, known_unit_or_none, library_errors,
                      make_volume, optional_direction, require_input, resolve_spacing, to_zyx)
from .pyramid import add_levels, create_level, dataset_entry, plan_levels

FORMAT = "Zarr"
DEFAULT_UNIT = "nm"
OME_VERSION = "0.5"
_ZERO = (0.0, 0.0, 0.0)


# --- reading -------------------------------------------------------------------------------------

def read(path: Path, *, spacing=None, unit=None, channel=None, lazy: bool = False) -> Volume:
    path = require_input(path)
    with library_errors(path, FORMAT):
        node = zarr.open(str(path), mode="r")
        array, axes, file_spacing, file_unit, origin, direction = _locate(node, path)
        _warn_absent_chunks(array, path)
        if lazy:
            import dask.array as da
            data: Any = da.from_zarr(array)
        else:
            data = array[...]
    data = to_zyx(data, axes, path, channel)
    spacing, unit = resolve_spacing(path, file_spacing, file_unit, spacing, unit, DEFAULT_UNIT)
    return make_volume(data, path=path, fmt="zarr", lazy=lazy, spacing=spacing, unit=unit,
                       origin=origin, direction=direction)


def _warn_absent_chunks(array: Any, path: Path) -> None:
    """Zarr reads an absent chunk as the fill value without a word; a deleted or never-written
    chunk then looks like real zeros. Say how many are absent (sparse stores omit constant chunks
    on purpose, so this is a warning, not an error)."""
    try:
        total, stored = int(array.nchunks), int(array.nchunks_initialized)
    except (AttributeError, TypeError, NotImplementedError):
        return
    if stored < total:
        warnings.warn(f"{total - stored} of {total} chunks of {path} are absent and read as the fill value "
                      f"{array.fill_value}; if the store was not written sparse on purpose, it is incomplete",
                      UserWarning, stacklevel=3)


def _locate(node: Any, path: Path) -> tuple[Any, str, Any, str | None, Any, Any]:
    """(array, axes letters, spacing, unit, origin, direction) for a group or an array."""
    if isinstance(node, zarr.Array):
        return _plain(node)
    attrs = dict(node.attrs)
    multiscales = (attrs.get("ome") or {}).get("multiscales") or attrs.get("multiscales")
    direction = optional_direction((attrs.get("isovox") or {}).get("direction"))
    if multiscales:
        return _ome(node, multiscales[0]) + (direction,)
    arrays = [a for _, a in node.arrays()]
    volumes = [a for a in arrays if a.ndim == 3]
    if len(volumes) == 1 or len(arrays) == 1:
        return _plain((volumes or arrays)[0])
    names = ", ".join(f"{a.basename} {a.shape}" for a in arrays) or "none"
    raise IsovoxError(f"{path} is a Zarr group with no OME multiscales and not exactly one 3D "
                      f"array (arrays: {names}); point to the array itself")


def _plain(array: Any) -> tuple[Any, str, Any, str | None, Any, Any]:
    attrs = dict(array.attrs)
    origin = tuple(attrs.get("origin", _ZERO))
    return (array, guess_axes(array.shape), attrs.get("spacing"), known_unit_or_none(attrs.get("unit")),
            origin, optional_direction(attrs.get("direction")))


def _axis_letters(axes: Sequence[Any] | None, ndim: int) -> tuple[str, list[str | None]]:
    """Letters (Z, Y, X, C, T) and per-axis units from an OME ``axes`` list."""
    if not axes:                                     # OME 0.1-0.3: always (t, c, z, y, x)
        return "TCZYX"[-ndim:], [None] * ndim
    letters, units = "", []
    for axis in axes:
        entry = axis if isinstance(axis, dict) else {"name": axis}
        name, kind = str(entry.get("name", "")).lower(), entry.get("type")
        if name in ("z", "y", "x") or kind == "space":
            letters += name.upper() if name in ("z", "y", "x") else "Z"
        else:
            letters += "C" if kind == "channel" or name == "c" else "T"
        units.append(entry.get("unit"))
    return letters, units


def _transforms(items: Sequence[dict] | None, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    scale, translation = np.ones(ndim), np.zeros(ndim)
    for item in items or ():
        if item.get("type") == "scale":
            scale = np.asarray(item["scale"], dtype=float)
        elif item.get("type") == "translation":
            translation = np.asarray(item["translation"], dtype=float)
    return scale, translation


def _ome(group: Any, multiscale: dict) -> tuple[Any, str, Any, str | None, Any]:
    dataset = multiscale["datasets"][0]
    array = group[dataset["path"]]
    letters, units = _axis_letters(multiscale.get("axes"), array.ndim)
    scale, translation = _transforms(dataset.get("coordinateTransformations"), array.ndim)
    # A multiscale-level transformation applies after the dataset's: x -> s2 (s1 x + t1) + t2.
    outer_scale, outer_translation = _transforms(multiscale.get("coordinateTransformations"), array.ndim)
    scale, translation = outer_scale * scale, outer_scale * translation + outer_translation
    spatial = [letters.index(a) for a in "ZYX" if a in letters]
    if len(spatial) != 3:
        return array, letters, None, None, _ZERO
    axis_units = [known_unit_or_none(units[i]) for i in spatial]
    unit = axis_units[2]
    if unit is None or None in axis_units:
        return array, letters, tuple(scale[spatial]), None, tuple(translation[spatial])
    factors = [conversion_factor(u, unit) for u in axis_units]   # express all in the x unit
    return (array, letters, tuple(scale[spatial] * factors), unit,
            tuple(translation[spatial] * factors))


# --- writing -------------------------------------------------------------------------------------

def ome_attributes(geometry: Any) -> dict:
    """Group attributes of an OME-NGFF 0.5 image for a grid with ``geometry``'s spacing / origin."""
    name = OME_NAMES[geometry.unit]
    multiscale = {
        "axes": [{"name": a, "type": "space", "unit": name} for a in ("z", "y", "x")],
        "datasets": [dataset_entry("0", geometry.spacing, geometry.origin)],
    }
    attrs: dict = {"ome": {"version": OME_VERSION, "multiscales": [multiscale]}}
    direction = getattr(geometry, "direction", None)
    if direction is not None and not np.allclose(direction, np.eye(3)):
        attrs["isovox"] = {"direction": np.asarray(direction).tolist()}
    return attrs


def create_zarr_output(path: Path | str, shape: Sequence[int], dtype: Any, geometry: Any,
                       chunks: Sequence[int] | None = None, *, overwrite: bool = False) -> Any:
    """An empty, writable zarr array ``0`` inside a new OME-Zarr 0.5 group at ``path``.

    ``geometry`` gives the output grid: a Volume, or any object with ``spacing`` (z, y, x),
    ``unit`` (canonical) and ``origin`` (and optionally ``direction``) of the *output* grid, e.g.
    ``volume.on_new_grid(np.broadcast_to(np.zeros((), dtype), shape), scale=...)``. ``chunks``
    defaults to ~64^3 clipped to the shape. To make the result atomic, call this on the path
    yielded by :func:`isovox.io.atomic.atomic_output` (``directory=True``).
    """
    # An empty directory (as atomic_output makes) is fine; anything else needs overwrite.
    if not overwrite and Path(path).exists() and (not Path(path).is_dir() or any(Path(path).iterdir())):
        raise IsovoxError(f"{path} exists; pass --overwrite to replace it")
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.attrs.update(ome_attributes(geometry))
    return create_level(group, "0", shape, dtype, chunks)


def write(volume: Volume, path: Path, *, levels: int | None = None) -> None:
    """Write ``volume`` as an OME-Zarr 0.5 image into the (empty) directory ``path``, with
    ``levels`` pyramid levels (see :func:`isovox.io.pyramid.plan_levels`; None: automatic)."""
    if volume.dtype.kind in "OUSV":
        raise IsovoxError(f"Zarr output cannot store dtype {volume.dtype}")
    plan_levels(volume.shape, volume.spacing, levels)         # a bad request fails before any writing
    array = create_zarr_output(path, volume.shape, volume.dtype, volume, overwrite=True)
    try:
        if is_dask(volume.data):
            import dask.array as da
            # One dask chunk per zarr chunk: no two tasks ever write the same chunk.
            da.store(volume.data.rechunk(array.chunks), array, lock=False)
        else:
            for start, slab in iter_slabs(volume.data, array.chunks[0]):
                array[start:start + slab.shape[0]] = slab
        add_levels(path, levels)
    except BaseException:
        _settle_pending_writes()
        raise


def _settle_pending_writes(timeout: float = 30.0) -> None:
    """When one chunk write fails (a full disk), zarr raises at once while its I/O thread still
    runs the slab's other chunk writes; they would recreate files after the caller removed the
    partial output. Wait for them to end (zarr's loop is private API: skipped if it moves)."""
    try:
        from zarr.core.sync import _get_loop
        loop = _get_loop()
    except (ImportError, AttributeError, RuntimeError):
        return

    async def settle() -> None:
        current = asyncio.current_task()
        await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not current), return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(settle(), loop).result(timeout=timeout)
    except Exception:
        pass
