"""Two-stage training without ground truth (Xuan et al., paper 003): a slice VAE, then a 3D generator.

:func:`train_vae_two_stage` takes one or more anisotropic volumes and no reference:

* **Stage I** (sections 2.2 and 3.1): a VAE-GAN (:mod:`isovox.models.vae`) is trained on 2D
  slices of the acquisition plane (the planes stacked along the low-resolution axis), with the
  fidelity loss ``L_center`` on the centre slice of a triplet of neighbouring acquired slices,
  the KL prior ``L_prior`` (eq. 5), the Wasserstein-style ``L_adv`` (eq. 7) against a PatchGAN
  critic, and the slice compactness ``L_comp`` (eq. 8) between the centre slice's posterior and
  its two neighbours'. Each volume is then up-sampled by latent interpolation
  (:func:`isovox.latent.synthesize_volume`): the synthesized HR volumes.
* **Stage II** (section 2.3): the synthesized volumes are degraded by taking one slice of
  ``factor`` and a registered 3D generator learns to undo it
  (:func:`isovox.training.recipes.supervised3d.train_supervised3d`); it is the network the
  model folder holds and reconstruction runs on the real volume.

``vae_from=FOLDER`` skips stage I and reuses the VAE of an earlier two-stage model folder, to
train another stage-II generator (another architecture, budget or pair set) on the same VAE.

Choices where the paper is vague or where a CPU budget forces a change, written down:

* Losses: ``L_center`` is the mean absolute error (the paper writes ``||x - x_hat||``; it uses
  L1 in stage II). KL terms are summed over latent dimensions and averaged over the batch.
  The critic is updated once per iteration (spectral normalisation keeps it Lipschitz, as in
  Miyato et al.; no gradient penalty), on the same centre slices.
* Eq. 10-11 (encoder trained with beta = 0, after Larsen et al.): the decoder also decodes a
  copy of ``z`` detached from the encoder, and ``L_adv`` is computed on that copy, so the
  adversarial gradient reaches the decoder but never the encoder, while every other term trains
  both; the critic gets its own update on the detached output.
* Schedule (section 3.1: 1e5 warm-up iterations with (alpha, beta, gamma, eta) =
  (10000, 0, 1, 0), 8e5 with (100, 1, 0.05, 0), 1.2e6 with (100, 1, 0.05, 0.02); 2e6 in all):
  the three phases are kept, with CPU lengths 300 / 300 / 400 (``*_iterations``; 0.2 to 0.6 s
  each on one shared CPU core at the default sizes, depending on the load). The
  warm-up weights are divided by 100 to (100, 0, 0.01, 0): the same ratios, but alpha stays
  100 in every phase. Otherwise the loss scale drops a hundredfold when the warm-up ends and
  Adam's second-moment estimate (beta2 = 0.999) would shrink every step about a hundredfold
  for thousands of iterations, which a CPU budget does not have.
* Adam (0.9, 0.999) as in the paper, at 1e-3 for the VAE and 5e-4 for the critic rather than
  2e-4 (the paper's rate suits its 2e6 iterations), constant rate, no gradient clipping
  (neither is mentioned), batch of 16 triplets (the paper: 16 slices).
* Training slices are random ``slice_size`` crops of the acquisition planes (every acquired
  slice with two neighbours can be a centre), without augmentation; intensities are normalised
  per volume with its 0.1-99.9 percentiles (:class:`isovox.intensity.Normalisation`).
* Synthesis mode ``'residual'`` by default (see :mod:`isovox.latent`): a CPU-sized VAE blurs,
  and its misfit on the acquired slices is carried into the in-between slices; ``'decoded'`` is
  the paper's.
* Along the slice axis (``stage2_pairs`` 'slice' or 'both', below), stage II sees all ``factor``
  phases: each synthesized volume is passed ``factor`` times,
  cropped to start at slice 0, 1, ..., factor - 1 along the slice axis, so the slices it takes
  are acquired ones *and* synthesized ones. (Taking only every factor-th slice from slice 0
  would give back the acquired slices, and the generator would just learn to imitate the VAE.)
  The generator is mDCSRN b4u4k12 (:mod:`isovox.models`, paper 004), 600 iterations of the 3D
  recipe's CPU patches (24^3, batch 4). The paper prefers DeepResolve, which stays available
  (``arch='deepresolve'``), but at its CPU size it learns too slowly for a CPU budget: trained on
  true FlyEM x4 'take' pairs for 200 iterations it ends 0.01 dB above its cubic input on the
  validation patches, mDCSRN b4u4k12 (16^3 patches) 0.35 dB above.
* ``stage2_pairs='in-plane'`` by default (isovox's addition; ``'slice'`` is the paper's pair
  set, ``'both'`` the union): stage II trains on each synthesized volume with one of its in-plane
  axes swapped into the slice axis' place, so the slices it takes there are *acquired* content
  at full resolution, and the synthesized slice axis becomes the third axis of each view. A
  CPU-sized VAE interpolates little beyond what cubic does, and pairs along the slice axis then
  teach the generator almost nothing (they also dilute the others). Measured on held-out parts
  (benchmarks/vae_two_stage.py, x4, mDCSRN b4u4k12, 1000 iterations; the choice was made on
  these numbers): Colin27 slice 28.38, both 28.38, in-plane 28.42 dB (cubic 28.38, oracle
  28.46); FlyEM slice 29.82, both 29.85, in-plane 30.10 dB (cubic 29.81, oracle 30.35). Needs
  the synthesized volume to be isotropic (factor = slice spacing / in-plane spacing), as the 3D
  recipe does.

Model folder: the 3D generator's weights and card (``method='vae-two-stage'``; the card's
``training['stage1']`` describes stage I) plus ``vae.pt`` (the VAE's state dict) and
``vae.json`` (its build config, per-volume normalisation, synthesis settings), which
:func:`load_stage1_vae` reads back. Both stages resume: stage I from its checkpoints in
``WORKDIR/stage1`` (the loop's), stage II from the 3D recipe's in ``WORKDIR/stage2``.
"""

from __future__ import annotations

import io as _io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ...errors import IsovoxError
from ...jsontext import strict_json
from ...latent import SYNTHESIS_MODES, synthesize_volume
from ...models import create_model
from ...models.vae import SliceVAE
from ...intensity import PERCENTILES, Normalisation
from ...store import load_model, read_history
from ...volume import AXIS_NAMES, Volume, axis_index, lateral_spacing, lowres_axis
from .common import fingerprint_of, make_config, prepare_output, record_run, save_trained
from .vae_stage1 import SliceTriplets, _fit_stage1, stage1_step, train_stage1

__all__ = ["METHOD", "VAETwoStageConfig", "SliceTriplets", "stage1_step", "train_vae_two_stage",
           "train_stage1", "load_stage1_vae"]

METHOD = "vae-two-stage"
VAE_WEIGHTS, VAE_INFO = "vae.pt", "vae.json"
_FACTOR_RTOL = 1e-3


@dataclass
class VAETwoStageConfig:
    """Everything a two-stage run depends on (see the module docstring for the defaults)."""

    axis: int | str | None = None               # None: each volume's coarsest axis
    factor: float | None = None                 # None: slice spacing / finest in-plane spacing
    # stage I
    vae_from: str | None = None                 # a two-stage model folder whose VAE is reused (no stage I)
    vae_preset: str = "default"
    vae_kwargs: dict = field(default_factory=dict)
    critic_preset: str = "default"
    warmup_iterations: int = 300
    adversarial_iterations: int = 300
    compact_iterations: int = 400
    warmup_weights: tuple[float, float, float, float] = (100.0, 0.0, 0.01, 0.0)   # alpha, beta, gamma, eta
    adversarial_weights: tuple[float, float, float, float] = (100.0, 1.0, 0.05, 0.0)
    compact_weights: tuple[float, float, float, float] = (100.0, 1.0, 0.05, 0.02)
    lr: float = 1e-3
    critic_lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    vae_batch_size: int = 16                    # slice triplets per iteration
    synthesis: str = "residual"                 # 'residual' or 'decoded' (paper), isovox.latent
    tile_overlap: int | None = None             # None: a quarter of the slice size
    percentiles: tuple[float, float] = PERCENTILES
    # stage II (isovox.training.recipes.supervised3d)
    arch: str = "mdcsrn-b4u4k12"
    preset: str = "default"
    stage2_iterations: int = 600
    stage2_pairs: str = "in-plane"              # 'slice' (paper), 'both' or 'in-plane' (module doc)
    patch_size: int | None = None
    batch_size: int | None = None
    stage2_options: dict = field(default_factory=dict)   # further Supervised3DConfig fields
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    checkpoint_every: int = 200

    def phases(self) -> list[tuple[str, int, tuple[float, ...]]]:
        """(name, iterations, (alpha, beta, gamma, eta)) of the three phases of section 3.1."""
        phases = [("warm-up", self.warmup_iterations, self.warmup_weights),
                  ("adversarial", self.adversarial_iterations, self.adversarial_weights),
                  ("compactness", self.compact_iterations, self.compact_weights)]
        for name, count, weights in phases:
            if int(count) != count or count < 0:
                raise IsovoxError(f"{name} iterations must be a whole number >= 0, got {count}")
            if len(weights) != 4 or min(weights) < 0:
                raise IsovoxError(f"{name} weights must be 4 non-negative numbers (alpha, beta, gamma, eta), "
                                  f"got {weights}")
        if sum(count for _, count, _ in phases) < 1:
            raise IsovoxError("stage I needs at least one iteration in some phase")
        return [(name, int(count), tuple(float(w) for w in weights)) for name, count, weights in phases]

    def weights_at(self, iteration: int) -> tuple[float, ...]:
        end = 0
        phases = self.phases()
        for _, count, weights in phases:
            end += count
            if iteration < end:
                return weights
        return phases[-1][2]


# --- stage I ---------------------------------------------------------------------------------------

def _slice_axis(volume: Volume, axis: int | str | None) -> int:
    return lowres_axis(volume.spacing) if axis is None else axis_index(axis)


def _factor(volumes: list[Volume], axes: list[int], factor: float | None) -> float:
    """The one up-sampling factor of all volumes (given, or slice spacing / finest in-plane)."""
    if factor is not None:
        if not float(factor) > 1:
            raise IsovoxError(f"factor must be > 1, got {factor}")
        return float(factor)
    values = [v.spacing[a] / lateral_spacing(v.spacing, a) for v, a in zip(volumes, axes)]
    if any(abs(f - values[0]) > _FACTOR_RTOL * values[0] for f in values):
        raise IsovoxError(f"the volumes need different factors ({', '.join(f'{f:g}' for f in values)}); "
                          "one stage-II generator serves one factor: pass factor=")
    if not values[0] > 1 + _FACTOR_RTOL:
        raise IsovoxError(f"slice spacing equals the in-plane spacing (factor {values[0]:g}); nothing to add")
    return float(values[0])


# --- stage II and the model folder -----------------------------------------------------------------

def _phase_crops(volume: Volume, axis: int, factor: float) -> list[Volume]:
    """The synthesized volume starting at slice 0, 1, ..., ceil(factor) - 1 along ``axis``."""
    crops = []
    for start in range(int(np.ceil(factor - 1e-9))):
        first = [0, 0, 0]
        first[axis] = start
        crops.append(volume.crop(first, volume.shape))
    return crops


def _lateral_views(volume: Volume, axis: int) -> list[Volume]:
    """``volume`` with each in-plane axis swapped into the slice axis' place (spacing follows)."""
    views = []
    for other in (a for a in range(3) if a != axis):
        order = list(range(3))
        order[axis], order[other] = other, axis
        views.append(Volume(np.ascontiguousarray(np.transpose(volume.numpy(), order)),
                            tuple(volume.spacing[a] for a in order), volume.unit))
    return views


STAGE2_PAIRS = ("slice", "both", "in-plane")


def _stage2_volumes(volume: Volume, axis: int, factor: float, pairs: str) -> list[Volume]:
    """The stage-II training volumes of one synthesized volume (module docstring)."""
    slice_axis = _phase_crops(volume, axis, factor) if pairs in ("slice", "both") else []
    return slice_axis + (_lateral_views(volume, axis) if pairs in ("both", "in-plane") else [])


def _stage2_overrides(config: VAETwoStageConfig, factor: float, axis: int) -> dict:
    overrides = {"arch": config.arch, "preset": config.preset, "factor": factor, "axes": axis,
                 "recipe": "take", "iterations": config.stage2_iterations, "seed": config.seed,
                 "device": config.device, "amp": config.amp, "checkpoint_every": config.checkpoint_every,
                 **dict(config.stage2_options)}
    if config.patch_size is not None:
        overrides["patch_size"] = config.patch_size
    if config.batch_size is not None:
        overrides["batch_size"] = config.batch_size
    return overrides


def _vae_files(vae: SliceVAE, info: dict) -> dict[str, bytes]:
    buffer = _io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in vae.state_dict().items()}, buffer)
    return {VAE_WEIGHTS: buffer.getvalue(), VAE_INFO: strict_json(info).encode()}


def load_stage1_vae(folder: str | Path) -> tuple[SliceVAE, dict]:
    """The stage-I VAE of a two-stage model folder (eval mode, CPU) and its ``vae.json``."""
    folder = Path(folder)
    if not (folder / VAE_WEIGHTS).is_file() or not (folder / VAE_INFO).is_file():
        raise IsovoxError(f"{folder} holds no stage-I VAE ({VAE_WEIGHTS}, {VAE_INFO}); "
                          f"is it a {METHOD} model folder?")
    info = json.loads((folder / VAE_INFO).read_text())
    build = info["vae"]
    vae = create_model("slice_vae", preset=build.get("preset", "default"), **dict(build.get("kwargs", {})))
    try:
        vae.load_state_dict(torch.load(folder / VAE_WEIGHTS, map_location="cpu", weights_only=True))
    except (RuntimeError, ValueError, OSError, EOFError) as error:
        raise IsovoxError(f"{folder / VAE_WEIGHTS} does not fit the VAE of {VAE_INFO}: "
                          f"{str(error).splitlines()[0]}") from None
    return vae.eval(), info


def train_vae_two_stage(volumes: Volume | Sequence[Volume], output_dir: str | Path,
                        config: VAETwoStageConfig | None = None, *, overwrite: bool = False, resume: bool = True,
                        workdir: str | Path | None = None, **overrides: Any) -> Path:
    """Train paper 003's two stages on anisotropic ``volumes`` (no ground truth) -> model folder.

    ``overrides`` are :class:`VAETwoStageConfig` fields. An existing ``output_dir`` without
    ``overwrite`` raises before any work. An interrupted run resumes from ``workdir`` (default
    ``.NAME.isovox-train`` beside the output) with the same settings; ``resume=False`` starts
    over. Returns the model folder's path.
    """
    from .supervised3d import train_supervised3d   # the 3D recipe; imported late, it is heavy

    config = make_config(VAETwoStageConfig, config, overrides)
    volumes = [volumes] if isinstance(volumes, Volume) else list(volumes)
    if not volumes or not all(isinstance(v, Volume) for v in volumes):
        raise IsovoxError("give one Volume or a list of Volumes")
    if config.synthesis not in SYNTHESIS_MODES:
        raise IsovoxError(f"unknown synthesis {config.synthesis!r}; choose one of {', '.join(SYNTHESIS_MODES)}")
    if config.stage2_pairs not in STAGE2_PAIRS:
        raise IsovoxError(f"unknown stage2_pairs {config.stage2_pairs!r}; choose one of {', '.join(STAGE2_PAIRS)}")
    config.phases()
    output_dir, workdir = prepare_output(output_dir, overwrite, workdir)
    axes = [_slice_axis(v, config.axis) for v in volumes]
    if len({*axes}) != 1:
        raise IsovoxError(f"the volumes' slice axes differ ({', '.join(AXIS_NAMES[a] for a in axes)}); "
                          "stage II trains one 3D generator along one axis: pass axis=")
    factor = _factor(volumes, axes, config.factor)
    if not resume:
        shutil.rmtree(workdir, ignore_errors=True)
    record_run(workdir, fingerprint_of(METHOD, config, volumes), resume)

    norms = [Normalisation.measure(v, config.percentiles) for v in volumes]
    phases = []
    if config.vae_from is None:
        vae, stage1, stage1_phase = _fit_stage1(volumes, axes, norms, config, workdir / "stage1", resume)
        phases.append(stage1_phase)
    else:
        vae, reused = load_stage1_vae(config.vae_from)
        stage1 = {"reused_from": str(Path(config.vae_from).resolve()), "vae": reused["vae"]}
    synthesized = [view for v, a, n in zip(volumes, axes, norms)
                   for view in _stage2_volumes(synthesize_volume(vae, v, factor, a, n, mode=config.synthesis,
                                                                 overlap=config.tile_overlap),
                                               a, factor, config.stage2_pairs)]
    info = {"vae": vae.build_config, "normalisation": norms, "axes": [AXIS_NAMES[a] for a in axes],
            "factor": factor, "synthesis": config.synthesis, "tile_overlap": config.tile_overlap}
    stage1 = {**stage1, "synthesis": config.synthesis, "tile_overlap": config.tile_overlap,
              "stage2_pairs": config.stage2_pairs,
              "synthesized_volumes": [list(v.shape) for v in synthesized]}
    stage2_dir = workdir / "stage2-model"
    if not (stage2_dir / "config.json").is_file():
        train_supervised3d(synthesized, stage2_dir, overwrite=True, resume=resume, workdir=workdir / "stage2",
                           method=METHOD, card_extra={"stage1": stage1},
                           **_stage2_overrides(config, factor, axes[0]))
    generator, card = load_model(stage2_dir)
    phases += [{**phase, "name": f"stage 2 {phase['name']}"} for phase in read_history(stage2_dir)]
    return save_trained(output_dir, generator, card, workdir, overwrite, config=config, phases=phases,
                        extra_files=_vae_files(vae, info))

