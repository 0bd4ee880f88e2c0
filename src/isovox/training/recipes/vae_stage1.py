"""Stage I of the two-stage recipe (paper 003, sections 2.2 and 3.1): a slice VAE-GAN.

Triplets of neighbouring acquired slices (:class:`SliceTriplets`) train a VAE
(:mod:`isovox.models.vae`) and its PatchGAN critic with ``L_center``, ``L_prior``, ``L_adv`` and
``L_comp`` in three phases (:func:`stage1_step`); :func:`train_stage1` runs them through the
resumable loop. The choices written down for this stage are in :mod:`.vae_two_stage`'s
docstring; ``config`` is its :class:`~.vae_two_stage.VAETwoStageConfig` (read by field name
here, so this module does not import the recipe that imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ...errors import IsovoxError
from ...intensity import Normalisation
from ...latent import kl_between, kl_to_standard_normal
from ...models import create_model
from ...models.vae import SliceVAE
from ...store import json_ready
from ...volume import Volume
from ..history import phase_record
from ..loop import StepContext, fit_networks
from ..settings import TrainSettings

__all__ = ["SliceTriplets", "stage1_step", "train_stage1"]


# --- stage I: data and one iteration ------------------------------------------------------------

class SliceTriplets:
    """Random crops of three neighbouring acquired slices, (B, 3, S, S) float32, normalised.

    ``planes`` are per-volume arrays (N, H, W) with the acquisition planes stacked along axis
    0. A centre slice needs two neighbours; a volume is drawn with probability proportional to
    its number of possible centre crops. Planes smaller than ``size`` are reflect-padded.
    """

    def __init__(self, planes: Sequence[np.ndarray], size: int, seed: int = 0) -> None:
        self.size, self.seed = int(size), seed
        self.planes = []
        for i, stack in enumerate(planes):
            if stack.shape[0] < 3:
                raise IsovoxError(f"volume {i} has {stack.shape[0]} slices along its slice axis; "
                                  "stage I needs at least 3 (a slice and its two neighbours)")
            pad = [(0, 0)] + [(0, max(0, self.size - n)) for n in stack.shape[1:]]
            self.planes.append(np.pad(stack, pad, mode="reflect") if any(p for _, p in pad) else stack)
        counts = np.array([(p.shape[0] - 2) * (p.shape[1] - self.size + 1) * (p.shape[2] - self.size + 1)
                           for p in self.planes], dtype=float)
        self.weights = counts / counts.sum()

    def sample(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        s = self.size
        out = np.empty((batch, 3, s, s), np.float32)
        for i, v in enumerate(rng.choice(len(self.planes), size=batch, p=self.weights)):
            stack = self.planes[v]
            n = rng.integers(1, stack.shape[0] - 1)
            r, c = rng.integers(0, stack.shape[1] - s + 1), rng.integers(0, stack.shape[2] - s + 1)
            out[i] = stack[n - 1:n + 2, r:r + s, c:c + s]
        return out

    def batch_sampler(self, batch: int):
        """``sampler(iteration)``: a pure function of the iteration (what makes resume exact)."""
        return lambda iteration: self.sample(batch, np.random.default_rng((self.seed, iteration)))


def stage1_step(config: Any):
    """One VAE-GAN iteration (eq. 5-11) for :func:`~isovox.training.loop.fit_networks`."""

    def step(ctx: StepContext, batch: Any) -> dict[str, torch.Tensor]:
        vae, critic = ctx.networks["vae"], ctx.networks["critic"]
        alpha, beta, gamma, eta = config.weights_at(ctx.iteration)
        triplets = ctx.tensor(batch)                                  # (B, 3, S, S)
        b, _, s, _ = triplets.shape
        with ctx.autocast():
            mu, logvar = vae.encode(triplets.reshape(3 * b, 1, s, s))
        mu, logvar = mu.float().view(b, 3, -1), logvar.float().view(b, 3, -1)
        centre = triplets[:, 1:2]
        z = SliceVAE.sample(mu[:, 1], logvar[:, 1])
        adversarial = beta > 0
        with ctx.autocast():
            # The detached copy carries L_adv to the decoder only (eq. 10-11).
            decoded = vae.decode(torch.cat([z, z.detach()]) if adversarial else z).float()
        fidelity = (decoded[:b] - centre).abs().mean()
        prior = kl_to_standard_normal(mu[:, 1], logvar[:, 1]).mean()
        compact = (kl_between(mu[:, 1], logvar[:, 1], mu[:, 2], logvar[:, 2])
                   + kl_between(mu[:, 1], logvar[:, 1], mu[:, 0], logvar[:, 0])).mean()
        zero = torch.zeros((), device=ctx.device)
        adv, critic_loss = zero, zero
        if adversarial:
            with ctx.autocast():
                real_score = critic(centre).float().mean()
                critic_loss = critic(decoded[b:].detach()).float().mean() - real_score
            ctx.update("critic", critic_loss)
            with ctx.autocast():
                # eq. 7; H(x) carries no decoder gradient, it makes the value a Wasserstein estimate
                adv = -critic(decoded[b:]).float().mean() + critic(centre).float().mean().detach()
        loss = alpha * fidelity + beta * adv + gamma * prior + eta * compact
        ctx.update("vae", loss)
        return {"loss": loss, "center": fidelity, "prior": prior, "comp": compact, "adv": adv,
                "critic": critic_loss}

    return step


def _planes(volume: Volume, axis: int, norm: Normalisation) -> np.ndarray:
    return np.ascontiguousarray(norm.apply(np.moveaxis(np.asarray(volume.data), axis, 0)))


def train_stage1(volumes: list[Volume], axes: list[int], norms: list[Normalisation], config: Any,
                 workdir: Path, resume: bool) -> tuple[SliceVAE, dict]:
    """Train the VAE-GAN on the volumes' acquisition planes; (VAE in eval mode, summary)."""
    vae, summary, _ = _fit_stage1(volumes, axes, norms, config, workdir, resume)
    return vae, summary


def _fit_stage1(volumes: list[Volume], axes: list[int], norms: list[Normalisation], config: Any,
                workdir: Path, resume: bool) -> tuple[SliceVAE, dict, dict]:
    """:func:`train_stage1`, plus the phase of the model folder's history (:mod:`isovox.training.history`)."""
    phases = config.phases()
    torch.manual_seed(config.seed)                        # the same seed gives the same initial weights
    try:
        vae = create_model("slice_vae", preset=config.vae_preset, **dict(config.vae_kwargs))
        critic = create_model("slice_critic", preset=config.critic_preset)
    except (TypeError, ValueError) as error:
        raise IsovoxError(f"cannot build the stage-I VAE: {error}") from None
    triplets = SliceTriplets([_planes(v, a, n) for v, a, n in zip(volumes, axes, norms)], vae.slice_size,
                             seed=config.seed)
    settings = TrainSettings(iterations=sum(count for _, count, _ in phases), batch_size=config.vae_batch_size,
                             lr=config.lr, betas=tuple(config.betas), schedule="constant", warmup=0,
                             grad_clip=None, seed=config.seed, device=config.device, amp=config.amp,
                             checkpoint_every=config.checkpoint_every)
    optimizers = {"vae": {"lr": config.lr}, "critic": {"lr": config.critic_lr}}
    history = fit_networks({"vae": vae, "critic": critic}, optimizers, stage1_step(config),
                           triplets.batch_sampler(config.vae_batch_size), settings, workdir, resume=resume,
                           keep_best=False)
    last = {name: float(np.mean(values[-50:])) for name, values in history["terms"].items() if values}
    summary = {"vae": vae.build_config, "critic": critic.build_config,
               "phases": [{"name": n, "iterations": c, "weights_alpha_beta_gamma_eta": list(w)} for n, c, w in phases],
               "iterations": history["iterations"], "minutes": history["elapsed_seconds"] / 60.0,
               "final_terms": last, "batch_size": config.vae_batch_size, "lr": config.lr,
               "critic_lr": config.critic_lr, "device": history["device"]}
    return vae.cpu().eval(), json_ready(summary), phase_record("stage 1", history)
