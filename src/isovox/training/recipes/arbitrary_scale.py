"""Arbitrary-scale training: one Meta-SRGAN for every factor (paper 002, sec. 2.2, 3.1, 3.2).

:func:`train_arbitrary_scale` trains :class:`isovox.models.srgan.MetaSRGAN` on lateral planes of a
volume, as the self-supervised method does (:class:`isovox.pairs.LateralPairs`, paper 001), but
each batch gets its own scale: "each minibatch of images was associated with a scale, and each
scale was chosen uniformly at random from 1.1 to 4.0" in steps of 0.1 (paper 002, sec. 3.2).
The network is fed the *low-resolution* patch itself (no pre-upsampling), so its input must be
made at the scale's spacing: :class:`ScaledLateralPairs` cuts a sharp lateral patch (spacing
``t`` in both directions), degrades its rows with a recipe of :mod:`isovox.degrade.recipes` to
the spacing ``s * t`` (slice ``k`` at patch row ``k * s``, the grid convention of
:mod:`isovox.volume`) and pairs it with the sharp rows the network must return,
``floor((n_lr - 1) * s) + 1`` of them. Through-plane use scales the rows only; ``both_axes``
scales both, paper 002's 2D image task.

Losses (paper 002 eq. 6): ``L1 + 0.001 adversarial + 0.006 perceptual``. The perceptual term needs
VGG19 weights (``vgg_weights``, :mod:`isovox.models.vgg`); without a file it is left out, and
asking for it (``perceptual_weight > 0``) without one is an error. The adversarial term trains an
SRGAN discriminator (:class:`~isovox.models.srgan.SRGANDiscriminator`) in the same loop
(:func:`isovox.training.loop.fit_networks`), the discriminator first, then the generator.

Choices (each a field of :class:`ArbitraryScaleConfig`):

- CPU default ``adversarial_weight=0``: L1 only. On budgets of a few thousand iterations the
  adversarial term costs a third more time per iteration and trades PSNR for sharpness, while
  the benchmark target is PSNR against a fixed-factor model trained with the same budget. Set
  ``adversarial_weight=0.001`` (and ``vgg_weights``) for the paper's Meta-SRGAN.
- Generator: Adam, ``lr`` 1e-3 with cosine decay and 50 warm-up iterations, as the
  self-supervised recipe (the paper's 1e-4 with a 20 % decay every 60k updates suits its 360k
  GPU updates, not CPU budgets). Discriminator: Adam, ``d_lr`` 1e-4 (the paper's rate).
  The adversarial loss is the non-saturating form of eq. 4 (the generator maximises log D(G(z)),
  as SRGAN does), computed from the discriminator's logits.
- Gaussian slice profile with FWHM = the scale's low-res spacing (``profile_ratio`` times it),
  as :func:`isovox.simulate` does by default.
- ``crop='max-information'`` (paper 002, sec. 3.1, for MRI slices that are half background):
  patches are drawn inside each plane's bounding box of pixels above ``crop_threshold`` (a
  fraction of the normalised intensity range); planes whose box is smaller than half a patch
  are skipped.
- No best-on-validation weights: the last weights are kept (the loop's rule for GAN recipes).
  After training, the held-out planes (the last ``validation_fraction`` along the axis) are
  scored at ``validation_scales`` against cubic interpolation; the card records it.
- ``arch='srgan'``: the fixed-scale SRGAN of paper 002's Table 1 (pixel-shuffle tail), trained
  with the same pairs at its own integer scale only, for comparisons. Its ``n * s`` output rows
  are cut to the grid convention's ``(n - 1) * s + 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...degrade.functional import take_slices
from ...degrade.recipes import check_recipe, recipe_ops
from ...device import model_device, resolve_device
from ...errors import IsovoxError
from ...models import create_model
from ...models.meta_upscale import output_length
from ...models.vgg import PerceptualLoss
from ...intensity import PERCENTILES, Normalisation
from ...pairs import _held_out, dihedral
from ...resample import apply_along_axis, resampling_matrix
from ...store import ModelCard, json_ready
from ...volume import AXIS_NAMES, Volume, axis_index, input_positions, lowres_axis
from ..loop import StepContext, fit_networks
from ..history import phase_record
from ..settings import TrainSettings, psnr
from .common import (fingerprint_of, make_config, prepare_output, record_run, save_trained, settings_from, sizes,
                     training_summary)

__all__ = ["ArbitraryScaleConfig", "ScaledLateralPairs", "train_arbitrary_scale", "scale_range"]

ARCHS = ("meta-srgan", "srgan")
CROPS = (None, "max-information")


def scale_range(low: float = 1.1, high: float = 4.0, step: float = 0.1) -> tuple[float, ...]:
    """``low, low + step, ..., high`` (rounded to 6 decimals, so 1.1 + 0.1 is 1.2)."""
    count = int(math.floor((high - low) / step + 1e-6)) + 1
    return tuple(round(low + i * step, 6) for i in range(count))


@dataclass
class ArbitraryScaleConfig(TrainSettings):
    """Everything a run depends on (module docstring for the defaults)."""

    arch: str = "meta-srgan"
    preset: str = "default"
    model_kwargs: dict = field(default_factory=dict)
    discriminator_preset: str = "default"
    axis: int | str | None = None               # None: the coarsest axis (give it for isotropic data)
    scale_min: float = 1.1
    scale_max: float = 4.0
    scale_step: float = 0.1
    both_axes: bool = False                     # True: scale rows and columns (2D image task)
    recipe: str = "gaussian"
    profile_ratio: float = 1.0                  # slice profile (FWHM / slab) over the low-res spacing
    crop: str | None = None                     # None or 'max-information'
    crop_threshold: float = 0.1
    iterations: int | None = 2000
    d_lr: float = 1e-4
    adversarial_weight: float = 0.0
    perceptual_weight: float | None = None      # None: 0.006 with vgg_weights, else 0
    vgg_weights: str | None = None
    validation_pairs: int = 16
    validation_scales: tuple[float, ...] = (2.0, 3.0, 4.0)

    def perceptual(self) -> float:
        if self.perceptual_weight is None:
            return 0.006 if self.vgg_weights else 0.0
        if self.perceptual_weight > 0 and not self.vgg_weights:
            raise IsovoxError("perceptual_weight > 0 needs vgg_weights=PATH (VGG19 weights in torchvision's "
                              "layout); isovox downloads none")
        return float(self.perceptual_weight)


class ScaledLateralPairs:
    """Pairs (low-res patch, sharp patch, scale) from the lateral planes of ``volume``.

    The planes perpendicular to ``axis`` are cut into ``patch_size`` squares at the finest
    lateral spacing ``t`` (any of the 8 dihedral transforms that keep an axis of spacing ``t``
    on the rows), normalised with the volume's 0.1-99.9 percentiles, and degraded along the rows
    (and columns with ``both_axes``) to spacing ``s * t``.
    """

    def __init__(self, volume: Volume, *, axis: int | str | None, scales: tuple[float, ...], patch_size: int,
                 recipe: str = "gaussian", profile_ratio: float = 1.0, both_axes: bool = False,
                 crop: str | None = None, crop_threshold: float = 0.1, validation_fraction: float = 0.1,
                 seed: int = 0, percentiles=PERCENTILES) -> None:
        self.volume, self.recipe, self.seed = volume, check_recipe(recipe), int(seed)
        self.axis = lowres_axis(volume.spacing) if axis is None else axis_index(axis)
        self.scales, self.patch_size, self.both_axes = tuple(float(s) for s in scales), int(patch_size), bool(both_axes)
        self.profile_ratio, self.crop = float(profile_ratio), crop
        if crop not in CROPS:
            raise IsovoxError(f"unknown crop {crop!r}; choose None or 'max-information'")
        if not self.scales or min(self.scales) < 1:
            raise IsovoxError(f"scales must be numbers >= 1, got {scales}")
        plane_axes = [a for a in range(3) if a != self.axis]
        spacings = [volume.spacing[a] for a in plane_axes]
        self.spacing = min(spacings)
        rows_ok = [math.isclose(s, self.spacing, rel_tol=1e-3) for s in spacings]
        self.codes = np.array([c for c in range(8) if rows_ok[c % 2] and (rows_ok[1 - c % 2] or not both_axes)])
        if not len(self.codes):
            raise IsovoxError("both_axes needs equal lateral spacings")
        P = self.patch_size
        shape = [volume.shape[a] for a in plane_axes]
        if min(shape) < P or P < 2 * max(self.scales) + 1:
            raise IsovoxError(f"patch size {P} must fit the lateral planes ({shape[0]} x {shape[1]}) and hold "
                              f"3 low-res rows at scale {max(self.scales):g} (at least {math.ceil(2 * max(self.scales) + 1)})")
        self.normalisation = Normalisation.measure(volume, percentiles)
        self.planes = np.moveaxis(self.normalisation.apply(volume.numpy()), self.axis, 0)
        n_val = _held_out(len(self.planes), validation_fraction, f"volume with {len(self.planes)} lateral planes")
        self.windows = self._windows(crop_threshold)       # (plane, row lo, row hi, col lo, col hi) starts
        self.train = self.windows[self.windows[:, 0] < len(self.planes) - n_val]
        self.held_out = self.windows[self.windows[:, 0] >= len(self.planes) - n_val]
        if not len(self.train) or (n_val and not len(self.held_out)):
            raise IsovoxError(f"no lateral plane has a {crop} crop of at least half a {P}-pixel patch; "
                              "lower crop_threshold or patch_size")
        self.held_out_planes = n_val

    def _windows(self, threshold: float) -> np.ndarray:
        """Per plane, the range of allowed patch starts: the whole plane, or its information box."""
        n, h, w = self.planes.shape
        P = self.patch_size
        if self.crop is None:
            return np.array([[k, 0, h - P, 0, w - P] for k in range(n)], dtype=np.int64)
        mask = self.planes > threshold
        rows, cols = mask.any(axis=2), mask.any(axis=1)
        out = []
        for k in np.flatnonzero(rows.any(axis=1)):      # planes with foreground
            (r0, r1), (c0, c1) = [(int(np.argmax(a)), len(a) - 1 - int(np.argmax(a[::-1]))) for a in (rows[k], cols[k])]
            if min(r1 - r0, c1 - c0) + 1 < P / 2:
                continue
            out.append([k, *self._starts(r0, r1, h), *self._starts(c0, c1, w)])
        return np.array(out, dtype=np.int64).reshape(-1, 5)

    def _starts(self, lo: int, hi: int, n: int) -> tuple[int, int]:
        """First and last patch start keeping the patch inside [lo, hi] (centred if it is smaller)."""
        P = self.patch_size
        first, last = lo, hi - P + 1
        if last < first:
            first = last = (lo + hi - P + 1) // 2
        return int(np.clip(first, 0, n - P)), int(np.clip(last, 0, n - P))

    # --- pairs ----------------------------------------------------------------------------
    def sharp(self, windows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` normalised sharp patches (n, P, P) from random rows of ``windows``."""
        P = self.patch_size
        chosen = windows[rng.integers(0, len(windows), n)]
        r = rng.integers(chosen[:, 1], chosen[:, 2] + 1)
        c = rng.integers(chosen[:, 3], chosen[:, 4] + 1)
        index = np.arange(P)
        patches = self.planes[chosen[:, 0, None, None], (r[:, None] + index)[:, :, None], (c[:, None] + index)[:, None, :]]
        return dihedral(patches.astype(np.float32), rng.choice(self.codes, n))

    def degrade(self, sharp: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """(low-res (n, 1, h, w), target (n, 1, H, W)) of sharp patches at ``scale``."""
        axes = (1, 2) if self.both_axes else (1,)
        patches = Volume(sharp, (1.0, self.spacing, self.spacing), self.volume.unit)
        thickness = self.profile_ratio * scale * self.spacing if self.recipe in ("gaussian", "box") else None
        for a in axes:
            patches = recipe_ops(self.recipe, a, scale, self.spacing, thickness).apply(patches)
        lowres = patches.numpy()
        for a in axes:                    # 'kspace' keeps the grid: acquire the slices
            if lowres.shape[a] == sharp.shape[a]:
                lowres = take_slices(lowres, a, scale)
        rows = output_length(lowres.shape[1], scale)
        cols = output_length(lowres.shape[2], scale) if self.both_axes else sharp.shape[2]
        return np.ascontiguousarray(lowres[:, None]), np.ascontiguousarray(sharp[:, None, :rows, :cols])

    def smallest_target(self) -> int:
        """Fewest target rows over the scales (a patch of P rows keeps ``(n_lr - 1) * s + 1``)."""
        return min(output_length(int(math.floor((self.patch_size - 1) / s + 1e-6)) + 1, s) for s in self.scales)

    def scale_pair(self, scale: float) -> tuple[float, float]:
        return (scale, scale) if self.both_axes else (scale, 1.0)

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        scale = float(self.scales[rng.integers(len(self.scales))])     # uniform over the list
        lowres, target = self.degrade(self.sharp(self.train, batch, rng), scale)
        return lowres, target, self.scale_pair(scale)

    def batch_sampler(self, batch: int):
        """``f(iteration)``: a pure function of (seed, iteration), so a resumed run draws the same."""
        return lambda iteration: self.sample(batch, np.random.default_rng([self.seed, 1, int(iteration)]))

    def validation_set(self, n: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """``n`` fixed pairs from the held-out planes at ``scale``."""
        rng = np.random.default_rng([self.seed, 7919, int(round(scale * 1000))])
        return self.degrade(self.sharp(self.held_out, n, rng), scale)

    def describe(self) -> dict:
        return {"pairs": "lateral, one scale per batch", "axis": AXIS_NAMES[self.axis],
                "scales": [min(self.scales), max(self.scales)], "scale_list": list(self.scales),
                "both_axes": self.both_axes, "recipe": self.recipe, "profile_ratio": self.profile_ratio,
                "crop": self.crop, "patch_size": self.patch_size, "lateral_spacing": self.spacing,
                "held_out_planes": self.held_out_planes}


def _cubic(lowres: np.ndarray, scale: tuple[float, float], both_axes: bool) -> np.ndarray:
    """The interpolation baseline on the output grid (isovox's Keys cubic)."""
    out = apply_along_axis(lowres, resampling_matrix(lowres.shape[2], input_positions(lowres.shape[2], scale[0])), 2)
    if both_axes:
        out = apply_along_axis(out, resampling_matrix(lowres.shape[3], input_positions(lowres.shape[3], scale[1])), 3)
    return out


def generate(model: torch.nn.Module, lowres: torch.Tensor, scale: tuple[float, float]) -> torch.Tensor:
    """The generator's prediction on the isovox grid (Meta-SRGAN, or SRGAN cut to it)."""
    if getattr(model, "convention", None) == "arbitrary-scale":
        return model(lowres, scale)
    rows, cols = output_length(lowres.shape[-2], scale[0]), output_length(lowres.shape[-1], scale[1])
    return model(lowres)[..., :rows, :cols]


def _adversarial(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target)


def make_step(l1_weight: float, adversarial_weight: float, perceptual: PerceptualLoss | None, perceptual_weight: float):
    """The step of one iteration: discriminator update (if adversarial), then generator update."""

    def step(ctx: StepContext, batch: Any) -> dict[str, torch.Tensor]:
        lowres, target, scale = ctx.tensor(batch[0]), ctx.tensor(batch[1]), batch[2]
        generator = ctx.networks["G"]
        with ctx.autocast():
            fake = generate(generator, lowres, scale).float()
        terms = {"l1": (fake - target).abs().mean()}
        loss = l1_weight * terms["l1"]
        if adversarial_weight > 0:
            critic = ctx.networks["D"]
            with ctx.autocast():
                real_logits, fake_logits = critic.logits(target), critic.logits(fake.detach())
            terms["d_loss"] = _adversarial(real_logits, True) + _adversarial(fake_logits, False)
            ctx.update("D", terms["d_loss"])
            with ctx.autocast():
                terms["adversarial"] = _adversarial(critic.logits(fake), True)
            loss = loss + adversarial_weight * terms["adversarial"]
        if perceptual is not None:
            terms["perceptual"] = perceptual(fake, target)
            loss = loss + perceptual_weight * terms["perceptual"]
        ctx.update("G", loss)
        return {"loss": loss, **terms}

    return step


@torch.no_grad()
def held_out_scores(model: torch.nn.Module, pairs: ScaledLateralPairs, scales, n: int, device) -> dict:
    """PSNR (peak 1, normalised intensities) of the model and of cubic interpolation per scale."""
    model.eval()
    scores = {}
    for scale in scales:
        lowres, target = pairs.validation_set(n, scale)
        pair = pairs.scale_pair(float(scale))
        predicted = generate(model, torch.as_tensor(lowres, device=device), pair).float().cpu().numpy()
        scores[f"{scale:g}"] = {"psnr": psnr(float(np.mean((predicted - target) ** 2))),
                                "cubic_psnr": psnr(float(np.mean((_cubic(lowres, pair, pairs.both_axes) - target) ** 2)))}
    return scores


def _build(config: ArbitraryScaleConfig) -> tuple[torch.nn.Module, tuple[float, ...]]:
    if config.arch not in ARCHS:
        raise IsovoxError(f"arbitrary-scale training builds {' or '.join(ARCHS)}, not {config.arch!r}")
    torch.manual_seed(config.seed)
    try:
        model = create_model(config.arch, preset=config.preset, **dict(config.model_kwargs))
    except (TypeError, ValueError) as error:
        raise IsovoxError(f"cannot build {config.arch!r}: {error}") from None
    if config.arch == "meta-srgan":
        return model, scale_range(config.scale_min, config.scale_max, config.scale_step)
    if model.scale == 1 or (config.both_axes and model.col_scale != model.scale) or (not config.both_axes and model.col_scale != 1):
        raise IsovoxError("arch 'srgan' trains at its own scale: give model_kwargs scale (and col_scale equal "
                          "to it with both_axes)")
    return model, (float(model.scale),)


def train_arbitrary_scale(volume: Volume, output_dir: str | Path, config: ArbitraryScaleConfig | None = None, *,
                          overwrite: bool = False, resume: bool = True, workdir: str | Path | None = None,
                          **overrides: Any) -> Path:
    """Train one arbitrary-scale network on ``volume``'s lateral planes; returns the model folder.

    ``overrides`` are :class:`ArbitraryScaleConfig` fields. The card (method 'arbitrary-scale')
    records the scale range in ``degradation['scales']``; reconstruct with
    :func:`isovox.reconstruction.arbitrary.reconstruct_arbitrary` at any target spacing.
    """
    config = make_config(ArbitraryScaleConfig, config, overrides)
    perceptual_weight = config.perceptual()
    output_dir, workdir = prepare_output(output_dir, overwrite, workdir)
    device = resolve_device(config.device)
    patch, batch = sizes(config, device)
    generator, scales = _build(config)
    pairs = ScaledLateralPairs(volume, axis=config.axis, scales=scales, patch_size=patch, recipe=config.recipe,
                               profile_ratio=config.profile_ratio, both_axes=config.both_axes, crop=config.crop,
                               crop_threshold=config.crop_threshold, validation_fraction=config.validation_fraction,
                               seed=config.seed, percentiles=config.percentiles)
    networks, optimizers = {"G": generator}, {"G": {"lr": config.lr}}
    if config.adversarial_weight > 0:
        networks["D"] = create_model("srgan-discriminator", preset=config.discriminator_preset,
                                    in_channels=generator.out_channels)
        optimizers["D"] = {"lr": config.d_lr}
    if perceptual_weight > 0 and pairs.smallest_target() < 16:     # VGG19 pools 4 times before conv5_4
        raise IsovoxError(f"the perceptual loss needs targets of at least 16 rows; patch size {patch} leaves "
                          f"{pairs.smallest_target()} at scale {max(scales):g}; use a larger patch_size")
    perceptual = PerceptualLoss(config.vgg_weights) if perceptual_weight > 0 else None
    step = make_step(1.0, config.adversarial_weight, perceptual, perceptual_weight)
    record_run(workdir, fingerprint_of("arbitrary-scale", config, [volume]), resume)
    history = fit_networks(networks, optimizers, step, pairs.batch_sampler(batch), settings_from(config, batch),
                           workdir, resume=resume, keep_best=False, losses=[perceptual] if perceptual else ())
    summary = training_summary(history, config, _describe_loss(config, perceptual_weight), patch, batch)
    if pairs.held_out_planes:
        summary["held_out"] = held_out_scores(generator, pairs, config.validation_scales, config.validation_pairs,
                                              model_device(generator))
    lateral = pairs.spacing
    card = ModelCard(method="arbitrary-scale", architecture=json_ready(generator.build_config),
                     factor=volume.spacing[pairs.axis] / lateral, lowres_spacing=volume.spacing[pairs.axis],
                     target_spacing=lateral, unit=volume.unit, normalisation=pairs.normalisation,
                     degradation=json_ready(pairs.describe()), training=json_ready(summary))
    return save_trained(output_dir, generator, card, workdir, overwrite, config=config,
                        phases=[phase_record("training", history)])


def _describe_loss(config: ArbitraryScaleConfig, perceptual_weight: float) -> str:
    parts = ["L1"]
    if config.adversarial_weight > 0:
        parts.append(f"{config.adversarial_weight:g} adversarial (SRGAN discriminator, {config.discriminator_preset})")
    if perceptual_weight > 0:
        parts.append(f"{perceptual_weight:g} perceptual (VGG19 conv5_4)")
    return " + ".join(parts)
