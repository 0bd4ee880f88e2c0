"""Seeded random degradations: draw parameters from ranges, record them, replay them exactly.

A2I-3DEM (paper 001, section II.A) trains on lateral patches "subjected to various degradations
such as noise, artifacts, distortions, and anisotropic under-sampling"; it gives no distributions,
so the ranges below are ours and are plain constructor arguments.

Every wrapper has ``draw(volume_or_shape, rng) -> Op``: a deterministic op from
:mod:`isovox.degrade.ops` whose ``to_dict()`` records the drawn values (noise ops get a drawn
integer ``seed``, so even the noise is replayed bit for bit). :class:`RandomCompose` draws and
applies in order and returns ``(volume, record)``; ``replay(record)`` rebuilds a
:class:`~isovox.degrade.ops.Compose` that gives the same output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import IsovoxError
from ..resample import cast_to_dtype
from ..volume import Volume, axis_index
from . import ops as O

_SEED_LIMIT = 2**31 - 1


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator (used as is) or an integer seed."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _range(value: float | Sequence[float], what: str, low: float = 0.0) -> tuple[float, float]:
    """A (lo, hi) range from a pair or a single value (lo = hi)."""
    pair = np.ravel(np.asarray(value, dtype=float))
    if pair.size == 1:
        pair = np.repeat(pair, 2)
    if pair.size != 2 or not np.all(np.isfinite(pair)) or pair[0] > pair[1] or pair[0] < low:
        raise IsovoxError(f"{what} must be a range (lo, hi) with {low:g} <= lo <= hi, got {value!r}")
    return float(pair[0]), float(pair[1])


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], size: int | None = None) -> Any:
    lo, hi = bounds
    values = rng.uniform(lo, hi, size)
    return values if size is not None else float(values)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, _SEED_LIMIT))


def _shape(volume_or_shape: Volume | Sequence[int]) -> tuple[int, ...]:
    return tuple(volume_or_shape.shape) if isinstance(volume_or_shape, Volume) else tuple(volume_or_shape)


def _probability(p: float, what: str) -> float:
    if not (0.0 <= float(p) <= 1.0):
        raise IsovoxError(f"{what} must be a probability in [0, 1], got {p}")
    return float(p)


@dataclass(frozen=True)
class RandomGaussianNoise:
    """Gaussian noise with ``sigma`` (fraction of the data range) drawn uniformly from a range."""

    sigma: tuple[float, float] = (0.0, 0.05)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", _range(self.sigma, "sigma"))

    def draw(self, volume_or_shape: Any, rng: np.random.Generator | int | None) -> O.Op:
        rng = as_generator(rng)
        return O.GaussianNoise(sigma=_uniform(rng, self.sigma), seed=_seed(rng))


@dataclass(frozen=True)
class RandomPoissonNoise:
    """Shot noise with ``photons`` at the maximum drawn log-uniformly (photon counts span decades)."""

    photons: tuple[float, float] = (20.0, 1000.0)

    def __post_init__(self) -> None:
        bounds = _range(self.photons, "photons")
        if bounds[0] <= 0:
            raise IsovoxError(f"photons must be positive, got {self.photons!r}")
        object.__setattr__(self, "photons", bounds)

    def draw(self, volume_or_shape: Any, rng: np.random.Generator | int | None) -> O.Op:
        rng = as_generator(rng)
        log_photons = _uniform(rng, (math.log(self.photons[0]), math.log(self.photons[1])))
        return O.PoissonNoise(photons=math.exp(log_photons), seed=_seed(rng))


@dataclass(frozen=True)
class RandomProfile:
    """Gaussian slice profile along ``axis`` with ``fwhm`` (volume units) drawn from a range."""

    axis: int = 0
    fwhm: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "axis", axis_index(self.axis))
        object.__setattr__(self, "fwhm", _range(self.fwhm, "fwhm"))

    def draw(self, volume_or_shape: Any, rng: np.random.Generator | int | None) -> O.Op:
        return O.GaussianProfile(axis=self.axis, fwhm=_uniform(as_generator(rng), self.fwhm))


@dataclass(frozen=True)
class RandomSectionArtifacts:
    """EM section artifacts along ``axis``, each section drawn independently.

    Our model of paper 001's "artifacts" (section II.A gives none), applied in acquisition order:
    - misalignment: with probability ``p_shift`` a section moves in-plane by up to ``max_shift``
      voxels (uniform per in-plane axis, subpixel);
    - flicker: every section gets ``gain`` from ``flicker_gain`` and ``bias`` (fraction of the
      data range) from ``flicker_bias``; the identity ranges (1, 1) and (0, 0) switch it off;
    - dark sections: with probability ``p_dark``, times a gain from ``dark_gain``;
    - missing sections: with probability ``p_missing``, filled per ``fill`` ('previous' repeats
      the last good section, as section-based pipelines often do; 'zero' blanks it).
    """

    axis: int = 0
    p_missing: float = 0.02
    p_dark: float = 0.02
    dark_gain: tuple[float, float] = (0.3, 0.8)
    p_shift: float = 0.02
    max_shift: float = 2.0
    flicker_gain: tuple[float, float] = (0.95, 1.05)
    flicker_bias: tuple[float, float] = (-0.02, 0.02)
    fill: str = "previous"

    def __post_init__(self) -> None:
        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731
        set_("axis", axis_index(self.axis))
        for name in ("p_missing", "p_dark", "p_shift"):
            set_(name, _probability(getattr(self, name), name))
        set_("dark_gain", _range(self.dark_gain, "dark_gain"))
        set_("flicker_gain", _range(self.flicker_gain, "flicker_gain"))
        set_("flicker_bias", _range(self.flicker_bias, "flicker_bias", low=-math.inf))
        if not (math.isfinite(self.max_shift) and self.max_shift >= 0):
            raise IsovoxError(f"max_shift must be >= 0 voxels, got {self.max_shift}")
        if self.fill not in ("zero", "previous"):
            raise IsovoxError(f"fill must be 'zero' or 'previous', got {self.fill!r}")

    def draw(self, volume_or_shape: Any, rng: np.random.Generator | int | None) -> O.Compose:
        """The drawn artifacts as a Compose of the ops that do something (possibly empty)."""
        rng = as_generator(rng)
        n = _shape(volume_or_shape)[self.axis]
        ops: list[O.Op] = []
        shifted = np.flatnonzero(rng.random(n) < self.p_shift)
        if shifted.size and self.max_shift > 0:
            shifts = rng.uniform(-self.max_shift, self.max_shift, (shifted.size, 2))
            ops.append(O.ShiftSections(self.axis, tuple(shifted), shifts))
        if self.flicker_gain != (1.0, 1.0) or self.flicker_bias != (0.0, 0.0):
            gains, biases = _uniform(rng, self.flicker_gain, n), _uniform(rng, self.flicker_bias, n)
            ops.append(O.FlickerSections(self.axis, gains, biases))
        dark = np.flatnonzero(rng.random(n) < self.p_dark)
        if dark.size:
            ops.append(O.DarkenSections(self.axis, tuple(dark), _uniform(rng, self.dark_gain, dark.size)))
        missing = np.flatnonzero(rng.random(n) < self.p_missing)
        if missing.size == n:           # keep one section so 'previous' has something to copy
            missing = missing[1:]
        if missing.size:
            ops.append(O.DropSections(self.axis, tuple(missing), self.fill))
        return O.Compose(tuple(ops))


def draw_op(transform: Any, volume: Volume, rng: np.random.Generator) -> O.Op:
    """A deterministic op from a random wrapper (``draw``) or an op (used as it is)."""
    if isinstance(transform, O.Op):
        return transform
    if hasattr(transform, "draw"):
        return transform.draw(volume, rng)
    raise IsovoxError(f"expected a degradation op or a random wrapper with draw(), got {transform!r}")


class RandomCompose:
    """Draw and apply transforms in order: ``RandomCompose([...])(volume, seed) -> (volume, record)``.

    Each transform is drawn on the volume as it is at that point (so artifacts after a
    TakeSlices see the low-resolution sections). Data stay float32 throughout and are cast back
    to the input dtype once, exactly as :class:`~isovox.degrade.ops.Compose` does, so
    ``replay(record)(volume)`` equals the output bit for bit.
    """

    def __init__(self, transforms: Sequence[Any]) -> None:
        self.transforms = list(transforms)

    def __call__(self, volume: Volume, rng: np.random.Generator | int | None = 0) -> tuple[Volume, list[dict]]:
        rng = as_generator(rng)
        drawn: list[O.Op] = []
        result = volume
        for transform in self.transforms:
            op = draw_op(transform, result, rng)
            drawn.extend(op.flat() if isinstance(op, O.Compose) else [op])
            result = op.apply(result)
        if result is volume:
            result = O.Compose().apply(volume)
        result = result.replace(data=cast_to_dtype(result.data, volume.dtype))
        return result, [op.to_dict() for op in drawn]


def replay(record: Sequence[dict]) -> O.Compose:
    """The deterministic Compose that reproduces a :class:`RandomCompose` record."""
    return O.Compose.from_dict(list(record))
