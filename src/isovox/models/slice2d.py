"""Pre-upsampled 2D reconstruction CNNs of Deng et al. (paper 000): DRCNet, IsoNet-1/2, VDSR.

All four take an axial plane already interpolated to the isotropic grid (the "preupsampled"
convention of :mod:`isovox.models.registry`) and return the same size, learning the correction
to the interpolation (image-level global residual, see :class:`layers.ReconstructionNet`).
Interpolation itself happens outside the network, so any (also non-integer) factor works.
Defaults are small CPU sizes; the ``paper`` preset is the published size.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ReconstructionNet, ResBlock, conv, pad_to_multiple
from .registry import register_model

__all__ = ["DRCNet", "IsoNet1", "IsoNet2", "VDSR"]

DENG = "Deng et al. 2020 (paper 000), sec. 2 'Network Implementation'"
WEIGERT = "Weigert et al. 2017, MICCAI (cited as [20] in paper 000)"


@register_model("drcnet", family="2d", presets={"paper": {"n_feats": 64, "n_blocks": 9}}, paper=DENG)
class DRCNet(ReconstructionNet):
    """DRCNet, the Default ReConstruction network of Deng et al. (paper 000, section 2).

    Paper: "a linear interpolation in the front of the network, and 9 residual blocks ... to
    learn the non-linear mapping", ResNet blocks without batch norm, 3x3 kernels, 64 filters.
    Here the interpolation is done outside (isovox resamples the plane first, with the method
    the user picks); the network is head conv -> ``n_blocks`` :class:`layers.ResBlock` -> tail
    conv, plus the interpolated input (global residual).

    Choices where the paper is silent: no activation after the head conv and no feature-level
    long skip (EDSR style); the global residual is added to the image, so the blocks learn only
    the detail interpolation misses. ``paper`` preset: 64 filters, 9 blocks.
    """

    def __init__(self, in_channels=1, out_channels=1, n_feats=32, n_blocks=4, residual=True):
        super().__init__(in_channels, out_channels, 1, residual)
        self.head = conv(in_channels, n_feats)
        self.body = nn.Sequential(*[ResBlock(n_feats) for _ in range(n_blocks)])
        self.tail = conv(n_feats, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_residual(x, self.tail(self.body(self.head(x))))


@register_model(
    "isonet1", family="2d", presets={"paper": {"n_feats": (64, 32), "kernel_sizes": (9, 5, 5)}}, paper=WEIGERT
)
class IsoNet1(ReconstructionNet):
    """IsoNet-1 (Weigert et al. 2017, sec. 2): the three-layer SRCNN of Dong et al. 2014.

    conv 9x9 -> ReLU -> conv 5x5 -> ReLU -> conv 5x5 to the output channels, 'same' padding so
    the interpolated input keeps its size. ``paper`` preset: 64 and 32 filters (SRCNN's widths)
    with 9/5/5 kernels.

    Choices: the output is added to the input (global residual) like the other pre-upsampled
    networks here; ``residual=False`` gives the plain SRCNN mapping. Default: 32 and 16 filters.
    """

    def __init__(
        self, in_channels=1, out_channels=1, n_feats=(32, 16), kernel_sizes=(9, 5, 5), residual=True
    ):
        super().__init__(in_channels, out_channels, 1, residual)
        (f1, f2), (k1, k2, k3) = n_feats, kernel_sizes
        self.body = nn.Sequential(
            conv(in_channels, f1, k1), nn.ReLU(inplace=True),
            conv(f1, f2, k2), nn.ReLU(inplace=True),
            conv(f2, out_channels, k3),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_residual(x, self.body(x))


def _conv_block(in_channels: int, out_channels: int, n_convs: int, kernel_size: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_convs):
        c_in = in_channels if i == 0 else out_channels
        layers += [conv(c_in, out_channels, kernel_size), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


@register_model(
    "isonet2", family="2d", presets={"paper": {"n_first": 32, "depth": 2, "kernel_size": 5}}, paper=WEIGERT
)
class IsoNet2(ReconstructionNet):
    """IsoNet-2 (Weigert et al. 2017, sec. 2 and Fig. 1b): a U-Net-like net with a residual.

    ``depth`` levels of (``n_convs`` conv+ReLU, 2x2 max pooling) with ``n_first * 2**level``
    filters, a bottom block, then nearest up-sampling, concatenation with the skip and conv
    blocks back up, a 1x1 output conv, and the input added to the output.

    Choices (the MICCAI paper shows the topology only in its figure): the ``paper`` preset uses
    the defaults of the authors' released code (CSBDeep: depth 2, 32 first filters, 5x5 kernels
    in 2D, two convs per level); the CPU default is 16 filters with 3x3 kernels. Inputs of any
    H, W are padded (reflection) to a multiple of ``2**depth`` and cropped back.
    """

    def __init__(
        self, in_channels=1, out_channels=1, n_first=16, depth=2, kernel_size=3, n_convs=2, residual=True
    ):
        super().__init__(in_channels, out_channels, 1, residual)
        widths = [n_first * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.down = nn.ModuleList()
        c = in_channels
        for wd in widths[:-1]:
            self.down.append(_conv_block(c, wd, n_convs, kernel_size))
            c = wd
        self.bottom = _conv_block(c, widths[-1], n_convs, kernel_size)
        self.up = nn.ModuleList(
            _conv_block(widths[i + 1] + widths[i], widths[i], n_convs, kernel_size)
            for i in reversed(range(depth))
        )
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.out = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xp, (h, w) = pad_to_multiple(x, 2**self.depth)
        skips, y = [], xp
        for block in self.down:
            y = block(y)
            skips.append(y)
            y = self.pool(y)
        y = self.bottom(y)
        for block, skip in zip(self.up, reversed(skips)):
            y = block(torch.cat([self.upsample(y), skip], dim=1))
        return self.add_residual(x, self.out(y)[..., :h, :w])


@register_model(
    "vdsr", family="2d", presets={"paper": {"n_feats": 64, "n_layers": 20}}, paper="Kim et al. 2016 (VDSR)"
)
class VDSR(ReconstructionNet):
    """VDSR (Kim et al. 2016, sec. 3.1): ``n_layers`` 3x3 convs with ReLU and a global residual.

    The first layer maps the input to ``n_feats`` channels, the last back to the output
    channels, the ``n_layers - 2`` in between are ``n_feats`` -> ``n_feats``; the interpolated
    input is added to the output. ``paper`` preset: 20 layers of 64 filters; CPU default: 8
    layers of 32. VDSR's gradient clipping and high learning rate are training choices and
    belong to the trainer, not here.
    """

    def __init__(self, in_channels=1, out_channels=1, n_feats=32, n_layers=8, residual=True):
        super().__init__(in_channels, out_channels, 1, residual)
        if n_layers < 2:
            raise ValueError("VDSR needs at least 2 layers")
        layers: list[nn.Module] = [conv(in_channels, n_feats), nn.ReLU(inplace=True)]
        for _ in range(n_layers - 2):
            layers += [conv(n_feats, n_feats), nn.ReLU(inplace=True)]
        layers.append(conv(n_feats, out_channels))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_residual(x, self.body(x))
