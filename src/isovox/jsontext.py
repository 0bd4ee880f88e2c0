"""Strict JSON for everything isovox writes or prints: cards, records, reports, ``--json``.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which are not JSON: other tools (jq,
JavaScript, most JSON libraries) refuse them. A loss of a constant volume or an exact PSNR is
such a value, so non-finite floats become ``null`` here, numpy scalars and arrays become plain
numbers and lists, and anything else unknown (a Path, a dtype) becomes its text.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["plain", "strict_json"]


def plain(value: Any) -> Any:
    """``value`` as plain JSON data: dicts, lists, str, int, finite float, bool or None."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if hasattr(value, "to_dict") and callable(value.to_dict):     # a value type (Normalisation)
        return plain(value.to_dict())
    if isinstance(value, (list, tuple, set, np.ndarray)):
        items = value.tolist() if isinstance(value, np.ndarray) else list(value)
        return [plain(item) for item in items]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and callable(value.item):          # a 0-d tensor
        return plain(value.item())
    return str(value)


def strict_json(value: Any, indent: int | None = 2) -> str:
    """JSON text of ``value`` with every non-finite number written as ``null``."""
    return json.dumps(plain(value), indent=indent, allow_nan=False)
