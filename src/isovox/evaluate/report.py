"""Turn evaluation results into a terminal table, JSON, or a side-by-side plane figure.

``format_table`` accepts one result of :func:`~isovox.evaluate.compare` or
:func:`~isovox.evaluate.segmentation_agreement`, or a dict ``{method name: result}`` of several
(one row per method, and per plane family for image metrics; the best value of each column is
marked with '*').
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, NamedTuple

import numpy as np

from .figure import plane_figure

__all__ = ["format_table", "to_json", "plane_figure"]

FAMILY_ORDER = ("xy", "xz", "yz", "volume")


class Column(NamedTuple):
    header: str
    key: str
    fmt: str
    best: Callable[..., float] | None  # max / min over methods, None: not ranked


IMAGE_COLUMNS = (Column("PSNR", "psnr", "{:.2f}", max), Column("SSIM", "ssim", "{:.4f}", max),
                 Column("NRMSE", "nrmse", "{:.4f}", min), Column("n_planes", "n_planes", "{}", None))
SEGMENTATION_COLUMNS = (
    Column("VOI split", "voi_split", "{:.4f}", min), Column("VOI merge", "voi_merge", "{:.4f}", min),
    Column("VOI", "voi", "{:.4f}", min), Column("ARE", "adapted_rand_error", "{:.4f}", min),
    Column("precision", "adapted_rand_precision", "{:.4f}", max),
    Column("recall", "adapted_rand_recall", "{:.4f}", max))


# --- table ---------------------------------------------------------------------------------------

def format_table(results: dict, title: str | None = None) -> str:
    """An aligned plain-text table of one result or of ``{method: result}``.

    Image metrics: rows = plane families (xy, xz, yz) and 'volume', columns PSNR (dB), SSIM, NRMSE,
    n_planes. Segmentation scores: one row, columns VOI split / merge / total, ARE, precision,
    recall. With several methods, each row starts with the method name and '*' marks the best
    value of each column among the methods (per family); infinite PSNR prints as 'inf'.
    """
    methods = {"": results} if _is_single(results) else dict(results)
    if not methods or not all(_is_single(r) for r in methods.values()):
        raise TypeError("format_table needs a compare() / segmentation_agreement() result "
                        "or a dict of them keyed by method name")
    image = all(_is_image(r) for r in methods.values())
    columns = IMAGE_COLUMNS if image else SEGMENTATION_COLUMNS
    groups = _row_groups(methods, image)
    header = (["method"] if len(methods) > 1 else []) + (["planes"] if image else [])
    rows = []
    for group, entries in groups:
        marks = _best_marks(entries, columns) if len(methods) > 1 else {}
        for method, entry in entries:
            cells = ([method] if len(methods) > 1 else []) + ([group] if image else [])
            cells += [_cell(entry.get(col.key), col, (method, col.key) in marks)
                      for col in columns]
            rows.append(cells)
    return _render(header + [col.header for col in columns], rows, title, n_left=len(header))


def _is_image(result: Any) -> bool:
    return isinstance(result, dict) and isinstance(result.get("volume"), dict)


def _is_single(result: Any) -> bool:
    return _is_image(result) or (isinstance(result, dict) and "voi" in result)


def _row_groups(methods: dict, image: bool) -> list[tuple[str, list[tuple[str, dict]]]]:
    """Rows grouped by plane family (image metrics) so that '*' compares like with like."""
    if not image:
        return [("", list(methods.items()))]
    groups = []
    for family in FAMILY_ORDER:
        entries = [(m, r[family]) for m, r in methods.items() if isinstance(r.get(family), dict)]
        if entries:
            groups.append((family, entries))
    return groups


def _best_marks(entries: list[tuple[str, dict]], columns: tuple[Column, ...]) -> set:
    marks = set()
    for col in columns:
        values = {m: _number(e.get(col.key)) for m, e in entries}
        ranked = {m: v for m, v in values.items() if v is not None and not math.isnan(v)}
        if col.best is None or len(ranked) < 2:
            continue
        best = col.best(ranked.values())
        marks.update((m, col.key) for m, v in ranked.items() if v == best)
    return marks


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _cell(value: Any, col: Column, best: bool) -> str:
    number = _number(value)
    if number is None or math.isnan(number):
        text = "-"
    elif math.isinf(number):
        text = "inf" if number > 0 else "-inf"
    else:
        text = col.fmt.format(int(number) if col.fmt == "{}" else number)
    return text + ("*" if best else " ")


def _render(header: list[str], rows: list[list[str]], title: str | None, n_left: int) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        # Text columns left-aligned, numbers right-aligned so decimals line up.
        return "  ".join(c.ljust(w) if i < n_left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [title] if title else []
    out += [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


# --- JSON ----------------------------------------------------------------------------------------

def to_json(results: Any, indent: int | None = 2, per_plane: bool = True) -> str:
    """JSON text of any result (nested dicts, numpy arrays and scalars included).

    Finite floats are rounded to 6 significant digits (more than any metric here is meaningful
    to); infinite PSNR of exact planes, and NaN, become ``null`` so the output is strict JSON.
    ``per_plane=False`` leaves out the per-plane arrays (a few thousand numbers for 250^3).
    """
    return json.dumps(_plain(results, per_plane), indent=indent, allow_nan=False)


def _plain(value: Any, per_plane: bool = True) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v, per_plane) for k, v in value.items()
                if per_plane or k != "per_plane"}
    if isinstance(value, (list, tuple, np.ndarray)):
        items = value.tolist() if isinstance(value, np.ndarray) else value
        return [_plain(v, per_plane) for v in items]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return float(f"{number:.6g}") if math.isfinite(number) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)
