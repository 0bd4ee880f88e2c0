"""Training: volumes in, a model folder (:mod:`isovox.store`) out.

``train(volume, output_dir, method='selfsup', **config_fields)`` dispatches by method name:

- ``'selfsup'``: self-supervised pairs from the volume's lateral planes (A2I-3DEM, paper 001;
  :func:`~isovox.training.recipes.selfsup.train_selfsup`);
- ``'paired2d'``: the oracle on true axial planes of a ground truth, ``ground_truth=`` required
  (:func:`~isovox.training.recipes.selfsup.train_paired`).

``config_fields`` are :class:`SelfSupConfig` fields; ``overwrite``, ``resume`` and ``workdir``
are passed through. The loop (:func:`fit`), losses and settings are importable from here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import IsovoxError
from ..volume import Volume
from .checkpoint import TrainingInterrupted
from .loop import StepContext, fit, fit_networks
from .losses import SelfSupLoss, l1_loss, projected_distribution_loss
from .recipes import SelfSupConfig, train_paired, train_selfsup
from .settings import TrainSettings

TRAIN_METHODS = ("selfsup", "paired2d")

__all__ = ["TRAIN_METHODS", "SelfSupConfig", "SelfSupLoss", "StepContext", "TrainSettings", "TrainingInterrupted",
           "fit", "fit_networks",
           "l1_loss", "projected_distribution_loss", "train", "train_paired", "train_selfsup"]


def train(volume: Volume, output_dir: str | Path, method: str = "selfsup", *, ground_truth: Volume | None = None,
          overwrite: bool = False, resume: bool = True, workdir: str | Path | None = None,
          **config_fields: Any) -> Path:
    """Train with ``method`` (one of :data:`TRAIN_METHODS`) and return the model folder's path."""
    options = dict(overwrite=overwrite, resume=resume, workdir=workdir, **config_fields)
    if method == "selfsup":
        if ground_truth is not None:
            raise IsovoxError("method 'selfsup' trains on the volume alone; ground_truth is for 'paired2d'")
        return train_selfsup(volume, output_dir, **options)
    if method == "paired2d":
        if ground_truth is None:
            raise IsovoxError("method 'paired2d' needs ground_truth= (an isotropic volume on the target grid)")
        return train_paired(volume, ground_truth, output_dir, **options)
    raise IsovoxError(f"unknown training method {method!r}; choose one of {', '.join(TRAIN_METHODS)}")
