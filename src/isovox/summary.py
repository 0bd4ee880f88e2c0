"""A short, printable summary of a volume (what `isovox info` shows)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import IsovoxError
from .volume import AXIS_NAMES, Volume, lateral_spacing, lowres_axis


def volume_summary(volume: Volume, bad_sections: Sequence[int] = (), detect: bool = True) -> dict:
    """Shape, dtype, spacing, geometry, value range (in-memory volumes), the low-res axis and the
    defective sections along it (detected unless ``detect=False``, plus ``bad_sections``)."""
    summary: dict = {
        "source": volume.meta.get("source", "(in memory)"),
        "shape (z,y,x)": list(volume.shape),
        "dtype": str(volume.dtype),
        "spacing (z,y,x)": [round(s, 6) for s in volume.spacing],
        "unit": volume.unit,
        "origin (z,y,x)": [round(o, 6) for o in volume.origin],
        "extent": [round(e, 6) for e in volume.extent],
    }
    if not np.allclose(volume.direction, np.eye(3)):
        summary["direction"] = np.round(volume.direction, 6).tolist()
    try:
        axis = lowres_axis(volume.spacing)
        summary["low-res axis"] = AXIS_NAMES[axis]
        summary["factor"] = round(volume.spacing[axis] / lateral_spacing(volume.spacing, axis), 6)
    except IsovoxError as reason:
        summary["low-res axis"] = f"none ({reason})"
    else:
        summary["defective sections"] = _defects(volume, axis, bad_sections, detect)
    if volume.dtype.kind == "c":
        summary["value range"] = "complex data: isovox processes real intensities (save abs or the real part)"
    elif not volume.is_lazy:
        data = volume.numpy()
        summary["value range"] = [float(data.min()), float(data.max())]
    return summary


def _defects(volume: Volume, axis: int, bad_sections: Sequence[int], detect: bool) -> str:
    from .defects import detect_defects

    if volume.is_lazy and not bad_sections:
        return "not checked for a lazily read volume (reconstruct checks it)"
    if volume.dtype.kind == "c":
        return "not checked (complex data)"
    report = detect_defects(volume, axis, extra=tuple(bad_sections), detect=detect)
    if not report.defects:
        return "none found" if detect else "none given (detection off)"
    return ", ".join(f"{d.index} ({d.reason})" for d in report.defects)
