"""3D densely connected SR generators of Chen et al.: mDCSRN (paper 004) and DCSRN (2018).

Both take a volume already interpolated to the target grid (the "preupsampled" convention of
:mod:`isovox.models.registry`; paper 004 sec. 3.3: "There is no up-sampling layer in mDCSRN")
and return the same size, input (N, C, D, H, W). They are the stage-II 3D generators of
paper 003 (sec. 2.3) and the generator of mDCSRN-GAN (paper 004 sec. 3.3, critic in
:mod:`.discriminators`).

Choices common to both, where the papers are silent or where isovox differs:

* DenseUnits are pre-activation, BN-ELU-conv as in DenseNet: paper 004 names ELU (sec. 3.3)
  and batch-norm layers (sec. 4.1, "we set the batch normalization layers ... to 'train'
  mode"). ``norm=False`` drops the batch norms (EDSR-style SR practice); the 3x3x3 convs and
  the 1x1x1 convs are unchanged, so only 2 parameters per normalised channel differ.
* Every conv has a bias. The stem, compressors and the combination layer are plain convs:
  their outputs feed units that normalise and activate first.
* Global residual (isovox's rule for pre-upsampled models, :class:`layers.ReconstructionNet`):
  the output is ``input + net(input)``; ``residual=False`` gives the papers' direct mapping.
  Parameter counts do not depend on it.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ReconstructionNet, conv3d
from .registry import register_model

__all__ = ["DenseUnit3d", "DenseBlock3d", "MDCSRN", "DCSRN", "count_parameters"]

CHEN2020 = "Chen et al., mDCSRN (paper 004), sec. 3.3, Fig. 3-5, Table 1"
CHEN2018 = "Chen et al. 2018, DCSRN (arXiv:1801.02728), stage-II generator of paper 003 sec. 2.3"


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (Table 1 of paper 004 counts weights and biases alike)."""
    return sum(p.numel() for p in model.parameters())


def _use_bottleneck(bottleneck: bool | str, in_channels: int, growth: int) -> bool:
    if bottleneck == "auto":
        # DenseNet-BC's 1x1x1 bottleneck to 4k only saves work once the input is wider than 4k;
        # paper 004 puts it there "when needed" (sec. 3.3).
        return in_channels > 4 * growth
    if isinstance(bottleneck, bool):
        return bottleneck
    raise ValueError(f"bottleneck must be True, False or 'auto', got {bottleneck!r}")


def _pre(channels: int, norm: bool) -> list[nn.Module]:
    return [*([nn.BatchNorm3d(channels)] if norm else []), nn.ELU(inplace=True)]


class DenseUnit3d(nn.Sequential):
    """One DenseUnit: [BN]-ELU-[1x1x1 conv to 4k, BN, ELU]-3x3x3 conv to ``growth`` maps.

    Returns the ``growth`` new feature maps only; the enclosing block concatenates them.
    """

    def __init__(self, in_channels: int, growth: int, bottleneck: bool, norm: bool):
        layers = _pre(in_channels, norm)
        if bottleneck:
            layers += [conv3d(in_channels, 4 * growth, 1), *_pre(4 * growth, norm)]
        layers.append(conv3d(4 * growth if bottleneck else in_channels, growth, 3))
        super().__init__(*layers)


class DenseBlock3d(nn.Module):
    """``units`` DenseUnits, each fed with the block input and every earlier unit's maps.

    The output concatenates the block input with all unit outputs (paper 004 Fig. 4a: the input
    is linked to the block output too, unlike SRDenseNet), ``in_channels + units * growth``
    maps.
    """

    def __init__(self, in_channels: int, units: int, growth: int, bottleneck="auto", norm=True):
        super().__init__()
        widths = [in_channels + i * growth for i in range(units)]
        self.units = nn.ModuleList(
            DenseUnit3d(c, growth, _use_bottleneck(bottleneck, c, growth), norm) for c in widths
        )
        self.out_channels = in_channels + units * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for unit in self.units:
            feats.append(unit(torch.cat(feats, dim=1)))
        return torch.cat(feats, dim=1)


PRESETS = {
    # Table 1 of paper 004 (Exp. 3-5); 'paper' is the b4u4k12 model of Table 2.
    "b4u4k12": {"blocks": 4, "units": 4, "growth": 12},
    "b6u4k12": {"blocks": 6, "units": 4, "growth": 12},
    "b8u4k12": {"blocks": 8, "units": 4, "growth": 12},
    "b4u4k8": {"blocks": 4, "units": 4, "growth": 8},
    "b4u4k16": {"blocks": 4, "units": 4, "growth": 16},
    "b8u4k8": {"blocks": 8, "units": 4, "growth": 8},
    "paper": {"blocks": 4, "units": 4, "growth": 12},
}
#: "#Parm" of Table 1 (paper 004), in parameters; the tests compare the presets with these.
PAPER_PARAMS = {"b4u4k12": 0.22e6, "b6u4k12": 0.35e6, "b8u4k12": 0.49e6, "b4u4k8": 0.10e6,
                "b4u4k16": 0.41e6, "b8u4k8": 0.22e6, "paper": 0.22e6}  # fmt: skip


@register_model("mdcsrn", family="3d", presets=PRESETS, paper=CHEN2020)
class MDCSRN(ReconstructionNet):
    """mDCSRN, the 3D multi-level densely connected SR network (paper 004, sec. 3.3, Fig. 3).

    stem 3x3x3 conv to 2k -> ``blocks`` DenseBlocks of ``units`` DenseUnits with growth ``k``
    -> direct feature combination (a 1x1x1 conv over the concatenated outputs of all blocks)
    -> + input. Before every block but the first, a 1x1x1 compressor maps the concatenation of
    all earlier blocks' outputs to 2k maps (multi-level dense connections with compressor);
    the first block takes the stem's 2k maps directly, as a 2k -> 2k compressor there would
    only be an extra linear map. Each block output contains its input, so the stem's maps
    reach every later compressor and the combination layer through the first block's output.

    ``bottleneck``: ``'auto'`` (default) puts DenseNet-BC's 1x1x1 conv to 4k before a unit's
    3x3x3 conv only where that unit's input is wider than 4k (with u=4 this is the last unit
    of each block), True before every unit, False never.

    Parameter counts (``norm=True``, ``bottleneck='auto'``) against "#Parm" of Table 1 of
    paper 004: b4u4k12 227,209 (0.22M, +3.3 %; Table 2 gives 0.23M for it), b6u4k12 350,857
    (0.35M, +0.2 %), b8u4k12 481,417 (0.49M, -1.8 %), b4u4k8 101,681 (0.10M, +1.7 %), b4u4k16
    402,529 (0.41M, -1.8 %), b8u4k8 215,217 (0.22M, -2.2 %). The 'auto' rule is the one
    Table 1 supports: a bottleneck before every unit gives +25 to +35 %, none at all cannot
    reach Exp. 1's b1u16-r = 0.35M (619 k; 'auto' gives 350 k). ``norm=False`` removes
    2 parameters per normalised channel (1,728 for b4u4k12).

    CPU default: ``blocks=2, units=4, growth=8`` (49,521 parameters), forward+backward on
    (2, 1, 24, 24, 24) in about 0.2-0.3 s on one busy CPU core; b4u4k12 itself takes about
    0.85 s there, too close to 1 s for a default. ``paper`` preset: b4u4k12 (Table 2's size).
    """

    def __init__(
        self,
        in_channels=1,
        out_channels=1,
        blocks=2,
        units=4,
        growth=8,
        bottleneck="auto",
        norm=True,
        residual=True,
    ):
        super().__init__(in_channels, out_channels, 1, residual)
        if blocks < 1 or units < 1 or growth < 1:
            raise ValueError(f"blocks, units, growth must be >= 1, got {blocks}, {units}, {growth}")
        width = 2 * growth  # stem and compressor width, 2k (sec. 3.3)
        block_out = width + units * growth
        self.stem = conv3d(in_channels, width)
        self.blocks = nn.ModuleList(
            DenseBlock3d(width, units, growth, bottleneck, norm) for _ in range(blocks)
        )
        # compressors[j] feeds block j + 1 from the outputs of blocks 0..j (multi-level links)
        self.compressors = nn.ModuleList(
            conv3d((j + 1) * block_out, width, 1) for j in range(blocks - 1)
        )
        self.combine = conv3d(blocks * block_out, out_channels, 1)  # direct feature combination

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [self.blocks[0](self.stem(x))]
        for compressor, block in zip(self.compressors, self.blocks[1:]):
            outs.append(block(compressor(torch.cat(outs, dim=1))))
        return self.add_residual(x, self.combine(torch.cat(outs, dim=1)))


@register_model("dcsrn", family="3d", presets={"paper": {"units": 4, "growth": 24}}, paper=CHEN2018)
class DCSRN(MDCSRN):
    """DCSRN (Chen et al. 2018): stem conv to 2k, a single DenseBlock, 1x1x1 output conv.

    The one-block predecessor of mDCSRN that paper 003 uses as a stage-II generator (sec. 2.3),
    as usually described: 4 BN-ELU-3x3x3-conv DenseUnits of growth k = 24 after a 2k = 48-map
    stem, no bottleneck, no compressor, the block output (its input plus the four units' maps)
    combined by a 1x1x1 conv. This is :class:`MDCSRN` with ``blocks=1, bottleneck=False``.
    ``paper`` preset: 4 units, k = 24, 219,985 parameters (219,313 without batch norm);
    CPU default: 4 units of k = 8 (24,945).
    """

    def __init__(self, in_channels=1, out_channels=1, units=4, growth=8, norm=True, residual=True):
        super().__init__(in_channels, out_channels, 1, units, growth, False, norm, residual)
