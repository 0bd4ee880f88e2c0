"""Defective sections become gaps that reconstruction bridges: one rule for every path.

A section found defective (:mod:`isovox.defects`: blank, saturated, dark or bright, a duplicate)
or named by the user carries no information about its position. isovox treats it as *absent*:
its values are replaced, before anything else sees the volume, by linear interpolation along the
low-resolution axis between the nearest good sections on either side (constant beyond the first
or last good one). Every later step (interpolation to the target grid, the slice-wise and 3D
networks, blockwise reconstruction) then runs unchanged on a volume whose grid and spacing are
those of the acquisition, so outputs with and without defects stay comparable voxel for voxel.

Why linear and why first: a gap has no data, so any method's answer there is a guess from its
neighbours; linear is the guess that never overshoots (cubic through a blank section rings), and
filling before reconstruction means the gap is handled in one place instead of in every method.
A missing section between two good ones is then exactly the withheld-section problem, which the
networks were trained to solve at their factor; wider gaps degrade gracefully towards linear.

Blockwise reconstruction reads regions: :func:`fill_region` fills the sections of a region from
the good neighbours read on demand (which may lie outside the region, so a block's result equals
the whole-volume result exactly: the test suite checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .errors import IsovoxError
from .resample import cast_to_dtype
from .volume import AXIS_NAMES, Volume

__all__ = ["SectionGaps", "fill_gaps", "fill_region", "find_gaps"]


@dataclass(frozen=True)
class SectionGaps:
    """Sections ``bad`` (sorted indices along ``axis``, of ``n`` sections) to bridge."""

    axis: int
    bad: tuple[int, ...]
    n: int

    def __post_init__(self) -> None:
        if len(self.bad) >= self.n:
            raise IsovoxError(f"all {self.n} sections along {AXIS_NAMES[self.axis]} are defective; nothing "
                              "to reconstruct from")

    def neighbours(self, index: int) -> tuple[int, float, int, float]:
        """(lower good section, its weight, upper good section, its weight) for bad ``index``."""
        bad = set(self.bad)
        lower = next((k for k in range(index - 1, -1, -1) if k not in bad), None)
        upper = next((k for k in range(index + 1, self.n) if k not in bad), None)
        if lower is None:
            return upper, 1.0, upper, 0.0          # type: ignore[return-value]
        if upper is None:
            return lower, 1.0, lower, 0.0
        weight = (index - lower) / (upper - lower)
        return lower, 1.0 - weight, upper, weight

    def to_dict(self) -> dict:
        return {"axis": AXIS_NAMES[self.axis], "bad_sections": list(self.bad)}


def find_gaps(volume: Volume, axis: int, extra: Sequence[int] = (), detect: bool = True) -> SectionGaps | None:
    """The defective sections of ``volume`` along ``axis`` (detected and/or ``extra``), or None."""
    from .defects import detect_defects

    if not detect and not extra:
        return None
    if detect and volume.shape[axis] < MIN_SECTIONS_TO_DETECT:
        detect = False                         # too few sections for robust statistics
    report = detect_defects(volume, axis, extra=tuple(extra), detect=detect)
    return SectionGaps(axis, tuple(report.indices), volume.shape[axis]) if report.indices else None


#: Below this many sections the detector's local statistics mean little: only user indices apply.
MIN_SECTIONS_TO_DETECT = 8


def fill_region(data: np.ndarray, start: int, gaps: SectionGaps,
                read_section: Callable[[int], np.ndarray]) -> np.ndarray:
    """``data`` (a region whose first index along ``gaps.axis`` is ``start``) with its bad sections
    replaced; ``read_section(k)`` returns good section ``k`` of the whole volume (same cross-section
    as the region)."""
    stop = start + data.shape[gaps.axis]
    inside = [k for k in gaps.bad if start <= k < stop]
    if not inside:
        return data
    filled = np.array(data, copy=True)
    moved = np.moveaxis(filled, gaps.axis, 0)
    for index in inside:
        lower, w_lower, upper, w_upper = gaps.neighbours(index)
        value = w_lower * _section(lower, start, moved, read_section)
        if w_upper:
            value = value + w_upper * _section(upper, start, moved, read_section)
        moved[index - start] = cast_to_dtype(np.asarray(value, dtype=np.float64), filled.dtype)
    return filled


def _section(index: int, start: int, moved: np.ndarray, read_section: Callable[[int], np.ndarray]) -> np.ndarray:
    local = index - start
    if 0 <= local < moved.shape[0]:
        return moved[local].astype(np.float64)
    return np.asarray(read_section(index), dtype=np.float64)


def fill_gaps(volume: Volume, gaps: SectionGaps | None) -> Volume:
    """``volume`` (read into memory) with the sections of ``gaps`` bridged; unchanged if None."""
    if gaps is None:
        return volume
    data = volume.numpy()
    taken = lambda k: np.take(data, k, axis=gaps.axis)       # noqa: E731
    filled = fill_region(data, 0, gaps, taken)
    return volume.replace(data=filled, meta={**volume.meta, "bridged_sections": list(gaps.bad)})
