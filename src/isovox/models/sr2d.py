"""Single-image super-resolution backbones adapted to one-axis up-sampling: EDSR, RDN, RCAN.

Paper 000 (Deng et al., sec. 3) plugs these natural-image SR networks into its framework and
"modif[ies] the pixel shuffle layer to do up-sample operation in a single direction". Here each
network has an integer ``scale``:

* ``scale > 1`` ("one-axis-upsampling"): the input has ``H_lr`` rows, the tail
  (:class:`layers.Upsampler`: conv to ``scale * n_feats`` channels, then a rows-only pixel
  shuffle) returns ``H_lr * scale`` rows with the columns unchanged.
* ``scale == 1`` ("preupsampled", the default): no up-sampling tail; the input is already on
  the isotropic grid and the interpolated input is added to the output (global residual).

isovox feeds pre-upsampled planes to every model by default because that handles non-integer
factors (A2I-3DEM's rule, paper 001 sec. II-A); the one-axis tail is there to reproduce
paper 000's setting. The RGB mean-shift layers of the originals are dropped: inputs are
single-channel and normalised by the data pipeline.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ChannelAttention, ReconstructionNet, ResBlock, Upsampler, conv
from .registry import ONE_AXIS_UPSAMPLING, PREUPSAMPLED, register_model

__all__ = ["EDSR", "RDN", "RCAN"]

_BOTH = (PREUPSAMPLED, ONE_AXIS_UPSAMPLING)


def _tail(n_feats: int, out_channels: int, scale: int) -> nn.Sequential:
    """Up-sampler (only if ``scale > 1``) followed by the reconstruction conv."""
    up = [Upsampler(n_feats, scale)] if scale > 1 else []
    return nn.Sequential(*up, conv(n_feats, out_channels))


@register_model(
    "edsr",
    family="2d",
    conventions=_BOTH,
    presets={
        "paper": {"n_feats": 256, "n_blocks": 32, "res_scale": 0.1},
        "baseline": {"n_feats": 64, "n_blocks": 16, "res_scale": 1.0},
    },
    paper="Lim et al. 2017 (EDSR), as used in paper 000 sec. 3",
)
class EDSR(ReconstructionNet):
    """EDSR (Lim et al. 2017, sec. 3.1-3.2): residual blocks without BN, residual scaling.

    head conv -> ``n_blocks`` :class:`layers.ResBlock` (branch scaled by ``res_scale``) -> conv,
    plus a long skip from the head, then the tail (see module docstring).

    Presets: ``paper`` is the full EDSR (32 blocks, 256 filters, residual scaling 0.1);
    ``baseline`` is the EDSR baseline (16 blocks, 64 filters, no scaling). The CPU default is
    4 blocks of 32 filters without scaling (scaling is only needed for wide nets).
    """

    def __init__(
        self, in_channels=1, out_channels=1, n_feats=32, n_blocks=4, res_scale=1.0, scale=1, residual=True
    ):
        super().__init__(in_channels, out_channels, scale, residual)
        self.head = conv(in_channels, n_feats)
        blocks = [ResBlock(n_feats, res_scale=res_scale) for _ in range(n_blocks)]
        self.body = nn.Sequential(*blocks, conv(n_feats, n_feats))
        self.tail = _tail(n_feats, out_channels, self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.head(x)
        return self.add_residual(x, self.tail(f + self.body(f)))


class ResidualDenseBlock(nn.Module):
    """RDB (Zhang et al. 2018, RDN sec. 3.2): densely connected convs, local fusion, residual.

    Layer ``i`` sees the block input and all previous layer outputs (``g0 + i*g`` channels) and
    adds ``g`` (growth rate) channels; a 1x1 conv fuses the ``g0 + n_layers*g`` channels back
    to ``g0`` and the block input is added (local residual learning).
    """

    def __init__(self, g0: int, g: int, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(conv(g0 + i * g, g), nn.ReLU(inplace=True)) for i in range(n_layers)
        )
        self.fuse = nn.Conv2d(g0 + n_layers * g, g0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return x + self.fuse(torch.cat(feats, dim=1))


@register_model(
    "rdn",
    family="2d",
    conventions=_BOTH,
    presets={"paper": {"g0": 64, "growth": 64, "n_blocks": 16, "n_layers": 8}},
    paper="Zhang et al. 2018 (RDN), as used in paper 000 sec. 3",
)
class RDN(ReconstructionNet):
    """RDN (Zhang et al. 2018, sec. 3.1): residual dense blocks with global feature fusion.

    Two shallow convs (F_-1, F_0), ``n_blocks`` :class:`ResidualDenseBlock`, global feature
    fusion (concatenate every block's output, 1x1 conv, 3x3 conv), global residual learning
    (add F_-1), then the tail. ``paper`` preset: D=16 blocks, C=8 layers, G=G0=64 (the paper's
    main model). CPU default: D=3, C=3, G=16, G0=32.
    """

    def __init__(
        self, in_channels=1, out_channels=1, g0=32, growth=16, n_blocks=3, n_layers=3, scale=1, residual=True
    ):
        super().__init__(in_channels, out_channels, scale, residual)
        self.sfe1 = conv(in_channels, g0)
        self.sfe2 = conv(g0, g0)
        self.blocks = nn.ModuleList(ResidualDenseBlock(g0, growth, n_layers) for _ in range(n_blocks))
        self.gff = nn.Sequential(nn.Conv2d(n_blocks * g0, g0, 1), conv(g0, g0))
        self.tail = _tail(g0, out_channels, self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f_1 = self.sfe1(x)
        y, outs = self.sfe2(f_1), []
        for block in self.blocks:
            y = block(y)
            outs.append(y)
        return self.add_residual(x, self.tail(f_1 + self.gff(torch.cat(outs, dim=1))))


class ResidualGroup(nn.Sequential):
    """RCAN residual group (sec. 3.2): ``n_blocks`` RCABs and a conv, with a short skip."""

    def __init__(self, n_feats: int, n_blocks: int, reduction: int):
        blocks = [ResBlock(n_feats, attention=ChannelAttention(n_feats, reduction)) for _ in range(n_blocks)]
        super().__init__(*blocks, conv(n_feats, n_feats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


@register_model(
    "rcan",
    family="2d",
    conventions=_BOTH,
    presets={"paper": {"n_feats": 64, "n_groups": 10, "n_blocks": 20, "reduction": 16}},
    paper="Zhang et al. 2018 (RCAN), as used in paper 000 sec. 3",
)
class RCAN(ReconstructionNet):
    """RCAN (Zhang et al. 2018, sec. 3): residual-in-residual with channel attention.

    head conv -> ``n_groups`` :class:`ResidualGroup` (each ``n_blocks`` residual
    channel-attention blocks, :class:`layers.ResBlock` + :class:`layers.ChannelAttention`,
    and a conv, short skip) -> conv, long skip from the head, then the tail. ``paper`` preset:
    10 groups x 20 blocks, 64 filters, reduction 16. CPU default: 2 x 2 blocks, 32 filters,
    reduction 8 (so the squeeze keeps 4 channels).
    """

    def __init__(
        self,
        in_channels=1,
        out_channels=1,
        n_feats=32,
        n_groups=2,
        n_blocks=2,
        reduction=8,
        scale=1,
        residual=True,
    ):
        super().__init__(in_channels, out_channels, scale, residual)
        self.head = conv(in_channels, n_feats)
        groups = [ResidualGroup(n_feats, n_blocks, reduction) for _ in range(n_groups)]
        self.body = nn.Sequential(*groups, conv(n_feats, n_feats))
        self.tail = _tail(n_feats, out_channels, self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.head(x)
        return self.add_residual(x, self.tail(f + self.body(f)))
