"""Training: volumes in, a model folder (:mod:`isovox.store`) out.

``train(volume, output_dir, method='selfsup', **options)`` dispatches by method name through
the recipe registry (:mod:`.recipes.registry`, also :data:`TRAIN_METHODS`), which says what each
method learns from and which function and config it uses (imported when used):

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

import shutil
from pathlib import Path
from typing import Any, Sequence

from ..errors import DiskFull
from ..lazy import lazy_exports
from ..volume import Volume, check_intensity_dtype
from .recipes.registry import RECIPES, recipe_info

# The loop, losses and recipes load torch: resolved on first use (PEP 562), so the registry and
# ``train``'s checks stay importable by the CLI without it.
_LAZY = {
    "TrainingInterrupted": "isovox.training.checkpoint",
    "StepContext": "isovox.training.loop", "fit": "isovox.training.loop", "fit_networks": "isovox.training.loop",
    "SelfSupLoss": "isovox.training.losses", "l1_loss": "isovox.training.losses",
    "projected_distribution_loss": "isovox.training.losses",
    "SelfSupConfig": "isovox.training.recipes.selfsup", "train_paired": "isovox.training.recipes.selfsup",
    "train_selfsup": "isovox.training.recipes.selfsup",
    "TrainSettings": "isovox.training.settings",
}

#: method -> its registry entry (:mod:`.recipes.registry`); a recipe's module loads only when used
TRAIN_METHODS = RECIPES

__all__ = ["TRAIN_METHODS", "train", *sorted(_LAZY)]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals(), eager=("TRAIN_METHODS", "train"))


def train(volume: Volume | Sequence[Volume] | None, output_dir: str | Path, method: str = "selfsup", *,
          ground_truth: Volume | None = None, highres: Volume | Sequence[Volume] | None = None,
          overwrite: bool = False, resume: bool = True, workdir: str | Path | None = None,
          **config_fields: Any) -> Path:
    """Train with ``method`` (a key of :data:`TRAIN_METHODS`) and return the model folder's path.

    What the method learns from (its registry entry's ``inputs``): ``volume``, the anisotropic
    volume (or, for vae-two-stage, a list of them); ``ground_truth``, the isotropic truth of
    ``volume`` (paired2d); ``highres``, isotropic reference volumes (supervised3d).
    """
    recipe = recipe_info(method)
    for given in [volume, ground_truth, highres]:
        for item in (given if isinstance(given, (list, tuple)) else [given]):
            if isinstance(item, Volume):
                check_intensity_dtype(item.dtype)
    options = dict(overwrite=overwrite, resume=resume, workdir=workdir, **config_fields)
    try:
        arguments = recipe.arguments(volume, ground_truth, highres)
        return recipe.train_function()(*arguments, output_dir, **options)
    except DiskFull as error:
        # a full disk stops a run for good: free the checkpoints' space rather than keep it filled
        from .recipes.common import default_workdir

        folder = Path(workdir) if workdir is not None else default_workdir(Path(output_dir))
        shutil.rmtree(folder, ignore_errors=True)
        raise DiskFull(f"{error} (the training work folder {folder} was removed too)") from None
