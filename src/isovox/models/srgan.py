"""SRGAN generators and discriminator (Ledig et al. 2017) and Meta-SRGAN (paper 002, sec. 2.2).

* :class:`MetaSRGAN` (``meta-srgan``, convention ``"arbitrary-scale"``): SRGAN's residual trunk
  ending in the :class:`~.meta_upscale.MetaUpscale` module, so one network up-samples by any
  scale, per axis: ``net(lowres_plane, scale=(4.0, 1.0))`` refines the rows only, which is how
  isovox uses it through-plane (:mod:`isovox.reconstruction.arbitrary`).
* :class:`SRGAN` (``srgan``): the same trunk with a fixed sub-pixel (pixel-shuffle) tail, the
  comparison of paper 002's Table 1. ``scale`` up-samples the rows (isovox's one-axis
  convention, like EDSR); ``col_scale`` the columns too, for 2D image tasks such as the x2
  task of the paper (``scale=2, col_scale=2``). With both 1 it is a pre-upsampled refiner.
* :class:`SRGANDiscriminator` (``srgan-discriminator``, role ``"critic"``): LeakyReLU conv stack,
  adaptive average pooling, sigmoid (paper 002, Fig. 5).

Trunk (paper 002, Fig. 4; Ledig et al. sec. 2.2): 9x9 conv + PReLU; ``n_blocks`` residual blocks
(conv-BN-PReLU-conv-BN, identity skip); conv-BN; a long skip from the head. Choices written down:

* Residual blocks use PReLU as SRGAN does (Fig. 4 of paper 002 labels the block's activation
  "ReLU" while its text credits PReLU with stabilising training).
* Paper sizes: 64 features (Fig. 4). The block count is not given; with 5 blocks the counts
  for one grey channel are Table 1's, 565,064 (0.565M) for SRGAN x2 and 561,478 (0.561M) for
  Meta-SRGAN with a 256-wide weight predictor, so the ``paper`` presets use 5 blocks. CPU
  defaults: 32 features, 8 blocks, weight predictor 64 wide.
* ``skip`` (Meta-SRGAN, default on; off in the ``paper`` preset): the input, interpolated
  bicubically onto the output grid (``grid_sample``, PyTorch's a = -0.75 kernel, mirrored
  borders), is added to the output, so the network learns the correction to interpolation (the
  global residual of VDSR and of isovox's pre-upsampled networks). Paper 002 has no such skip;
  on CPU budgets of a few thousand iterations it spares the network from learning the identity.
* SRGAN's tail up-samples by the whole factor in one conv + shuffle + PReLU stage (Ledig
  cascades x2 stages; for x2, the paper's task, the two are the same).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv
from .meta_upscale import MetaUpscale, as_scale_pair, output_positions
from .registry import ARBITRARY_SCALE, CRITIC, ONE_AXIS_UPSAMPLING, PREUPSAMPLED, register_model

__all__ = ["MetaSRGAN", "SRGAN", "SRGANDiscriminator", "AxisPixelShuffle", "interpolate_to"]


class ResidualBlock(nn.Module):
    """SRGAN residual block: conv-BN-PReLU-conv-BN plus the identity."""

    def __init__(self, n_feats: int):
        super().__init__()
        self.body = nn.Sequential(conv(n_feats, n_feats, bias=False), nn.BatchNorm2d(n_feats), nn.PReLU(),
                                  conv(n_feats, n_feats, bias=False), nn.BatchNorm2d(n_feats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Trunk(nn.Module):
    """Head (9x9 conv + PReLU), residual blocks, conv-BN, long skip: features at input size."""

    def __init__(self, in_channels: int, n_feats: int, n_blocks: int):
        super().__init__()
        self.head = nn.Sequential(conv(in_channels, n_feats, 9), nn.PReLU())
        self.blocks = nn.Sequential(*(ResidualBlock(n_feats) for _ in range(n_blocks)))
        self.fuse = nn.Sequential(conv(n_feats, n_feats, bias=False), nn.BatchNorm2d(n_feats))
        # Input pixels an output feature depends on, per side: 4 (9x9) + 2 per block + 1.
        self.radius = 4 + 2 * n_blocks + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.head(x)
        return head + self.fuse(self.blocks(head))


def interpolate_to(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Bicubic samples of ``x`` (N, C, H, W) at float input positions ``rows`` x ``cols``.

    ``grid_sample`` with ``align_corners=True`` puts pixel ``i`` at normalised ``2 i / (n - 1) - 1``;
    reflection padding mirrors about the edge pixels, so nothing is extrapolated.
    """
    h, w = x.shape[-2:]

    def normalised(p: torch.Tensor, n: int) -> torch.Tensor:
        return (2 * p / (n - 1) - 1) if n > 1 else torch.zeros_like(p)

    gy = normalised(rows.to(x.device, torch.float64), h).to(x.dtype)
    gx = normalised(cols.to(x.device, torch.float64), w).to(x.dtype)
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)  # (H_out, W_out, 2) as (x, y)
    grid = grid.unsqueeze(0).expand(x.shape[0], -1, -1, -1)
    return F.grid_sample(x, grid, mode="bicubic", padding_mode="reflection", align_corners=True)


@register_model(
    "meta-srgan",
    family="2d",
    conventions=(ARBITRARY_SCALE,),
    presets={"paper": {"n_feats": 64, "n_blocks": 5, "hidden": 256, "skip": False}},
    paper="Tan et al. 2020 (Meta-SRGAN, paper 002 sec. 2.2); Hu et al. 2019 (Meta-SR)",
)
class MetaSRGAN(nn.Module):
    """Meta-SRGAN: SRGAN's residual trunk with a Meta-Upscale tail; any per-axis scale.

    ``forward(x, scale, positions=None)``: ``x`` is the low-resolution plane (N, C, H, W);
    ``scale`` a number (rows only) or ``(rows, cols)``; the output has ``floor((H - 1) * s) + 1``
    rows (the grid convention of :mod:`isovox.volume`; see :mod:`.meta_upscale`). ``positions``
    (float input positions of the output rows and columns) computes a window of that grid.
    """

    convention = ARBITRARY_SCALE

    def __init__(self, in_channels=1, out_channels=1, n_feats=32, n_blocks=8, hidden=64, skip=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.trunk = Trunk(in_channels, n_feats, n_blocks)
        self.upscale = MetaUpscale(n_feats, out_channels, hidden)
        self.residual = bool(skip) and in_channels == out_channels
        # Low-res pixels an output pixel depends on, per side: the trunk, the 3x3 Meta-Upscale
        # window, and the 2-pixel reach of the bicubic skip (tiling uses it as its halo).
        self.receptive_radius = max(self.trunk.radius + 1, 2 if self.residual else 0)

    def forward(self, x: torch.Tensor, scale: float | Sequence[float],
                positions: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        scale = as_scale_pair(scale)
        if positions is None:
            positions = (output_positions(x.shape[-2], scale[0]), output_positions(x.shape[-1], scale[1]))
        y = self.upscale(self.trunk(x), scale, positions)
        return y + interpolate_to(x, *positions) if self.residual else y


class AxisPixelShuffle(nn.Module):
    """Sub-pixel shuffle by ``rows`` x ``cols``: (N, C*r*c, H, W) -> (N, C, H*r, W*c).

    Channel ``(ch * r + i) * c + j`` becomes pixel ``(h * r + i, w * c + j)`` of channel ``ch``:
    ``nn.PixelShuffle(r)`` when ``r == c``, :class:`~.layers.OneAxisPixelShuffle` when ``c == 1``.
    """

    def __init__(self, rows: int, cols: int = 1):
        super().__init__()
        self.rows, self.cols = int(rows), int(cols)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, channels, h, w = x.shape
        r, c = self.rows, self.cols
        if channels % (r * c):
            raise ValueError(f"channels {channels} not divisible by {r} x {c}")
        x = x.reshape(n, channels // (r * c), r, c, h, w).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(n, channels // (r * c), h * r, w * c)


@register_model(
    "srgan",
    family="2d",
    conventions=(PREUPSAMPLED, ONE_AXIS_UPSAMPLING),
    presets={"paper": {"n_feats": 64, "n_blocks": 5}},
    paper="Ledig et al. 2017 (SRGAN), the fixed-scale comparison of paper 002 Table 1",
)
class SRGAN(nn.Module):
    """SRGAN generator with a fixed pixel-shuffle tail: rows x ``scale``, columns x ``col_scale``.

    ``scale == col_scale == 1`` ("preupsampled"): no tail up-sampling, the input is added to the
    output (global residual). Otherwise conv (``n_feats * scale * col_scale`` channels) ->
    :class:`AxisPixelShuffle` -> PReLU, then the 9x9 output conv, and no image residual.
    """

    def __init__(self, in_channels=1, out_channels=1, n_feats=32, n_blocks=8, scale=1, col_scale=1, residual=True):
        super().__init__()
        scales = (scale, col_scale)
        if any(int(s) != s or s < 1 for s in scales):
            raise ValueError(f"scale and col_scale must be positive integers, got {scales}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.scale, self.col_scale = int(scale), int(col_scale)
        self.trunk = Trunk(in_channels, n_feats, n_blocks)
        up: list[nn.Module] = []
        if self.scale * self.col_scale > 1:
            up = [conv(n_feats, n_feats * self.scale * self.col_scale), AxisPixelShuffle(self.scale, self.col_scale),
                  nn.PReLU()]
        self.tail = nn.Sequential(*up, conv(n_feats, out_channels, 9))
        self.residual = bool(residual) and not up and in_channels == out_channels

    @property
    def convention(self) -> str:
        return PREUPSAMPLED if self.scale * self.col_scale == 1 else ONE_AXIS_UPSAMPLING

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tail(self.trunk(x))
        return x + y if self.residual else y


@register_model(
    "srgan-discriminator",
    family="2d",
    role=CRITIC,
    presets={"paper": {"n_feats": 64, "n_stages": 4, "dense_features": 1024}},  # 64 ... 512 filters
    paper="Ledig et al. 2017 (SRGAN's D), with adaptive pooling as in paper 002 Fig. 5",
)
class SRGANDiscriminator(nn.Module):
    """SRGAN's discriminator with adaptive average pooling (paper 002, Fig. 5): image -> P(real).

    3x3 conv (``n_feats``) + LeakyReLU(0.2); then ``n_stages`` stages of width ``n_feats * 2**i``,
    each a stride-1 conv that doubles the width (not in the first stage) and a stride-2 conv,
    every conv followed by BN and LeakyReLU(0.2) (Ledig et al.'s k3n64s2 ... k3n512s2 stack for 4
    stages); adaptive average pooling to 1x1 (any patch size), dense ``dense_features`` +
    LeakyReLU, dense 1, sigmoid. :meth:`logits` returns the score before the sigmoid: training
    uses it with ``binary_cross_entropy_with_logits``, the same loss as log(sigmoid) without its
    overflow. CPU default: 16 first filters, 3 stages, 128 dense features.
    """

    def __init__(self, in_channels=1, n_feats=16, n_stages=3, dense_features=128, negative_slope=0.2):
        super().__init__()
        if n_stages < 1:
            raise ValueError(f"n_stages must be >= 1, got {n_stages}")

        def block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                    nn.LeakyReLU(negative_slope, inplace=True)]

        layers: list[nn.Module] = [conv(in_channels, n_feats), nn.LeakyReLU(negative_slope, inplace=True)]
        width = n_feats
        for i in range(n_stages):
            if i:
                layers += block(width, 2 * width, 1)
                width *= 2
            layers += block(width, width, 2)
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, dense_features),
                                  nn.LeakyReLU(negative_slope, inplace=True), nn.Linear(dense_features, 1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


# A shorthand for callers written before the registry held the discriminator; new code calls
# create_model directly.
