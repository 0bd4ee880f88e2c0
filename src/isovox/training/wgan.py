"""WGAN-GP training step of mDCSRN-GAN (paper 004, sec. 3.3 and 4.1), for :func:`fit_networks`.

Paper 004: generator loss ``L1 + lambda * loss_adv`` with ``loss_adv = -D(SR)`` and lambda 0.1
(eq. 3-5); critic loss of WGAN-GP (Gulrajani et al. 2017): ``D(SR) - D(HR) + gp * penalty``
with the usual ``gp = 10`` (the paper does not state it). Schedule (sec. 4.1): the generator
starts from the L1-trained model; the critic trains alone for the first 10k steps, then 5 critic
steps per generator step, plus 200 extra critic steps after every 500 generator steps "to make
sure D is always ahead of G". :class:`CriticSchedule` holds those numbers; the CPU defaults of
:class:`isovox.training.recipes.supervised3d.Supervised3DConfig` scale them down.

One loop iteration is one generator step (with the critic steps before it). Every critic step
draws its own batch ``draw(iteration, j)``, a pure function of its indices, so an interrupted
and resumed run trains on the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..models.discriminators import gradient_penalty
from .loop import StepContext

GENERATOR, CRITIC = "generator", "critic"


@dataclass(frozen=True)
class CriticSchedule:
    """Critic steps around the generator steps (paper 004 sec. 4.1 sizes: 10000, 5, 500, 200)."""

    warmup: int = 10000          # critic-only steps before the first generator step
    per_step: int = 5            # critic steps before each generator step
    extra_every: int = 500       # every this many generator steps ...
    extra_steps: int = 200       # ... this many more critic steps

    def critic_steps(self, iteration: int) -> int:
        extra = self.extra_steps if iteration > 0 and self.extra_every and iteration % self.extra_every == 0 else 0
        return self.per_step + (self.warmup if iteration == 0 else 0) + extra


def wgan_gp_step(draw: Callable[[int, int], Any], schedule: CriticSchedule, weight: float = 0.1,
                 gp_weight: float = 10.0) -> Callable[[StepContext, Any], dict]:
    """The step: critic updates on ``draw(iteration, j)`` batches, then one generator update.

    Logged terms: ``loss`` (generator total), ``l1``, ``adversarial`` (``-D(SR)``), ``critic``
    (critic loss with penalty) and ``wasserstein`` (``D(HR) - D(SR)`` of the last critic batch,
    the estimate of the Earth-Mover distance that paper 004 monitors).
    """

    def step(ctx: StepContext, batch: Any) -> dict[str, torch.Tensor]:
        generator, critic = ctx.networks[GENERATOR], ctx.networks[CRITIC]
        critic.requires_grad_(True)
        for j in range(schedule.critic_steps(ctx.iteration)):
            lowres, highres = (ctx.tensor(b) for b in draw(ctx.iteration, j))
            with torch.no_grad(), ctx.autocast():
                fake = generator(lowres).float()
            with ctx.autocast():
                real_score, fake_score = critic(highres).float().mean(), critic(fake).float().mean()
            penalty = gradient_penalty(critic, highres, fake)
            critic_loss = fake_score - real_score + gp_weight * penalty
            ctx.update(CRITIC, critic_loss)
        critic.requires_grad_(False)           # the generator step needs no critic gradients
        lowres, highres = (ctx.tensor(b) for b in batch)
        with ctx.autocast():
            fake = generator(lowres).float()
            adversarial = -critic(fake).float().mean()
        l1 = (fake - highres).abs().mean()
        total = l1 + weight * adversarial
        ctx.update(GENERATOR, total)
        critic.requires_grad_(True)
        return {"loss": total.detach(), "l1": l1.detach(), "adversarial": adversarial.detach(),
                "critic": critic_loss.detach(), "wasserstein": (real_score - fake_score).detach()}

    return step
