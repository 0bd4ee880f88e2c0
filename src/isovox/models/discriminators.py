"""3D WGAN-GP critic of mDCSRN-GAN (paper 004, sec. 3.3) and the gradient penalty.

Paper 004 trains mDCSRN adversarially with a discriminator "built based on the structures of
the D in SRGAN" and, as WGAN-GP suggests, "layer normalization" in place of batch norm
(sec. 3.3, Fig. 3). The critic returns one unbounded score per volume (no sigmoid: a
Wasserstein critic, not a classifier); :func:`gradient_penalty` is the WGAN-GP term of
Gulrajani et al. 2017 (paper 004 ref. [41]), without its weight lambda, which the caller
applies (paper 004 does not state it; WGAN-GP uses 10).

The critic is registered as ``critic3d`` with the role ``"critic"`` (so it is no architecture
``train`` or ``reconstruct`` accepts); build it with ``create_model("critic3d", preset=...)``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .layers import conv3d
from .registry import CRITIC, register_model

__all__ = ["Critic3D", "gradient_penalty"]


def _norm(channels: int) -> nn.GroupNorm:
    # One group = layer norm over (C, D, H, W) of each sample, with a per-channel scale/shift.
    return nn.GroupNorm(1, channels)


@register_model(
    "critic3d",
    family="3d",
    role=CRITIC,
    presets={"paper": {"n_feats": 64, "n_stages": 4, "dense_features": 1024}},  # SRGAN's D widths
    paper="Chen et al., mDCSRN-GAN (paper 004), sec. 3.3; the D of SRGAN (Ledig et al. 2017)",
)
class Critic3D(nn.Module):
    """SRGAN's discriminator in 3D with layer normalisation: volume (N, C, D, H, W) -> (N, 1).

    Head: 3x3x3 conv (``n_feats``) + LeakyReLU(0.2), no normalisation (as in SRGAN). Then
    ``n_stages`` stages of width ``n_feats * 2**i``: a stride-1 conv that doubles the width
    (not in the first stage) and a stride-2 conv, each conv -> norm -> LeakyReLU(0.2). With
    ``n_stages=4`` this is SRGAN's k3n64s1, k3n64s2, k3n128s1, ..., k3n512s2 stack. Then global
    average pooling, Linear(``dense_features``) + LeakyReLU(0.2), Linear(1): the raw score.

    Choices:

    * Normalisation is ``GroupNorm(1, C)``: it normalises each sample over all its channels
      and voxels, which is layer normalisation as WGAN-GP uses it (no batch statistics, so a
      sample's score and its input gradient do not depend on the rest of the batch, which the
      per-sample gradient penalty needs). Unlike ``nn.LayerNorm([C, D, H, W])`` its learned
      scale and shift are per channel, so the critic is not tied to one patch size.
    * Global average pooling replaces SRGAN's flatten, which fixed the input size (96x96);
      any patch size works, odd sizes included (stride-2 convs give ceil(size / 2)).
    * Convs followed by a norm have no bias (the norm's shift replaces it).

    CPU default: 8 first filters, 3 stages, 64 dense features (56,177 parameters). ``paper``
    preset: 64 first filters, 4 stages, 1024 dense features
    (14,577,025 parameters, mostly the 512-filter 3x3x3 convs; paper 004 gives no count).
    """

    def __init__(self, in_channels=1, n_feats=8, n_stages=3, dense_features=64, negative_slope=0.2):
        super().__init__()
        if n_stages < 1:
            raise ValueError(f"n_stages must be >= 1, got {n_stages}")

        def act() -> nn.LeakyReLU:
            return nn.LeakyReLU(negative_slope, inplace=True)

        layers: list[nn.Module] = [conv3d(in_channels, n_feats), act()]
        width = n_feats
        for i in range(n_stages):
            if i:
                layers += [conv3d(width, 2 * width, bias=False), _norm(2 * width), act()]
                width *= 2
            layers += [conv3d(width, width, stride=2, bias=False), _norm(width), act()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
            nn.Linear(width, dense_features),
            act(),
            nn.Linear(dense_features, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    eps: torch.Tensor | None = None,
) -> torch.Tensor:
    """WGAN-GP gradient penalty, mean over the batch of (||grad_x critic(x)||_2 - 1)^2.

    ``x = eps * real + (1 - eps) * fake`` with one ``eps ~ U(0, 1)`` per sample (Gulrajani et
    al. 2017, Algorithm 1); pass ``eps`` (broadcastable to ``real``) to fix it. ``real`` and
    ``fake`` are detached: the penalty trains the critic only. The result is a differentiable
    scalar (``create_graph=True``), >= 0, without the weight lambda. The norm is taken over
    all of a sample's channels and voxels; the gradient of the summed scores is the per-sample
    gradient because no layer of the critic mixes samples.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake shapes differ: {tuple(real.shape)} vs {tuple(fake.shape)}")
    if eps is None:
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        eps = torch.rand(shape, device=real.device, dtype=real.dtype)
    x = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    # The tiny epsilon keeps sqrt differentiable where a gradient is exactly zero.
    norm = torch.sqrt(grad.flatten(1).pow(2).sum(dim=1) + 1e-12)
    return (norm - 1).pow(2).mean()
