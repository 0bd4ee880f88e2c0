"""The real stacks of ``real_sections.py`` (see its docstring, "Grid arithmetic"), as named datasets.

Each loads the full-spacing stack the sections are withheld from: the CREMI sample binned to 20 nm
or a central window at 4 nm, and ISBI 2012 area-downsampled to 12.5 nm (50 / 4 is not a whole
number, 50 / 12.5 is).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import isovox
from isovox.volume import Volume

from harness import ISBI_SSTEM


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    load: Callable[[int], Volume]      # crop -> the full-spacing stack the sections are taken from


def read_uint8(path: Path, spacing: tuple[float, float, float]) -> Volume:
    volume = isovox.read(path, spacing=spacing, unit="nm")
    assert volume.dtype == np.uint8, f"{path} is {volume.dtype}; DATA_RANGE assumes uint8"
    return volume


def central_window(volume: Volume, size: int) -> Volume:
    """The central ``size`` x ``size`` lateral window (axes 1, 2), every section."""
    start = [0] + [max(0, (n - size) // 2) for n in volume.shape[1:]]
    stop = [volume.shape[0]] + [s + min(size, n) for s, n in zip(start[1:], volume.shape[1:])]
    window = volume.crop(start, stop)
    return window.replace(data=np.ascontiguousarray(window.data))


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix averaging the input pixels under each output pixel.

    Output pixel ``i`` covers input interval ``[i r, (i + 1) r)`` with ``r = n_in / n_out``; an input
    pixel ``[k, k + 1)`` counts by its overlap, so a non-integer ratio (3.125) is exact too.
    """
    ratio = n_in / n_out
    edges = np.arange(n_out + 1) * ratio
    pixel = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], pixel + 1) - np.maximum(edges[:-1, None], pixel)
    return np.clip(overlap, 0, None) / ratio


def area_downsample_lateral(volume: Volume, size: int) -> Volume:
    """Area-average every section to ``size`` x ``size`` (float32: the means are not re-quantised)."""
    rows = area_weights(volume.shape[1], size).astype(np.float32)
    cols = area_weights(volume.shape[2], size).astype(np.float32)
    data = np.matmul(rows, np.asarray(volume.data, np.float32) @ cols.T)
    scale = [1.0, volume.shape[1] / size, volume.shape[2] / size]
    # an output pixel's centre sits at input index (i + 0.5) r - 0.5
    shift = [0.0, scale[1] / 2 - 0.5, scale[2] / 2 - 0.5]
    return volume.on_new_grid(data, scale=scale, shift=shift)


def load_cremi_x4(crop: int) -> Volume:
    return area_downsample_lateral(read_uint8(isovox.fetch_sample(), (40, 4, 4)), 125)


def load_cremi_native(crop: int) -> Volume:
    return central_window(read_uint8(isovox.fetch_sample(), (40, 4, 4)), crop)


def load_isbi_x8(crop: int) -> Volume:
    return area_downsample_lateral(central_window(read_uint8(ISBI_SSTEM, (50, 4, 4)), 500), 160)


DATASETS = {d.name: d for d in (
    Dataset("cremi-x4", "CREMI ssTEM crop, binned 5x5 to 20 nm; kept 80 nm -> 20 nm (x4)", load_cremi_x4),
    Dataset("cremi-native", "CREMI ssTEM crop, central window at 4 nm; kept 80 nm -> 4 nm (x20)",
            load_cremi_native),
    Dataset("isbi-x8", "ISBI 2012 ssTEM, 500^2 area-downsampled to 12.5 nm; kept 100 nm -> 12.5 nm (x8)",
            load_isbi_x8),
)}
