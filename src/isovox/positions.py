"""Sections at arbitrary positions: a positions file puts an irregular stack on a regular grid.

Every other part of isovox assumes sections at a constant spacing along the low-resolution axis.
Real serial-section stacks are not always so: a section is lost in cutting, the stage steps
unevenly, sections of varying thickness are imaged. A *positions file* says where each acquired
section lies along the low-resolution axis, and :func:`regularise` resamples the stack onto a
regular grid before anything else sees it (defect detection, training, reconstruction).

The file (:func:`read_positions`): one number per line, in the volume's length unit; blank lines
and everything after a '#' are ignored, and numbers may also be separated by commas or spaces.
The positions must be finite and strictly increasing (a duplicate is an error: two sections
cannot lie at one place), and there must be one per section along the axis.

The regular grid (:class:`RegularGrid`):

- its **step** is the *median* of the differences between consecutive positions, so a stack that
  lost one section keeps its step and the loss shows up as a gap (the mean would shrink the step
  to a value no pair of sections has);
- it runs from the first position to the last: ``round((last - first) / step) + 1`` slices.
  Positions are world coordinates along the axis, like the origin: the origin moves to the first
  position and the spacing along the axis becomes the step (positions win over any spacing the
  file or the user gave along that axis).

Each regular slice is the linear interpolation between the two acquired sections around its
position (in float64, cast back to the input's dtype). A regularly spaced list gives back the
input data exactly. Slices inside a gap wider than 1.5 steps are therefore *linear bridges*
between the sections on either side: exactly what :mod:`isovox.gaps` does for a defective
section, for the same reason (no data there; linear never overshoots), so a lost section looks
the same to reconstruction whether it was blank in the stack or missing from the positions. When
the stack's span is not a whole number of steps, the last slice lies up to half a step past the
last section and takes that section's values: nothing is extrapolated.

The result's ``meta`` records ``positions_file`` (the path, or None for positions given in
Python), ``regularised_from`` (the number of acquired sections), ``regularised_axis`` and
``wide_gaps`` (the ``[from, to]`` positions of each gap wider than 1.5 steps).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import IsovoxError
from .resample import cast_to_dtype
from .volume import AXIS_NAMES, Volume, axis_index, check_intensity_dtype, lowres_axis

__all__ = ["RegularGrid", "apply_positions", "describe_regularisation", "read_positions", "regularise"]

#: A gap wider than this many steps holds slices bridged from its two sides (reported in meta).
WIDE_GAP_STEPS = 1.5
# Weights this close to 0 or 1 are exactly 0 or 1: decimal positions in a text file are not exact
# in binary (3 * 0.1 != 0.3), and a regular stack must come back bit for bit.
_WEIGHT_SNAP = 1e-9
_CHUNK_BYTES = 64 * 2**20     # float64 working memory per chunk of output slices
_SEPARATORS = re.compile(r"[,\s]+")


# --- the file ------------------------------------------------------------------------------------

def read_positions(path: str | Path) -> np.ndarray:
    """The positions listed in ``path`` (float64, strictly increasing); see the module docstring."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise IsovoxError(f"cannot read the positions file {path}: {reason}") from None
    values: list[float] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for token in filter(None, _SEPARATORS.split(line.split("#", 1)[0].strip())):
            values.append(_number(token, path, number))
            lines.append(number)
    if not values:
        raise IsovoxError(f"the positions file {path} lists no positions (one number a line, in the volume's unit)")
    positions = np.asarray(values, dtype=np.float64)
    bad = _first_not_increasing(positions)
    if bad is not None:
        raise IsovoxError(f"positions file {path}: {_not_increasing(positions, bad)} (lines {lines[bad]} and "
                          f"{lines[bad + 1]}); positions must increase strictly, one per section")
    return positions


def _number(token: str, path: Path, line: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise IsovoxError(f"positions file {path}, line {line}: {token!r} is not a number") from None
    if not math.isfinite(value):
        raise IsovoxError(f"positions file {path}, line {line}: {token!r} is not a finite number")
    return value


def _first_not_increasing(positions: np.ndarray) -> int | None:
    """Index ``i`` of the first pair with ``positions[i + 1] <= positions[i]``, or None."""
    offending = np.flatnonzero(np.diff(positions) <= 0)
    return int(offending[0]) if len(offending) else None


def _not_increasing(positions: np.ndarray, index: int) -> str:
    first, second = positions[index], positions[index + 1]
    if first == second:
        return f"position {first:g} is listed twice"
    return f"position {first:g} is followed by {second:g}"


# --- the grid ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RegularGrid:
    """``count`` slices every ``step`` from ``first`` (see the module docstring for the choice)."""

    first: float
    step: float
    count: int

    @classmethod
    def of(cls, positions: np.ndarray) -> "RegularGrid":
        step = float(np.median(np.diff(positions)))
        return cls(float(positions[0]), step, int(round((positions[-1] - positions[0]) / step)) + 1)

    @property
    def positions(self) -> np.ndarray:
        return self.first + self.step * np.arange(self.count)

    def interpolation(self, acquired: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lower section, weight of the upper one) per slice: slice = (1 - w) lower + w upper."""
        targets = self.positions
        upper = np.clip(np.searchsorted(acquired, targets, side="right"), 1, len(acquired) - 1)
        lower = upper - 1
        weight = (targets - acquired[lower]) / (acquired[upper] - acquired[lower])
        weight = np.clip(weight, 0.0, 1.0)    # the last slice may lie past the last section
        weight[weight < _WEIGHT_SNAP] = 0.0
        weight[weight > 1.0 - _WEIGHT_SNAP] = 1.0
        return lower, weight

    def wide_gaps(self, acquired: np.ndarray) -> list[list[float]]:
        """``[from, to]`` of each gap between sections wider than :data:`WIDE_GAP_STEPS` steps."""
        wide = np.flatnonzero(np.diff(acquired) > WIDE_GAP_STEPS * self.step)
        return [[float(acquired[i]), float(acquired[i + 1])] for i in wide]


# --- the volume ----------------------------------------------------------------------------------

def regularise(volume: Volume, positions: Sequence[float], axis: int | str,
               source: str | Path | None = None) -> Volume:
    """``volume`` (read into memory) on the regular grid of ``positions`` along ``axis``, one
    position per section; ``source`` names the positions file in messages and in ``meta``."""
    axis = axis_index(axis)
    check_intensity_dtype(volume.dtype)
    where = f"{source}: " if source is not None else ""
    acquired = _checked_positions(positions, volume.shape[axis], axis, where)
    grid = RegularGrid.of(acquired)
    lower, weight = grid.interpolation(acquired)
    data = _interpolated(volume.numpy(), axis, lower, weight)
    spacing, origin = list(volume.spacing), np.asarray(volume.origin)
    spacing[axis] = grid.step
    along = volume.direction[:, axis]       # unit vector: the first position becomes the origin's
    origin = origin + along * (grid.first - along @ origin)
    meta = {**volume.meta, "positions_file": None if source is None else str(source),
            "regularised_from": len(acquired), "regularised_axis": AXIS_NAMES[axis],
            "wide_gaps": grid.wide_gaps(acquired)}
    return volume.replace(data=data, spacing=tuple(spacing), origin=tuple(origin), meta=meta)


def apply_positions(volume: Volume, path: str | Path, axis: int | str | None = None) -> Volume:
    """``volume`` regularised by the positions file ``path`` along ``axis`` (default: the
    low-resolution axis of its spacing)."""
    positions = read_positions(path)
    if axis is None:
        try:
            axis = lowres_axis(volume.spacing)
        except IsovoxError as reason:
            raise IsovoxError(f"cannot tell which axis the positions of {path} are along ({reason}); "
                              "give a spacing that is coarsest along it") from None
    return regularise(volume, positions, axis, source=path)


def describe_regularisation(volume: Volume) -> str:
    """One line on what :func:`regularise` did to ``volume`` (from its ``meta``)."""
    axis = AXIS_NAMES.index(volume.meta["regularised_axis"])
    text = (f"{volume.meta['regularised_from']} sections -> {volume.shape[axis]} slices every "
            f"{volume.spacing[axis]:g} {volume.unit} along {AXIS_NAMES[axis]}")
    gaps = volume.meta["wide_gaps"]
    if gaps:
        text += f"; {len(gaps)} gap(s) wider than {WIDE_GAP_STEPS:g} steps bridged linearly"
    return text


def _checked_positions(positions: Sequence[float], n_sections: int, axis: int, where: str) -> np.ndarray:
    acquired = np.asarray(positions, dtype=np.float64)
    if acquired.ndim != 1 or len(acquired) != n_sections:
        raise IsovoxError(f"{where}{acquired.size} positions for {n_sections} sections along "
                          f"{AXIS_NAMES[axis]}; give one position per section")
    if n_sections < 2:
        raise IsovoxError(f"{where}one section along {AXIS_NAMES[axis]} has no spacing to regularise; "
                          "positions need at least 2 sections")
    if not np.all(np.isfinite(acquired)):
        raise IsovoxError(f"{where}positions must be finite numbers")
    bad = _first_not_increasing(acquired)
    if bad is not None:
        raise IsovoxError(f"{where}{_not_increasing(acquired, bad)} (sections {bad} and {bad + 1}); "
                          "positions must increase strictly")
    return acquired


def _interpolated(data: np.ndarray, axis: int, lower: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Slice ``j`` of the result along ``axis``: ``(1 - w_j) data[lower_j] + w_j data[lower_j + 1]``,
    computed in float64 in chunks of slices so that memory stays bounded."""
    sections = np.moveaxis(data, axis, 0)
    shape = list(data.shape)
    shape[axis] = len(lower)
    result = np.empty(shape, dtype=data.dtype)
    slices = np.moveaxis(result, axis, 0)
    per_chunk = max(1, _CHUNK_BYTES // (8 * sections[0].size))
    for start in range(0, len(lower), per_chunk):
        part = slice(start, start + per_chunk)
        w = weight[part, None, None]
        below = sections[lower[part]].astype(np.float64)
        above = sections[lower[part] + 1].astype(np.float64)
        slices[part] = cast_to_dtype((1.0 - w) * below + w * above, data.dtype)
    return result
