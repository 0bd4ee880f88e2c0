"""Degradation library: simulate anisotropic (or k-space truncated) acquisitions.

Three layers, as in TorchIO:

- :mod:`.functional`: pure numpy functions along one axis, parameters in physical units;
- :mod:`.ops`: deterministic, serialisable ops over a :class:`~isovox.volume.Volume`, and
  :class:`Compose`;
- :mod:`.random`: seeded wrappers that draw op parameters from ranges and record them
  (:class:`RandomCompose`, :func:`replay`);

plus :mod:`.recipes`, the named acquisitions used by :func:`isovox.simulation.simulate` and training.
"""

from .ops import (OPS, BoxProfile, Compose, CubicDownsample, DarkenSections, DropSections,
                  FlickerSections, GaussianNoise, GaussianProfile, KSpaceTruncate, Op, PoissonNoise,
                  ShiftSections, TakeSlices, op_from_dict)
from .random import (RandomCompose, RandomGaussianNoise, RandomPoissonNoise, RandomProfile,
                     RandomSectionArtifacts, replay)
from .recipes import RECIPES, recipe_ops

__all__ = [
    "OPS", "BoxProfile", "Compose", "CubicDownsample", "DarkenSections", "DropSections",
    "FlickerSections", "GaussianNoise", "GaussianProfile", "KSpaceTruncate", "Op", "PoissonNoise",
    "ShiftSections", "TakeSlices", "op_from_dict", "RandomCompose", "RandomGaussianNoise",
    "RandomPoissonNoise", "RandomProfile", "RandomSectionArtifacts", "replay", "RECIPES", "recipe_ops",
]
