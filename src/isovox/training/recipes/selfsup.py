"""Self-supervised training on one anisotropic volume (A2I-3DEM, paper 001), and its oracle.

:func:`train_selfsup`: pairs from the volume's own lateral planes (:class:`isovox.pairs.LateralPairs`,
paper 001 section II-A), loss L1 + 0.01 PDL (eq. 5, :class:`isovox.training.losses.SelfSupLoss`),
Adam (section II-B.3), then a model folder (:mod:`isovox.store`) that reconstruction reads.

:func:`train_paired`: the same network and loss trained on *true* axial planes of a ground
truth (:class:`isovox.pairs.AxialPairs`), the upper bound a self-supervised model can reach.

Defaults chosen for a laptop CPU (each is a :class:`SelfSupConfig` field):

- ``arch='drcnet'`` (Deng et al., paper 000; small default size): an order of magnitude faster
  per iteration than the ``a2i`` transformer on CPU, so 1000 iterations fit in minutes. Use
  ``arch='a2i'`` (and ``preset='paper'`` on a GPU) for the paper's network.
- ``lr=1e-3`` with cosine decay, 50 warm-up iterations and gradient clipping: the paper's 1e-4
  suits its long GPU runs; on CPU budgets (hundreds to a few thousand iterations) it barely
  moves the network. Measured on sharp synthetic blobs, 250 iterations, validation PSNR gain
  over cubic: drcnet +1.3 / +2.8 / +4.0 dB and a2i -0.1 / +2.0 / +3.6 dB for lr 1e-4 / 5e-4 / 1e-3.
- ``patch_size`` / ``batch_size`` None: 64 / 8 on CPU, 128 / 16 on CUDA.
- Noise and section artifacts off: the lateral planes already carry the acquisition's noise;
  turn ``noise`` / ``poisson`` / ``artifacts`` on (paper 001) for data with such defects.
- The work folder (checkpoints) is ``.NAME.isovox-train`` beside the output; it is removed once
  the model folder is written, and a rerun after an interruption resumes from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...device import resolve_device
from ...errors import IsovoxError
from ...pairs import AxialPairs, LateralPairs
from ...store import ModelCard, json_ready
from ...volume import Volume
from ..history import phase_record
from ..losses import SelfSupLoss
from ..settings import TrainSettings
from .common import (build_model, fingerprint_of, make_config, prepare_output, run_training, save_trained,
                     settings_from, sizes, training_summary)

__all__ = ["SelfSupConfig", "train_selfsup", "train_paired"]


@dataclass
class SelfSupConfig(TrainSettings):
    """Everything a training run depends on (see the module docstring for the defaults)."""

    arch: str = "drcnet"
    preset: str = "default"
    model_kwargs: dict = field(default_factory=dict)
    axis: int | str | None = None               # None: the coarsest axis
    target_spacing: float | None = None         # None: the finest lateral spacing
    recipe: str = "auto"                        # 'auto' (estimated) or an isovox.degrade.recipes name
    select_acquisition: bool = True             # 'auto': check the estimate against thin sections
    thickness: float | None = None              # slice profile ('gaussian' FWHM, 'box' slab), volume unit
    fwhm: float | None = None                   # the same as thickness (a box's FWHM is its width)
    alpha: float = 0.01                         # PDL weight, paper 001 eq. 5
    noise: Any = None                           # Gaussian sigma (fraction of range) or (lo, hi); True
    poisson: Any = None                         # photon range (lo, hi); True = (20, 1000)
    artifacts: Any = None                       # True or RandomSectionArtifacts settings
    augment_probability: float = 0.5
    validation_pairs: int = 64
    bad_sections: Any = ()                      # defective lateral planes to skip (indices) ...
    detect_defects: bool = True                 # ... added to those isovox.defects finds

    def profile(self) -> float | None:
        """The recipe's thickness from ``thickness`` or ``fwhm`` (one of them)."""
        if self.fwhm is not None and self.thickness is not None:
            raise IsovoxError("give fwhm or thickness, not both")
        if self.recipe == "auto":
            raise IsovoxError("recipe 'auto' must be resolved (resolve_acquisition) before the profile is read")
        if self.fwhm is not None and self.recipe not in ("gaussian", "box"):   # a box's FWHM is its width
            raise IsovoxError(f"recipe {self.recipe!r} has no slice profile; fwhm is for 'gaussian' or 'box'")
        return self.fwhm if self.fwhm is not None else self.thickness


def resolve_acquisition(volume: Volume, config: SelfSupConfig) -> tuple[SelfSupConfig, dict | None]:
    """Replace ``recipe='auto'`` by the acquisition estimated from ``volume`` (issue: a model
    trained for the wrong blur loses to linear interpolation on real sections).

    The estimate (:func:`isovox.acquisition.estimate_acquisition`) is in physical units, so it
    transfers between the native problem and the withheld-sections check (double spacing). A user
    who gives ``fwhm`` or ``thickness`` with 'auto' has told the profile: a Gaussian of that
    width is used and nothing is estimated. Returns the config to train with and the estimate
    (a dict for the model card) or None.
    """
    if config.recipe != "auto":
        return config, None
    if config.fwhm is not None or config.thickness is not None:
        return dataclasses.replace(config, recipe="gaussian"), None
    from ...acquisition import estimate_acquisition, training_recipe

    try:
        estimate = estimate_acquisition(volume, config.axis)
    except IsovoxError as error:             # too few sections or too little lateral extent
        fallback = dataclasses.replace(config, recipe="gaussian")
        return fallback, {"recipe": "gaussian", "thickness": None, "estimated": False,
                          "reason": f"{error}; trained for a Gaussian profile as wide as the section spacing"}
    from ...volume import axis_index, lowres_axis
    from .acquisition_choice import choose_acquisition

    recipe, thickness = training_recipe(estimate)
    summary = {key: value for key, value in estimate.to_dict().items() if key != "candidates"}
    axis = lowres_axis(volume.spacing) if config.axis is None else axis_index(config.axis)
    chosen, choice = choose_acquisition(volume, config, recipe, thickness, axis)
    return chosen, {**summary, "estimated": True, "choice": choice,
                    "trained_for": {"recipe": chosen.recipe, "thickness": chosen.thickness}}


def _defective_planes(volume: Volume, config: SelfSupConfig) -> tuple[int, ...]:
    """Lateral planes not to cut patches from: defective sections, detected and given."""
    from ...gaps import find_gaps
    from ...volume import axis_index, lowres_axis

    axis = lowres_axis(volume.spacing) if config.axis is None else axis_index(config.axis)
    gaps = find_gaps(volume, axis, tuple(config.bad_sections or ()), config.detect_defects)
    return () if gaps is None else gaps.bad


def _validation(pairs: Any, config: SelfSupConfig) -> Any:
    return pairs.validation_set(config.validation_pairs) if config.validation_fraction > 0 else None


def _train(method: str, pairs: Any, volumes: list, unit: str, output_dir: Path, workdir: Path,
           config: SelfSupConfig, patch: int, batch: int, overwrite: bool, resume: bool,
           estimate: dict | None = None) -> Path:
    model = build_model(config)
    loss = SelfSupLoss(alpha=config.alpha)
    history = run_training(model, pairs.batch_sampler(batch), loss, _validation(pairs, config),
                           settings_from(config, batch), workdir, resume,
                           fingerprint_of(method, config, volumes))
    card = ModelCard(method=method, architecture=json_ready(model.build_config), factor=pairs.factor,
                     lowres_spacing=pairs.lowres_spacing, target_spacing=pairs.target_spacing, unit=unit,
                     normalisation=pairs.normalisation,
                     degradation=json_ready({**pairs.describe(), **({"estimated_acquisition": estimate}
                                                                     if estimate else {})}),
                     training=training_summary(history, config, loss, patch, batch))
    return save_trained(output_dir, model, card, workdir, overwrite, config=config,
                        phases=[phase_record("training", history)])


def train_selfsup(volume: Volume, output_dir: str | Path, config: SelfSupConfig | None = None, *,
                  overwrite: bool = False, resume: bool = True, workdir: str | Path | None = None,
                  **overrides: Any) -> Path:
    """Train a self-supervised model on ``volume`` and write it to ``output_dir``.

    ``overrides`` are :class:`SelfSupConfig` fields. An existing ``output_dir`` without
    ``overwrite`` raises before any work. Returns the model folder's path.
    """
    config = make_config(SelfSupConfig, config, overrides)
    output_dir, workdir = prepare_output(output_dir, overwrite, workdir)
    patch, batch = sizes(config, resolve_device(config.device))
    config, estimate = resolve_acquisition(volume, config)
    pairs = LateralPairs(volume, axis=config.axis, target_spacing=config.target_spacing, recipe=config.recipe,
                         thickness=config.profile(), patch_size=patch, noise=config.noise,
                         poisson=config.poisson, artifacts=config.artifacts,
                         augment_probability=config.augment_probability,
                         validation_fraction=config.validation_fraction, seed=config.seed,
                         percentiles=config.percentiles, exclude_planes=_defective_planes(volume, config))
    return _train("selfsup", pairs, [volume], volume.unit, output_dir, workdir, config, patch, batch,
                  overwrite, resume, estimate)


def train_paired(lowres: Volume, ground_truth: Volume, output_dir: str | Path,
                 config: SelfSupConfig | None = None, *, overwrite: bool = False, resume: bool = True,
                 workdir: str | Path | None = None, **overrides: Any) -> Path:
    """Oracle: train on true axial planes of ``ground_truth`` (method 'paired2d').

    Uses the network, loss and budget fields of :class:`SelfSupConfig`; the recipe and
    augmentation fields do not apply (the degradation is whatever made ``lowres``).
    """
    config = make_config(SelfSupConfig, config, overrides)
    output_dir, workdir = prepare_output(output_dir, overwrite, workdir)
    patch, batch = sizes(config, resolve_device(config.device))
    pairs = AxialPairs(lowres, ground_truth, axis=config.axis, patch_size=patch,
                       validation_fraction=config.validation_fraction, seed=config.seed,
                       percentiles=config.percentiles)
    return _train("paired2d", pairs, [lowres, ground_truth], lowres.unit, output_dir, workdir, config,
                  patch, batch, overwrite, resume)
