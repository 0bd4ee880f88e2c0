"""Side-by-side PNG of the same plane through several volumes, drawn in physical proportions."""

from __future__ import annotations

import os
import textwrap
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IsovoxError
from ..volume import Volume
from .metrics import PLANE_AXES

_AXIS_LETTERS = ("z", "y", "x")
_PANEL_HEIGHT_IN = 4.0


def plane_figure(volumes: dict[str, Volume], path: str | os.PathLike, plane: str = "xz",
                 index: int | None = None, title: str | None = None) -> Path:
    """Write a PNG with one panel per named volume, all showing the same plane.

    ``plane``: 'xy', 'xz' or 'yz' (the plane at fixed z, y or x). ``index``: plane index in the
    first volume (default: its middle plane); the other volumes show the plane at the same
    physical position along that axis (the same index when they share the grid). Positions are
    ``origin . direction[:, axis] + i * spacing`` in the first volume's unit, so volumes that were
    resampled under isovox's grid convention line up.

    Each panel uses the physical extent of its voxels (``imshow`` extent from spacing, equal
    aspect): an xz plane of a 50 x 4 x 4 nm volume is drawn 12.5 times taller per row than wide
    per column, i.e. in its true proportions. Grey colormap, one intensity range shared by every
    panel (min to max over the shown planes), axes labelled in physical units. The file is
    written to a temporary file in the same folder and moved into place, so a reader never sees a
    half-written PNG. Returns the path.
    """
    if plane not in PLANE_AXES:
        raise IsovoxError(f"plane must be 'xy', 'xz' or 'yz', got {plane!r}")
    if not volumes:
        raise IsovoxError("plane_figure needs at least one volume")
    axis = PLANE_AXES[plane]
    names = list(volumes)
    unit = volumes[names[0]].unit
    moved = {name: _as_volume(vol, name).in_unit(unit) for name, vol in volumes.items()}
    first = moved[names[0]]
    index = first.shape[axis] // 2 if index is None else int(index)
    if not 0 <= index < first.shape[axis]:
        raise IsovoxError(f"index {index} is outside the {first.shape[axis]} {plane} planes of "
                          f"{names[0]!r}")
    position = _start(first, axis) + index * first.spacing[axis]
    panels = {name: _panel(vol, name, axis, position) for name, vol in moved.items()}
    figure = _draw(panels, unit, plane, title or _default_title(plane, axis, position, unit))
    return save_figure_atomic(figure, Path(path))


def _as_volume(item: Any, name: str) -> Volume:
    if not isinstance(item, Volume):
        raise IsovoxError(f"{name!r} is not a Volume: plane_figure needs spacing to draw "
                          "physical proportions; wrap arrays with isovox.volume.as_volume")
    return item


def _start(volume: Volume, axis: int) -> float:
    """Position of voxel 0 along array ``axis``."""
    return float(np.dot(volume.direction[:, axis], volume.origin))


def _panel(volume: Volume, name: str, axis: int, position: float) -> dict:
    index = int(round((position - _start(volume, axis)) / volume.spacing[axis]))
    if not 0 <= index < volume.shape[axis]:
        raise IsovoxError(f"{name!r} has no {_AXIS_LETTERS[axis]} plane at {position:g}: it "
                          f"spans {volume.shape[axis]} planes; choose another index")
    take = [slice(None)] * 3
    take[axis] = index
    image = np.asarray(volume.data[tuple(take)], dtype=np.float64)
    rows_axis, cols_axis = [a for a in range(3) if a != axis]
    return {"image": image, "extent": panel_extent(volume, rows_axis, cols_axis),
            "labels": (_AXIS_LETTERS[cols_axis], _AXIS_LETTERS[rows_axis]), "index": index}


def panel_extent(volume: Volume, rows_axis: int, cols_axis: int) -> tuple[float, ...]:
    """``imshow`` extent (left, right, bottom, top): each voxel covers one spacing, centred on
    its position, with rows increasing downwards."""
    def span(axis: int) -> tuple[float, float]:
        start, step = _start(volume, axis), volume.spacing[axis]
        return start - step / 2, start + (volume.shape[axis] - 0.5) * step

    left, right = span(cols_axis)
    top, bottom = span(rows_axis)
    return (left, right, bottom, top)


def _default_title(plane: str, axis: int, position: float, unit: str) -> str:
    return f"{plane} plane at {_AXIS_LETTERS[axis]} = {position:g} {unit}"


def _draw(panels: dict[str, dict], unit: str, plane: str, title: str) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    low = min(float(p["image"].min()) for p in panels.values())
    high = max(float(p["image"].max()) for p in panels.values())
    if high <= low:  # constant planes: any non-empty range shows them as one grey
        high = low + 1.0
    widths = [_aspect(p["extent"]) for p in panels.values()]
    figure = Figure(figsize=(sum(_panel_width(w) for w in widths) + 0.5, _PANEL_HEIGHT_IN + 1.0),
                    layout="constrained")
    FigureCanvasAgg(figure)  # Agg explicitly: no GUI backend, no pyplot global state
    axes = figure.subplots(1, len(panels), squeeze=False, width_ratios=widths)[0]
    for ax, (name, panel) in zip(axes, panels.items()):
        ax.imshow(panel["image"], cmap="gray", vmin=low, vmax=high, extent=panel["extent"],
                  origin="upper", interpolation="nearest", aspect="equal")
        ax.set_xlabel(f"{panel['labels'][0]} ({unit})")
        ax.set_ylabel(f"{panel['labels'][1]} ({unit})")
        ax.set_title(_panel_title(name, plane, panel["index"], _panel_width(_aspect(panel["extent"]))), fontsize=10)
    figure.suptitle(title)
    return figure


def _panel_title(name: str, plane: str, index: int, width_in: float) -> str:
    """The panel's name wrapped to its width (about 0.09 inch per character at 10 pt), then the plane;
    neighbouring narrow panels with long names otherwise write over each other."""
    return textwrap.fill(name, max(8, int(width_in / 0.09))) + f"\n({plane} #{index})"


def _aspect(extent: tuple[float, ...]) -> float:
    left, right, bottom, top = extent
    return abs(right - left) / abs(bottom - top)


def _panel_width(aspect: float) -> float:
    # Keep very flat or very tall planes readable: a panel is between 2 and 12 inches wide.
    return float(np.clip(_PANEL_HEIGHT_IN * aspect, 2.0, 12.0))


def save_figure_atomic(figure: Any, path: Path, dpi: int = 100) -> Path:
    """``figure`` as a PNG at ``path``: written beside it and renamed into place (never half-written)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise IsovoxError(f"folder {folder} does not exist; create it before writing {path.name}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            figure.savefig(handle, format="png", dpi=dpi)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a figure is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
