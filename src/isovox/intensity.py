"""How intensities are scaled for a network, and back: one value type, measured once, saved in the card.

Every network isovox trains sees intensities mapped as ``(value - low) / (high - low)``, where
``low`` and ``high`` are percentiles of the training volume (0.1 and 99.9 by default): robust to a
few saturated or dead voxels, and not clipped, so the mapping is exactly invertible. Training
measures the range (:meth:`Normalisation.measure`), the model card keeps it
(:class:`isovox.store.ModelCard`), and reconstruction applies it before the network and inverts
it after, with the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import IsovoxError
from .volume import Volume, check_finite

PERCENTILES = (0.1, 99.9)
_SAMPLE_VOXELS = 1 << 22       # voxels read to estimate the percentiles of a large volume


@dataclass(frozen=True)
class Normalisation:
    """The intensity range ``low`` .. ``high`` that maps to 0 .. 1 (``percentiles``: where it came
    from, None for a range given by hand or read from an old card)."""

    low: float
    high: float
    percentiles: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        bounds = (self.low, self.high)
        if not all(isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) for b in bounds):
            raise IsovoxError(f"normalisation needs finite numbers low and high, got {self.low!r}, {self.high!r}")
        if not self.high > self.low:
            raise IsovoxError(f"normalisation needs high > low, got low {self.low:g}, high {self.high:g}")
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.percentiles is not None:
            object.__setattr__(self, "percentiles", tuple(float(p) for p in self.percentiles))

    @property
    def scale(self) -> float:
        """``high - low``: one unit of the network's range in the data's intensity unit."""
        return self.high - self.low

    def apply(self, values: Any) -> np.ndarray:
        """``values`` on the network's scale, as a new float32 array."""
        out = np.asarray(values, dtype=np.float32) - np.float32(self.low)
        out /= np.float32(self.scale)
        return out

    def invert(self, values: np.ndarray) -> np.ndarray:
        """Network outputs (float32) back in the data's intensity unit, in place; returns them."""
        values *= np.float32(self.scale)
        values += np.float32(self.low)
        return values

    def to_dict(self) -> dict:
        """The card's JSON form: ``{'low', 'high'}`` plus ``'percentiles'`` when known."""
        out: dict = {"low": self.low, "high": self.high}
        if self.percentiles is not None:
            out["percentiles"] = list(self.percentiles)
        return out

    @classmethod
    def from_dict(cls, values: Mapping | "Normalisation") -> "Normalisation":
        """From a card's ``{'low', 'high'[, 'percentiles']}`` (a Normalisation passes through)."""
        if isinstance(values, Normalisation):
            return values
        if not isinstance(values, Mapping):
            raise IsovoxError(f"normalisation must be a JSON object, got {type(values).__name__}")
        percentiles = values.get("percentiles")
        return cls(values.get("low"), values.get("high"),  # type: ignore[arg-type]
                   None if percentiles is None else tuple(percentiles))

    @classmethod
    def measure(cls, volumes: Volume | Sequence[Volume], percentiles: Sequence[float] = PERCENTILES,
                skip: tuple[int, Sequence[int]] | None = None) -> "Normalisation":
        """The ``percentiles`` of the voxels of one volume, or of several pooled, each subsampled
        with a regular stride (to about 4 M voxels for one volume, 2 M each for several: the
        budgets training has always used). Flat data gets a range of 1.

        ``skip = (axis, sections)``: leave those sections out (defective ones: a blank section's
        zeros would drag the low percentile to 0 and squeeze the tissue's range)."""
        several = not isinstance(volumes, Volume)
        volumes = list(volumes) if several else [volumes]  # type: ignore[list-item]
        budget = _SAMPLE_VOXELS // 2 if several else _SAMPLE_VOXELS
        samples = []
        for volume in volumes:
            step = max(1, math.ceil((np.prod(volume.shape) / budget) ** (1 / 3)))
            sample = np.asarray(volume.data[::step, ::step, ::step], dtype=np.float32)
            if skip is not None and len(skip[1]):
                axis, sections = skip
                kept = ~np.isin(np.arange(0, volume.shape[axis], step), np.asarray(sections))
                sample = np.compress(kept, sample, axis=axis) if kept.any() else sample
            samples.append(sample.ravel())
        pooled = np.concatenate(samples)
        check_finite(pooled)
        low, high = (float(v) for v in np.percentile(pooled, percentiles))
        if not high > low:                   # flat data: any scale works, keep it defined
            high = low + 1.0
        return cls(low, high, tuple(percentiles))  # type: ignore[arg-type]
