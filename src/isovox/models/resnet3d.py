"""3D residual SR generator DeepResolve (Chaudhari et al. 2018), stage II of paper 003.

Paper 003 (sec. 2.3) trains DeepResolve, "developed from ResNet", as its second-stage 3D
generator on synthesized LR-HR volume pairs; it found it the better of its two generators.
The architecture follows Chaudhari et al. (MRM 80:2139, 2018) as it is usually described:
a 3D CNN of 20 layers of 3x3x3 convolutions with 64 filters and ReLU that learns the residual
between the interpolated thin-slice volume and the reference (global residual learning).
Input (N, C, D, H, W), already interpolated to the target grid ("preupsampled"); same-size
output.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ReconstructionNet, conv3d
from .registry import register_model

__all__ = ["DeepResolve"]

CHAUDHARI = "Chaudhari et al. 2018, DeepResolve (MRM 80:2139); stage-II generator of paper 003 sec. 2.3"


@register_model(
    "deepresolve", family="3d", presets={"paper": {"n_feats": 64, "n_layers": 20}}, paper=CHAUDHARI
)
class DeepResolve(ReconstructionNet):
    """DeepResolve: ``n_layers`` 3x3x3 convolutions with ReLU and a global residual.

    conv (in -> ``n_feats``) + ReLU, ``n_layers - 2`` times conv (``n_feats`` -> ``n_feats``)
    + ReLU, conv (``n_feats`` -> out) with no activation, so the prediction is an unbounded
    correction; the interpolated input is added to it (the residual learning of Chaudhari et
    al., which isovox applies to every pre-upsampled model, :class:`layers.ReconstructionNet`).
    This is the 3D analogue of VDSR (:class:`slice2d.VDSR`).

    Choices where the descriptions are silent: no batch norm, no residual blocks inside (the
    "ResNet" part is the image-level residual), 'same' zero padding so the size is kept.

    ``paper`` preset: 20 layers of 64 filters, 1,995,329 parameters. CPU default: 8 layers of
    16 filters (42,449 parameters), forward+backward on (2, 1, 24, 24, 24) well under 1 s on
    one CPU core.
    """

    def __init__(self, in_channels=1, out_channels=1, n_feats=16, n_layers=8, residual=True):
        super().__init__(in_channels, out_channels, 1, residual)
        if n_layers < 2:
            raise ValueError(f"DeepResolve needs at least 2 layers, got {n_layers}")
        layers: list[nn.Module] = [conv3d(in_channels, n_feats), nn.ReLU(inplace=True)]
        for _ in range(n_layers - 2):
            layers += [conv3d(n_feats, n_feats), nn.ReLU(inplace=True)]
        layers.append(conv3d(n_feats, out_channels))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_residual(x, self.body(x))
