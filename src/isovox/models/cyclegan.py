"""The degradation model of Deng et al. (paper 000, section 2): G_hl, D_l, and the PatchGAN D_h.

Paper 000 learns the real axial degradation with a CycleGAN between sharp lateral (xy) planes
and blurred axial (xz / yz) planes of one anisotropic volume. Four networks take part:

- :class:`DegradationGenerator` (G_hl): sharp plane -> low-resolution plane. "We first adopt an
  average pooling layer to down-scale the input resolution 10 times along the vertical (y)
  direction, followed by 9 residual blocks", no batch norm, 3x3 kernels, 64 filters.
- :class:`LowResDiscriminator` (D_l): real or generated low-resolution plane? "4 stride
  convolution layers, which [are] followed by Leaky ReLU activation, along the horizontal (x)
  direction. The kernel size is set to 3x7 to adapt to the resolution of input images."
- :class:`PatchDiscriminator` (D_h): real or restored sharp plane? "the architecture of
  PatchGAN [14, 30]" (Isola et al. 2017 / Zhu et al. 2017).
- G_lh, the reconstruction generator, is any registered 2D backbone (DRCNet by default); the
  training recipe (:mod:`isovox.training.recipes.degradation_learning`) feeds it the cubic
  interpolation of the low-resolution plane, as every isovox backbone expects.

Planes are (N, C, H, W) with rows H = the low-resolution direction, as everywhere in isovox.
All four are registered under the paper's names, which model folders record: ``g_hl`` and
``g_hl_profile`` (role ``"degradation"``), ``d_l`` and ``d_h`` (role ``"critic"``); build them with
``create_model(name, preset=...)``. Their roles keep them out of the architectures ``train`` and
``reconstruct`` accept.

This module depends on torch, numpy and the leaf module :mod:`isovox.indexing` only.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..indexing import mirror_index
from .layers import ResBlock, conv
from .registry import CRITIC, DEGRADATION, register_model

__all__ = ["DegradationGenerator", "LowResDiscriminator", "PatchDiscriminator", "ProfileDegradation",
           "RowAreaPool", "area_pooling_matrix", "lowres_rows"]

DENG = "Deng et al., paper 000, section 2"

_EPS = 1e-6          # positions this close to an integer count as that integer (0.1 * 65 / 10)


def lowres_rows(n_rows: int, factor: float) -> int:
    """Rows left after down-scaling ``n_rows`` by ``factor``: one per position ``k * factor``
    inside ``[0, n_rows - 1]`` (isovox's grid convention, :func:`isovox.volume.output_length`)."""
    if not (math.isfinite(factor) and factor >= 1):
        raise ValueError(f"factor must be a finite number >= 1, got {factor!r}")
    return int(math.floor((n_rows - 1) / factor + _EPS)) + 1


def area_pooling_matrix(n_rows: int, factor: float) -> np.ndarray:
    """(lowres_rows, n_rows) matrix: row ``k`` averages the input over ``[k f - f/2, k f + f/2]``.

    Each input row ``j`` covers ``[j - 1/2, j + 1/2]`` and weighs its overlap with the window,
    divided by ``f``; borders are mirrored. For an odd integer factor this is average pooling
    with kernel and stride ``f``, shifted so that output ``k`` is centred on input ``k f``; an even
    factor gives its two end rows half weights; a non-integer factor (6.5) gives fractional end
    weights, which is this module's resampling step for factors the paper (x10) never needed.
    """
    n_out = lowres_rows(n_rows, factor)
    centres = np.arange(n_out, dtype=float) * factor
    radius = math.ceil(factor / 2 + 0.5)
    taps = np.floor(centres)[:, None] + np.arange(-radius, radius + 2)[None, :]
    overlap = np.minimum(taps + 0.5, centres[:, None] + factor / 2) - np.maximum(taps - 0.5, centres[:, None] - factor / 2)
    weights = np.clip(overlap, 0.0, None) / factor
    matrix = np.zeros((n_out, n_rows))
    columns = mirror_index(taps.astype(np.int64), n_rows).ravel()
    np.add.at(matrix, (np.repeat(np.arange(n_out), taps.shape[1]), columns), weights.ravel())
    return (matrix / matrix.sum(axis=1, keepdims=True)).astype(np.float32)


class RowAreaPool(nn.Module):
    """Down-scales the rows of (N, C, H, W) planes by ``factor`` (:func:`area_pooling_matrix`);
    columns are untouched. A fixed linear map (no parameters), differentiable for the cycle loss."""

    def __init__(self, factor: float):
        super().__init__()
        lowres_rows(2, factor)                      # checks the factor
        self.factor = float(factor)
        self._matrices: dict[tuple, torch.Tensor] = {}

    def matrix(self, n_rows: int, like: torch.Tensor) -> torch.Tensor:
        key = (n_rows, like.device, like.dtype)
        if key not in self._matrices:               # one small matrix per patch height, built once
            self._matrices[key] = torch.from_numpy(area_pooling_matrix(n_rows, self.factor)).to(like)
        return self._matrices[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("kh,nchw->nckw", self.matrix(x.shape[-2], x), x)


def _residual_block(n_feats: int, linear: bool) -> ResBlock:
    block = ResBlock(n_feats)
    if linear:                      # the same block without its ReLU (DegradationGenerator doc)
        block.body[1] = nn.Identity()
    return block


@register_model("g_hl", family="2d", role=DEGRADATION, presets={"paper": {"n_feats": 64, "n_blocks": 9}},
                paper=DENG)
class DegradationGenerator(nn.Module):
    """G_hl (paper 000, sec. 2): :class:`RowAreaPool` by ``factor``, then residual blocks.

    pooled -> head conv (``n_feats``) -> ``n_blocks`` :class:`~isovox.models.layers.ResBlock`
    (conv-ReLU-conv, no batch norm, 3x3) -> tail conv to one channel, plus the pooled plane.

    Choices where the paper is silent: the pooled plane is added to the output (a global
    residual) and the tail conv starts at zero, so the untrained generator is exactly a
    thick-section (box) degradation and the blocks learn only how the real one differs (its
    profile, its texture) instead of first unlearning a random initial output; the convs work on
    the low-resolution grid, where the real degradation's extra blur is a mix of neighbouring
    rows (on FlyEM, a 3-tap vertical filter on the pooled rows matches a Gaussian profile of
    FWHM 1.5 sections to 43 dB, against 34 dB for the pooling alone).
    CPU default: 32 filters, 6 blocks; ``paper`` preset: 64 filters, 9 blocks.
    """

    def __init__(self, factor: float = 4.0, in_channels: int = 1, n_feats: int = 32, n_blocks: int = 6,
                 residual: bool = True, linear: bool = False):
        super().__init__()
        self.factor, self.residual, self.linear = float(factor), bool(residual), bool(linear)
        self.pool = RowAreaPool(factor)
        self.head = conv(in_channels, n_feats)
        self.body = nn.Sequential(*[_residual_block(n_feats, self.linear) for _ in range(n_blocks)])
        self.tail = conv(n_feats, in_channels)
        if self.residual:                           # start as exactly the pooling (see class doc)
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(x)
        refined = self.tail(self.body(self.head(pooled)))
        return pooled + refined if self.residual else refined


# Its "paper" preset is the default (the paper has no such network), so that one preset name
# sizes all of a CycleGAN run's networks whichever G_hl it uses.
@register_model("g_hl_profile", family="2d", role=DEGRADATION, presets={"paper": {}}, paper=DENG)
class ProfileDegradation(nn.Module):
    """A G_hl that can only blur, sample and add noise: isovox's physical alternative to the paper's.

    :class:`RowAreaPool` by ``factor`` (a box section), then a symmetric ``taps``-tap row filter on
    the low-resolution grid whose weights are a softmax (positive, summing to one: a slice profile
    wider than the box, never a sharpening one), then, in training mode, Gaussian noise of a
    learned sigma. Three or so numbers instead of the paper's residual blocks: a real section
    profile is a blur that keeps the mean, and the acquisition adds noise, which the paper's
    deterministic G_hl cannot make; D_l then tells real from generated by the noise and pushes
    the blocks to fake it as sharp texture (on FlyEM its low-res planes ended with 27 % more
    row-to-row detail than the real ones). Here the noise is modelled, so what D_l judges is the
    blur. ``forward`` is deterministic (the cycle losses and stage-two pairs use it, noise-free as
    with the paper's G_hl); :meth:`add_noise` is what the training step shows D_l.

    Starts at the box: centre logit ``4`` (weight 0.93 of 5 taps) and noise sigma ``1e-3``. The
    parameters are stored divided by ``rate`` (100): Adam moves every parameter by about the
    learning rate per step (2e-4 for the generators), which suits a convolution's thousands of
    weights, but these few numbers must travel several units (a 400-iteration FlyEM pilot without
    the rate moved the centre weight from 0.930 to 0.938 and sigma not at all).
    """

    def __init__(self, factor: float = 4.0, taps: int = 5, noise: bool = True, initial_sigma: float = 1e-3,
                 rate: float = 100.0):
        super().__init__()
        if taps < 1 or taps % 2 == 0:
            raise ValueError(f"taps must be a positive odd number, got {taps}")
        self.factor, self.taps, self.noise, self.rate = float(factor), int(taps), bool(noise), float(rate)
        self.pool = RowAreaPool(factor)
        logits = torch.zeros(taps // 2 + 1)
        logits[0] = 4.0                               # the centre tap
        self.scaled_logits = nn.Parameter(logits / self.rate)
        self.scaled_log_sigma = nn.Parameter(torch.tensor(math.log(initial_sigma) / self.rate),
                                             requires_grad=self.noise)

    @property
    def logits(self) -> torch.Tensor:
        """Half the profile's logits, centre first."""
        return self.rate * self.scaled_logits

    @property
    def log_sigma(self) -> torch.Tensor:
        return self.rate * self.scaled_log_sigma

    def profile(self) -> torch.Tensor:
        """The row filter (``taps`` weights, symmetric, positive, summing to one)."""
        half = self.logits
        return torch.softmax(torch.cat([half.flip(0)[:-1], half]), dim=0)

    @property
    def sigma(self) -> float:
        return float(self.log_sigma.detach().exp()) if self.noise else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(x)
        radius = self.taps // 2
        if radius:
            pooled = nn.functional.pad(pooled, (0, 0, radius, radius), mode="replicate")
        kernel = self.profile().to(pooled.dtype).view(1, 1, -1, 1).expand(pooled.shape[1], 1, -1, 1)
        return nn.functional.conv2d(pooled, kernel, groups=pooled.shape[1])

    def add_noise(self, lowres: torch.Tensor) -> torch.Tensor:
        """``lowres`` plus Gaussian noise of the learned sigma (differentiable in sigma)."""
        if not self.noise:
            return lowres
        return lowres + self.log_sigma.exp().to(lowres.dtype) * torch.randn_like(lowres)


def _leaky() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


@register_model("d_l", family="2d", role=CRITIC, presets={"paper": {"n_feats": (64, 128, 256, 512)}},
                paper=DENG)
class LowResDiscriminator(nn.Module):
    """D_l (paper 000, sec. 2): strided convs along the columns only, kernel 3 x 7.

    ``len(n_feats)`` convs with kernel (3, 7), stride (1, 2) (the rows of a low-resolution plane
    are few; only the columns are halved), each followed by LeakyReLU(0.2), then a 3x3 conv to
    one score per position (a patch of the plane). Choices: no normalisation (the paper names
    convolutions and LeakyReLU only); slope 0.2 as in PatchGAN. CPU default: 16, 32, 64, 128
    filters; ``paper`` preset: 64, 128, 256, 512 (PatchGAN's widths; the paper gives none).

    ``row_differences`` (default True, our choice): the convs see two channels per input
    channel, the mean of neighbouring rows and their difference times ``gain``. What tells a real
    low-resolution plane from a generated one is its axial detail (how much neighbouring
    sections differ), a few percent of the intensity range; on the raw intensities alone D_l
    stayed at chance (LSGAN loss 0.50) for 300 iterations on FlyEM (real x4 axial planes against
    box-pooled lateral ones, lr 1e-4 or 1e-3, 16-128 or 32-256 filters), on the differences it
    fell to 0.38. The differences alone are blind to brightness and contrast, which G_hl then
    drifted in (800 iterations: contrast x1.35), hence the mean channel. The gain (10) brings
    differences of normalised intensities (0.01-0.1) near unit scale.
    """

    def __init__(self, in_channels: int = 1, n_feats: tuple[int, ...] = (16, 32, 64, 128),
                 row_differences: bool = True, gain: float = 10.0):
        super().__init__()
        self.row_differences, self.gain = bool(row_differences), float(gain)
        layers: list[nn.Module] = []
        width = 2 * in_channels if self.row_differences else in_channels
        for out in n_feats:
            layers += [nn.Conv2d(width, out, (3, 7), stride=(1, 2), padding=(1, 3)), _leaky()]
            width = out
        layers.append(conv(width, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.row_differences:
            upper, lower = x[..., :-1, :], x[..., 1:, :]
            x = torch.cat([(upper + lower) / 2, self.gain * (lower - upper)], dim=1)
        return self.body(x)


@register_model("d_h", family="2d", role=CRITIC, presets={"paper": {"n_feats": 64}},
                paper="Isola et al. 2017 (PatchGAN), the D_h of paper 000 section 2")
class PatchDiscriminator(nn.Module):
    """D_h: PatchGAN (Isola et al. 2017; CycleGAN's discriminator, paper 000 ref. [30]).

    4x4 convs: the first ``n_layers`` with stride 2 and widths ``n_feats * 2**i`` (capped at 8x),
    one more with stride 1, then a stride-1 conv to one score per patch; LeakyReLU(0.2) after
    each, instance normalisation after all but the first (CycleGAN's choice). With
    ``n_layers=3`` each score sees a 70 x 70 patch. CPU default: 16 first filters; ``paper``
    preset: 64 (70 x 70 PatchGAN).
    """

    def __init__(self, in_channels: int = 1, n_feats: int = 16, n_layers: int = 3):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        widths = [n_feats * min(2 ** i, 8) for i in range(n_layers + 1)]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, stride=2, padding=1), _leaky()]
        for i in range(1, n_layers + 1):
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(widths[i - 1], widths[i], 4, stride=stride, padding=1),
                       nn.InstanceNorm2d(widths[i]), _leaky()]
        layers.append(nn.Conv2d(widths[-1], 1, 4, stride=1, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
