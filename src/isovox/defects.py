"""Defective sections along the low-resolution axis: found from the data, or given by the user.

Serial-section stacks lose sections (blank), over- or under-expose them (saturated, dark,
bright) and image some twice (duplicate). ``detect_defects`` reads the volume once, in chunks of
sections of bounded size (a lazy dask / zarr volume is never loaded whole), and measures per
section: mean, std, the fraction of pixels at the volume's minimum and maximum, and the Pearson
correlation with the previous section on a grid of at most 256 x 256 samples.

Rules (precedence blank, saturated, duplicate, dark / bright; defaults in :class:`DefectRules`).
Each flags an *abrupt* change: at the edge of an MRI head the content fades over several slices,
and that is air, not a defect.

- **blank**: std <= 0.1 x the median section std (EM tissue keeps >= 0.73 of it: CREMI 0.73,
  ISBI 0.79, FlyEM 0.88; a lost section is constant or detector noise), in a run with an
  ordinary section next to it: std >= 0.5 x the median and not *emptier* than its neighbours
  (its fraction of pixels at the minimum exceeds the median of its 10 nearest sections' by
  > 0.1, counted only where the minimum is a background value, see below). Next to Colin27's
  empty edge slices sit slices with < 0.2 x the median std or, sampled coarser than x4, with
  >= 0.3 more background than their neighbours.
- **saturated**: >= 20 % of the pixels at the volume's minimum or maximum, for an extreme that
  the median section uses for < 1 % of its pixels. EM sections hold <= 0.3 % at an extreme
  (ISBI); one that ordinary sections use a lot is background (Colin27's air, 0, is 24 % to
  100 % of a slice), not clipping.
- **duplicate**: correlation with the previous section >= 0.999, and ``1 - r`` <= 0.1 x the
  median ``1 - r`` of the stack, so ordinary neighbours differ much more (median r: ISBI 0.22,
  CREMI 0.32, FlyEM at 10 nm 0.95, Colin27 at 1 mm 0.98, max 0.994). The later section of the
  pair is reported. Constant sections (MRI air) have no correlation and are never duplicates.
- **dark / bright**: ``z = (mean - median) / max(1.4826 x MAD, 0.1 x median std)`` over the 10
  nearest compared sections (5 a side, shifted at the ends; flagged and emptier sections are
  not compared); dark below -6, bright above 6, in a run with a neighbour at z < 3 in the same
  direction. The local window follows slow trends (EM brightness drift, MRI anatomy). Six
  robust sigmas: a Gaussian passes it with odds ~1e-9 and a 10-section MAD is a loose estimate;
  ordinary real sections reach |z| = 2.9 (ISBI) and, next to a fade, 5.0 (Colin27 up to x4;
  5.97 at x7), an exposure failure -15 to -30 (FlyEM x0.3). The floor keeps a very steady
  stack (CREMI's means move < 1 grey level per section) from flagging a few grey levels: a
  flagged mean is off by >= 0.6 x the tissue contrast. The neighbour test tells a step from a
  fade: Colin27's edge runs reach |z| = 7.3 but their neighbours stay >= 4.2.

Tuned on CREMI (25 x 625 x 625 at 40 nm: exactly the all-zero section 14), ISBI 2012 (30 x 512
x 512 at 50 nm: clean), FlyEM FIB-SEM (250^3 at 10 nm: clean along every axis; x4 sections with
injected defects: all found, nothing else) and Colin27 T1 MRI (1 mm: nothing along z, y or x,
as acquired or degraded x1.5 to x10 through-plane by every recipe). User sections (``extra``)
get reason 'user' unless the detector already named them.
"""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np

from .errors import IsovoxError
from .volume import AXIS_NAMES, Volume, axis_index, lowres_axis

REASONS = ("blank", "saturated", "dark", "bright", "duplicate", "user")
_CHUNK_BYTES = 64 * 2**20     # float64 working memory per chunk of sections
_GRID_POINTS = 256            # correlation grid: at most this many samples per lateral axis
_MAD_TO_SIGMA = 1.4826        # MAD of a Gaussian times this is its sigma


@dataclass(frozen=True)
class DefectRules:
    """Thresholds of the rules in the module docstring (defaults tuned on real volumes)."""

    blank_std_ratio: float = 0.1
    blank_flank_ratio: float = 0.5
    emptier_fraction: float = 0.1
    saturated_fraction: float = 0.2
    background_fraction: float = 0.01
    mean_z: float = 6.0
    mean_flank_z: float = 3.0
    mean_scale_floor_ratio: float = 0.1
    window_half_width: int = 5
    duplicate_correlation: float = 0.999
    duplicate_dissimilarity_ratio: float = 0.1


@dataclass(frozen=True)
class SectionDefect:
    index: int                       # section index along the report's axis
    reason: str
    statistic: str | None = None     # what was measured ('std', 'mean_robust_z', ...)
    value: float | None = None


@dataclass(frozen=True)
class DefectReport:
    """Bad sections along ``axis``, one entry each; ``good`` and ``good_mask()`` are the rest."""

    axis: int
    n_sections: int
    defects: tuple[SectionDefect, ...]
    thresholds: dict = field(default_factory=dict, hash=False)

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(sorted({d.index for d in self.defects}))

    @property
    def good(self) -> tuple[int, ...]:
        bad = set(self.indices)
        return tuple(i for i in range(self.n_sections) if i not in bad)

    def good_mask(self) -> np.ndarray:
        """Boolean array, True for a good section."""
        mask = np.ones(self.n_sections, dtype=bool)
        mask[list(self.indices)] = False
        return mask

    def to_dict(self) -> dict:
        return dict(axis=AXIS_NAMES[self.axis], n_sections=self.n_sections,
                    defects=[asdict(d) for d in self.defects], indices=list(self.indices),
                    good=list(self.good), thresholds=dict(self.thresholds))


@dataclass(frozen=True, eq=False)
class SectionStatistics:
    """One value per section; fractions are at the volume's min / max value."""

    mean: np.ndarray
    std: np.ndarray
    fraction_at_min: np.ndarray
    fraction_at_max: np.ndarray
    correlation_with_previous: np.ndarray   # NaN for section 0 and for constant sections


# --- the API -------------------------------------------------------------------------------------

def detect_defects(volume: Any, axis: int | str | None = None, *, extra: Iterable[int] = (),
                   detect: bool = True, rules: DefectRules = DefectRules()) -> DefectReport:
    """Defective sections along ``axis`` (default: the volume's low-resolution axis; axis 0 for
    a bare array). ``extra``: indices the user knows are bad; ``detect=False`` keeps only those."""
    data = volume.data if isinstance(volume, Volume) else volume
    axis = _sections_axis(volume, axis)
    n_sections = int(data.shape[axis])
    user = _validated_user_indices(extra, n_sections, axis)
    found, thresholds = _detected(section_statistics(data, axis), rules) if detect else ({}, {})
    for index in user:
        found.setdefault(index, SectionDefect(index, "user"))
    defects = tuple(found[i] for i in sorted(found))
    return DefectReport(axis, n_sections, defects, thresholds)


def parse_section_list(text: str) -> tuple[int, ...]:
    """``"14,15,20-22"`` -> ``(14, 15, 20, 21, 22)`` (sorted); an empty text gives ``()``."""
    if not text.strip():
        return ()
    indices: list[int] = []
    for item in (part.strip() for part in text.split(",")):
        indices.extend(_parse_section_item(item, text))
    repeated = sorted(i for i, count in Counter(indices).items() if count > 1)
    if repeated:
        raise IsovoxError(f"bad section list {text!r}: section {repeated[0]} is listed twice")
    return tuple(sorted(indices))


def section_statistics(data: Any, axis: int) -> SectionStatistics:
    """Per-section statistics in one pass over chunks of sections (bounded memory)."""
    n_sections = int(data.shape[axis])
    lateral = [n for a, n in enumerate(data.shape) if a != axis]
    stride = tuple(max(1, math.ceil(n / _GRID_POINTS)) for n in lateral)
    per_chunk = max(1, _CHUNK_BYTES // (8 * lateral[0] * lateral[1]))
    parts, previous_grid = [], None
    for start in range(0, n_sections, per_chunk):
        sections = _read_sections(data, axis, start, min(n_sections, start + per_chunk))
        part, previous_grid = _chunk_statistics(sections, previous_grid, stride)
        parts.append(part)
    joined = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    pixels = lateral[0] * lateral[1]
    at_min = np.where(joined["min"] == joined["min"].min(), joined["count_at_min"], 0) / pixels
    at_max = np.where(joined["max"] == joined["max"].max(), joined["count_at_max"], 0) / pixels
    return SectionStatistics(joined["mean"], joined["std"], at_min, at_max, joined["correlation"])


# --- reading and measuring -----------------------------------------------------------------------

def _sections_axis(volume: Any, axis: int | str | None) -> int:
    if axis is not None:
        return axis_index(axis)
    if not isinstance(volume, Volume):
        return 0
    try:
        return lowres_axis(volume.spacing)
    except IsovoxError as error:
        raise IsovoxError(f"cannot tell which axis the sections are stacked along ({error}); "
                          "give axis='z', 'y' or 'x'") from None


def _read_sections(data: Any, axis: int, start: int, stop: int) -> np.ndarray:
    """Sections ``start..stop-1`` as float64, section axis first (reads a lazy array here)."""
    where = [slice(None)] * 3
    where[axis] = slice(start, stop)
    return np.moveaxis(np.asarray(data[tuple(where)], dtype=np.float64), axis, 0)


def _chunk_statistics(sections: np.ndarray, previous_grid: np.ndarray | None,
                      stride: tuple[int, int]) -> tuple[dict, np.ndarray]:
    flat = sections.reshape(len(sections), -1)
    low, high = flat.min(axis=1), flat.max(axis=1)
    grid = sections[:, ::stride[0], ::stride[1]].reshape(len(sections), -1)
    # Section 0 of the volume has no previous section: a NaN row gives it a NaN correlation.
    first = np.full(grid.shape[1], np.nan) if previous_grid is None else previous_grid
    correlation = _row_correlation(grid, np.concatenate([first[None], grid[:-1]]))
    part = dict(mean=flat.mean(axis=1), std=flat.std(axis=1), min=low, max=high,
                count_at_min=(flat == low[:, None]).sum(axis=1),
                count_at_max=(flat == high[:, None]).sum(axis=1), correlation=correlation)
    return part, grid[-1]


def _row_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``; NaN if one is flat."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(axis=1) / denominator, np.nan)


# --- the rules -----------------------------------------------------------------------------------

def _detected(stats: SectionStatistics, rules: DefectRules) -> tuple[dict[int, SectionDefect], dict]:
    typical_std = float(np.median(stats.std))
    emptier = _emptier_than_neighbours(stats.fraction_at_min, rules)
    duplicates, duplicate_limit = _duplicate_sections(stats.correlation_with_previous, rules)
    found: dict[int, SectionDefect] = {}
    # Precedence: a copy of a dark section is first of all a duplicate (its darkness is inherited).
    for defect in (*_blank_sections(stats.std, typical_std, emptier, rules),
                   *_saturated_sections(stats, rules), *duplicates):
        found.setdefault(defect.index, defect)
    # A section darker because it holds more background than its neighbours is the object's edge.
    not_compared = set(found) | set(np.flatnonzero(emptier).tolist())
    for defect in _mean_outliers(stats.mean, typical_std, not_compared, rules):
        found.setdefault(defect.index, defect)
    thresholds = dict(asdict(rules), typical_std=typical_std,
                      blank_std_at_most=rules.blank_std_ratio * typical_std,
                      mean_scale_floor=rules.mean_scale_floor_ratio * typical_std,
                      duplicate_correlation_at_least=duplicate_limit)
    return found, thresholds


def _blank_sections(std: np.ndarray, typical_std: float, emptier: np.ndarray,
                    rules: DefectRules) -> list[SectionDefect]:
    """Runs of near-constant sections next to an ordinary section (content lost abruptly)."""
    near_constant = std <= rules.blank_std_ratio * typical_std
    ordinary = (std >= rules.blank_flank_ratio * typical_std) & ~emptier
    blank = []
    for start, stop in _runs(near_constant):
        if any(ordinary[i] for i in (start - 1, stop) if 0 <= i < len(std)):
            blank += [SectionDefect(i, "blank", "std", float(std[i])) for i in range(start, stop)]
    return blank


def _emptier_than_neighbours(fraction_at_min: np.ndarray, rules: DefectRules) -> np.ndarray:
    """Sections holding clearly more background than their neighbours: the object's edge."""
    if len(fraction_at_min) < 3 or np.median(fraction_at_min) < rules.background_fraction:
        return np.zeros(len(fraction_at_min), dtype=bool)   # no background (EM): none is emptier
    windows = fraction_at_min[_neighbour_windows(len(fraction_at_min), rules.window_half_width)]
    return fraction_at_min > np.median(windows, axis=1) + rules.emptier_fraction


def _saturated_sections(stats: SectionStatistics, rules: DefectRules) -> list[SectionDefect]:
    saturated = []
    for statistic in ("fraction_at_min", "fraction_at_max"):
        fraction = getattr(stats, statistic)
        if np.median(fraction) >= rules.background_fraction:
            continue          # ordinary sections use this value a lot: it is background, not clipping
        saturated += [SectionDefect(int(i), "saturated", statistic, float(fraction[i]))
                      for i in np.flatnonzero(fraction >= rules.saturated_fraction)]
    return saturated


def _mean_outliers(mean: np.ndarray, typical_std: float, excluded: set[int],
                   rules: DefectRules) -> list[SectionDefect]:
    """Dark and bright runs among the sections not already flagged, with an ordinary flank."""
    reference = np.array([i for i in range(len(mean)) if i not in excluded], dtype=int)
    if len(reference) < 3:
        return []         # too few ordinary sections to say what ordinary is
    z = _robust_z(mean[reference], rules.window_half_width, rules.mean_scale_floor_ratio * typical_std)
    outliers = []
    for direction, reason in ((-1, "dark"), (1, "bright")):
        departure = direction * z
        for start, stop in _runs(departure > rules.mean_z):
            flanks = [departure[i] for i in (start - 1, stop) if 0 <= i < len(z)]
            if any(flank < rules.mean_flank_z for flank in flanks):
                outliers += [SectionDefect(int(reference[i]), reason, "mean_robust_z", float(z[i]))
                             for i in range(start, stop)]
    return outliers


def _robust_z(values: np.ndarray, half_width: int, floor: float) -> np.ndarray:
    """(value - local median) / max(local MAD as a sigma, floor), over each value's neighbours."""
    windows = values[_neighbour_windows(len(values), half_width)]
    centre = np.median(windows, axis=1)
    scale = np.maximum(_MAD_TO_SIGMA * np.median(np.abs(windows - centre[:, None]), axis=1), floor)
    return np.divide(values - centre, scale, out=np.zeros(len(values)), where=scale > 0)


def _neighbour_windows(n: int, half_width: int) -> np.ndarray:
    """Row i: the ``2 * half_width`` positions nearest to i, i left out. The window shifts at the
    ends to keep its size (a one-sided window there) and holds all others when n is small."""
    size = min(2 * half_width, n - 1)
    positions = np.arange(n)
    start = np.clip(positions - size // 2, 0, n - 1 - size)
    rows = start[:, None] + np.arange(size + 1)[None, :]
    return rows[rows != positions[:, None]].reshape(n, size)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True values."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _duplicate_sections(correlation: np.ndarray, rules: DefectRules) -> tuple[list[SectionDefect], float]:
    """Sections (near-)identical to the previous one, in a stack whose neighbours differ more."""
    measured = correlation[np.isfinite(correlation)]
    if len(measured) == 0:
        return [], rules.duplicate_correlation     # every section is constant: nothing to compare
    typical_dissimilarity = 1.0 - float(np.median(measured))
    limit = max(rules.duplicate_correlation,
                1.0 - rules.duplicate_dissimilarity_ratio * typical_dissimilarity)
    with np.errstate(invalid="ignore"):
        same = np.flatnonzero(correlation >= limit)
    return [SectionDefect(int(i), "duplicate", "correlation_with_previous", float(correlation[i]))
            for i in same], limit


# --- user indices --------------------------------------------------------------------------------

def _validated_user_indices(extra: Iterable[int], n_sections: int, axis: int) -> tuple[int, ...]:
    if isinstance(extra, (str, bytes)):
        raise IsovoxError(f"bad sections must be a list of indices, got the text {extra!r} "
                          "(parse it with parse_section_list)")
    valid = f"valid sections along {AXIS_NAMES[axis]} are 0 to {n_sections - 1}"
    seen: set[int] = set()
    for value in extra:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise IsovoxError(f"bad section index {value!r}: not a whole number; {valid}")
        if not 0 <= int(value) < n_sections:
            raise IsovoxError(f"bad section index {int(value)}: out of range; {valid}")
        if int(value) in seen:
            raise IsovoxError(f"bad section index {int(value)} is listed twice; {valid}")
        seen.add(int(value))
    return tuple(sorted(seen))


_ITEM = re.compile(r"(\d+)(?:\s*-\s*(\d+))?")


def _parse_section_item(item: str, text: str) -> list[int]:
    """One comma-separated item of a section list: ``14`` or ``20-22``."""
    if re.fullmatch(r"-\s*\d+.*", item):
        raise IsovoxError(f"bad section list {text!r}: negative index {item!r}; sections count from 0")
    match = _ITEM.fullmatch(item)
    if match is None:
        raise IsovoxError(f"bad section list {text!r}: {item!r} is not an index or a range "
                          "(expected e.g. 14,15,20-22)")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else first
    if last < first:
        raise IsovoxError(f"bad section list {text!r}: range {item!r} runs backwards; "
                          f"write {last}-{first}")
    return list(range(first, last + 1))
