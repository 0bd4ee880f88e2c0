"""Training: volumes in, a model folder (:mod:`isovox.store`) out.

``train(volume, output_dir, method='selfsup', **options)`` dispatches by method name through
:data:`TRAIN_METHODS` (name -> recipe function, imported when used):

- ``'selfsup'``: self-supervised pairs from the volume's lateral planes (A2I-3DEM, paper 001;
  :func:`~isovox.training.recipes.selfsup.train_selfsup`);
- ``'paired2d'``: the oracle on true axial planes of a ground truth, ``ground_truth=`` required
  (:func:`~isovox.training.recipes.selfsup.train_paired`);
- ``'supervised3d'``: a 3D generator (mDCSRN, paper 004) on patch pairs made from isotropic
  reference volumes, ``highres=[...]`` (``volume`` may be None)
  (:func:`~isovox.training.recipes.supervised3d.train_supervised3d`);
- ``'arbitrary-scale'``: one Meta-SRGAN for any factor, from the volume's lateral planes over a
  range of scales (paper 002; :func:`~isovox.training.recipes.arbitrary_scale.train_arbitrary_scale`);
- ``'degradation-learning'``: a CycleGAN learns the real axial degradation from unpaired lateral
  and axial patches, then a backbone trains on pairs it makes (paper 000;
  :func:`~isovox.training.recipes.degradation_learning.train_degradation_learning`);
- ``'vae-two-stage'``: latent interpolation of neighbouring slices synthesizes HR volumes, then a
  3D generator learns from them (paper 003; ``volume`` may be a list;
  :func:`~isovox.training.recipes.vae_two_stage.train_vae_two_stage`).

``options`` are the recipe's config fields plus ``overwrite``, ``resume`` and ``workdir``. The
loop (:func:`fit`, :func:`fit_networks`), losses and settings are importable from here too.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any, Sequence

from ..errors import DiskFull, IsovoxError
from ..volume import Volume, check_intensity_dtype
from .checkpoint import TrainingInterrupted
from .loop import StepContext, fit, fit_networks
from .losses import SelfSupLoss, l1_loss, projected_distribution_loss
from .recipes import SelfSupConfig, train_paired, train_selfsup
from .recipes.common import default_workdir
from .settings import TrainSettings

# method -> (module under isovox.training.recipes, function); a recipe loads only when used
TRAIN_METHODS: dict[str, tuple[str, str]] = {
    "selfsup": ("selfsup", "train_selfsup"),
    "paired2d": ("selfsup", "train_paired"),
    "supervised3d": ("supervised3d", "train_supervised3d"),
    "arbitrary-scale": ("arbitrary_scale", "train_arbitrary_scale"),
    "degradation-learning": ("degradation_learning", "train_degradation_learning"),
    "vae-two-stage": ("vae_two_stage", "train_vae_two_stage"),
}

__all__ = ["TRAIN_METHODS", "SelfSupConfig", "SelfSupLoss", "StepContext", "TrainSettings", "TrainingInterrupted",
           "fit", "fit_networks",
           "l1_loss", "projected_distribution_loss", "train", "train_paired", "train_selfsup"]


def _recipe(method: str):
    if method not in TRAIN_METHODS:
        raise IsovoxError(f"unknown training method {method!r}; choose one of {', '.join(TRAIN_METHODS)}")
    module, function = TRAIN_METHODS[method]
    return getattr(importlib.import_module(f"{__name__}.recipes.{module}"), function)


def train(volume: Volume | Sequence[Volume] | None, output_dir: str | Path, method: str = "selfsup", *,
          ground_truth: Volume | None = None, highres: Volume | Sequence[Volume] | None = None,
          overwrite: bool = False, resume: bool = True, workdir: str | Path | None = None,
          **config_fields: Any) -> Path:
    """Train with ``method`` (a key of :data:`TRAIN_METHODS`) and return the model folder's path.

    ``volume``: the anisotropic volume to learn from (selfsup, paired2d). ``ground_truth``: the
    isotropic truth of ``volume`` (paired2d). ``highres``: isotropic reference volumes
    (supervised3d).
    """
    recipe = _recipe(method)
    for given in [volume, ground_truth, highres]:
        for item in (given if isinstance(given, (list, tuple)) else [given]):
            if isinstance(item, Volume):
                check_intensity_dtype(item.dtype)
    options = dict(overwrite=overwrite, resume=resume, workdir=workdir, **config_fields)
    try:
        return _dispatch(method, recipe, volume, output_dir, ground_truth, highres, options)
    except DiskFull as error:
        # a full disk stops a run for good: free the checkpoints' space rather than keep it filled
        folder = Path(workdir) if workdir is not None else default_workdir(Path(output_dir))
        shutil.rmtree(folder, ignore_errors=True)
        raise DiskFull(f"{error} (the training work folder {folder} was removed too)") from None


def _dispatch(method: str, recipe, volume, output_dir, ground_truth, highres, options: dict) -> Path:
    if method == "supervised3d":
        if highres is None or volume is not None or ground_truth is not None:
            raise IsovoxError("method 'supervised3d' learns from isotropic references: pass highres=[...] "
                              "and no volume or ground_truth")
        return recipe(highres, output_dir, **options)
    if highres is not None:
        raise IsovoxError(f"method {method!r} takes no highres volumes; they are for 'supervised3d'")
    if volume is None:
        raise IsovoxError(f"method {method!r} needs the anisotropic volume to learn from")
    if not isinstance(volume, Volume) and method != "vae-two-stage":
        raise IsovoxError(f"method {method!r} learns from one volume; only 'vae-two-stage' takes a list")
    if method == "paired2d":
        if ground_truth is None:
            raise IsovoxError("method 'paired2d' needs ground_truth= (an isotropic volume on the target grid)")
        return recipe(volume, ground_truth, output_dir, **options)
    if ground_truth is not None:
        raise IsovoxError(f"method {method!r} trains on the volume alone; ground_truth is for 'paired2d'")
    return recipe(volume, output_dir, **options)
