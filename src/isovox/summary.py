"""A short, printable summary of a volume (what `isovox info` shows)."""

from __future__ import annotations

import numpy as np

from .errors import IsovoxError
from .volume import AXIS_NAMES, Volume, lowres_axis


def volume_summary(volume: Volume) -> dict:
    """Shape, dtype, spacing, geometry, value range (in-memory volumes) and the low-res axis."""
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
        lateral = min(s for a, s in enumerate(volume.spacing) if a != axis)
        summary["low-res axis"] = AXIS_NAMES[axis]
        summary["factor"] = round(volume.spacing[axis] / lateral, 6)
    except IsovoxError as reason:
        summary["low-res axis"] = f"none ({reason})"
    if not volume.is_lazy:
        data = volume.numpy()
        summary["value range"] = [float(data.min()), float(data.max())]
    return summary
