"""Index folding shared by the resampling matrices and the networks' pooling matrices (numpy only)."""

from __future__ import annotations

import numpy as np

__all__ = ["mirror_index"]


def mirror_index(index: np.ndarray, n: int) -> np.ndarray:
    """Fold indices into [0, n) by whole-sample mirroring (-1 -> 1, n -> n - 2)."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    folded = np.mod(index, period)
    return np.where(folded >= n, period - folded, folded)
