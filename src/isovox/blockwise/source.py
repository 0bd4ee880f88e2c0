"""Where blocks read their input regions from: a small object that travels to every worker.

A worker reads only its block's region (``volume.crop(...)``), never the whole volume. How the
volume reaches a worker depends on what it is:

- **a path** (what the command line passes): each worker process opens the file itself, lazily
  (:func:`isovox.io.read` with ``lazy=True``: dask over Zarr / OME-Zarr / HDF5, a memory map for
  an uncompressed TIFF), once per process (:data:`_OPENED`), with the spacing and unit the driver
  resolved, so every worker sees the same grid;
- **a memory-mapped Volume**: pickled as the map's file name, offset, shape and dtype, and mapped
  again in the worker (pickling a ``np.memmap`` would copy the whole array);
- **any other Volume** (numpy in memory, dask over Zarr): shared as is by worker threads,
  pickled with its data for worker processes, which is fine where the volume fits in memory
  anyway. HDF5 opened lazily cannot be pickled: pass its path instead.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from ..errors import IsovoxError
from ..volume import Volume

# (path, channel, spacing, unit) -> Volume opened lazily in this process (threads share it).
_OPENED: dict[tuple, Volume] = {}
_OPEN_LOCK = threading.Lock()


class InputSource:
    """The input volume of a blockwise run; :meth:`region` reads one block's region."""

    def __init__(self, volume: Volume, path: str | None = None, channel: int | None = None) -> None:
        self.path = None if path is None else str(path)
        self.channel = channel
        self.shape, self.dtype = volume.shape, volume.dtype
        self.geometry = dict(spacing=volume.spacing, unit=volume.unit, origin=volume.origin,
                             direction=volume.direction)
        self._volume: Volume | None = volume
        self._memmap: dict | None = None
        self.gaps: Any = None                      # isovox.gaps.SectionGaps to bridge, or None

    # --- reading ------------------------------------------------------------------------------
    @property
    def volume(self) -> Volume:
        if self._volume is None:
            self._volume = self._reopen()
        return self._volume

    def region(self, start: Sequence[int], stop: Sequence[int]) -> Volume:
        """The sub-volume ``[start, stop)`` in memory (numpy), with its origin moved to match."""
        region = self.volume.crop(start, stop)
        data = _computed(region.data)
        if self.gaps is not None:                  # bridged exactly as in memory (isovox.gaps)
            from ..gaps import fill_region

            data = fill_region(data, int(start[self.gaps.axis]), self.gaps,
                               lambda k: self._section(k, start, stop))
        return region.replace(data=data)

    def _section(self, index: int, start: Sequence[int], stop: Sequence[int]) -> np.ndarray:
        """Section ``index`` along the gaps' axis, over the region's extent on the other axes."""
        axis = self.gaps.axis
        lower = [int(s) for s in start]
        upper = [int(s) for s in stop]
        lower[axis], upper[axis] = index, index + 1
        return np.take(_computed(self.volume.crop(lower, upper).data), 0, axis=axis)

    def _reopen(self) -> Volume:
        if self._memmap is not None:
            info = self._memmap
            data = np.memmap(info["filename"], dtype=info["dtype"], mode="r", offset=info["offset"],
                             shape=info["shape"], order=info["order"])
            return Volume(data=data, **self.geometry)
        key = (self.path, self.channel, self.geometry["spacing"], self.geometry["unit"])
        with _OPEN_LOCK:
            if key not in _OPENED:
                from .. import io

                opened = io.read(self.path, spacing=self.geometry["spacing"], unit=self.geometry["unit"],
                                 channel=self.channel, lazy=True)
                if opened.shape != self.shape:
                    raise IsovoxError(f"{self.path} changed while it was being reconstructed: shape "
                                      f"{opened.shape}, was {self.shape}")
                _OPENED[key] = opened
            return _OPENED[key]

    # --- pickling (what a worker process receives) -------------------------------------------
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        data = None if self._volume is None else self._volume.data
        if self.path is not None:
            state["_volume"] = None                # reopened by path in the worker
        elif isinstance(data, np.memmap) and getattr(data, "filename", None):
            state["_volume"] = None
            state["_memmap"] = _memmap_info(data)
        elif self._volume is not None and self._volume.meta.get("format") == "hdf5" and self._volume.is_lazy:
            raise IsovoxError("a lazily read HDF5 volume cannot be sent to worker processes; "
                              "pass its path instead of the Volume")
        return state

    def describe(self) -> dict:
        """What identifies this input in a resume record."""
        return {"path": self.path, "channel": self.channel, "shape": list(self.shape),
                "dtype": str(self.dtype), "spacing": list(self.geometry["spacing"]),
                "unit": self.geometry["unit"], "origin": list(self.geometry["origin"])}


def _computed(data: Any) -> np.ndarray:
    if hasattr(data, "dask"):                     # one task reads its own region, synchronously
        data = data.compute(scheduler="synchronous")
    return np.asarray(data)


def _memmap_info(data: np.memmap) -> dict:
    """File, byte offset and layout of a memory map, also for a view that starts inside it."""
    base = data
    while isinstance(getattr(base, "base", None), np.memmap):
        base = base.base
    start = data.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if not (data.flags.c_contiguous or data.flags.f_contiguous):
        raise IsovoxError("a strided view of a memory-mapped volume cannot be sent to worker "
                          "processes; pass the file's path instead")
    return {"filename": str(data.filename), "dtype": data.dtype.str, "offset": int(base.offset) + int(start),
            "shape": tuple(data.shape), "order": "C" if data.flags.c_contiguous else "F"}


def source_for(volume_or_path: Any, *, spacing: Sequence[float] | None = None, unit: str | None = None,
               channel: int | None = None) -> InputSource:
    """An :class:`InputSource` for a path (read lazily) or a :class:`Volume`."""
    if isinstance(volume_or_path, Volume):
        if spacing is not None or unit is not None or channel is not None:
            raise IsovoxError("spacing, unit and channel apply to an input path; the Volume has its own")
        return InputSource(volume_or_path)
    from .. import io

    volume = io.read(volume_or_path, spacing=spacing, unit=unit, channel=channel, lazy=True)
    # An absolute path (workers may run elsewhere), keeping an HDF5 dataset name.
    file_path, dataset = io.split_dataset_path(volume_or_path)
    path = str(file_path.resolve()) + (f":{dataset}" if dataset else "")
    return InputSource(volume, path=path, channel=channel)
