"""A2I-3DEM U-shaped vision transformer (Khateri et al. 2023, paper 001, section II-B).

Pipeline (sec. II-B.1, Fig. 3): shallow conv features X_0 (C channels) -> symmetric
encoder-decoder of K levels built from transformer blocks; each encoder level halves H and W
and doubles the channels, down to a bottleneck of 2^(K-1) C channels at H/2^(K-1) x W/2^(K-1);
decoders up-sample and merge the encoder features of the same level (skip connections);
X_0 is added to the last decoder's output, which goes through the feature projection to the
image. The network's input is the interpolated axial plane ("preupsampled" convention, sec. II-A)
and, as in Uformer (paper 001's ref. [14], whose design this follows), the input image is added
to the projection (global residual), so the network restores the detail interpolation misses.

Transformer block (eq. 2): W-MSA with relative position bias (eq. 3-4,
:class:`layers.WindowAttention`) and the gated locally-enhanced feed-forward network (GLEN).

Choices where the paper is vague (it gives no layer counts, widths or window size):

* eq. 2 writes X' = W-MSA(LN(X)) without a skip; we use X' = X + W-MSA(LN(X)) as in Swin,
  SwinIR and Uformer (refs. [14]-[16]), which eq. 2's second line mirrors.
* GLEN: Linear(C -> 2h), 3x3 depth-wise conv, split into two paths, GELU(path 1) * path 2,
  Linear(h -> C), with h = ``mlp_ratio`` * C. This is "depth-wise convolution" plus "the
  element-wise product of two parallel paths of linear transformation layers" (sec. II-B.2b);
  the two input linears are fused into one layer of twice the width.
* Windows are not shifted (the paper names W-MSA only); mixing across window borders comes from
  GLEN's depth-wise conv and the down/up-sampling convs.
* Shallow features: one 3x3 conv + LeakyReLU (Uformer's input projection). Down-sampling:
  4x4 conv, stride 2 (channels x2); up-sampling: 2x2 transposed conv, stride 2 (channels /2).
  Decoder merge: concatenate with the skip, 1x1 conv back to the level width (Restormer style;
  keeps decoders as wide as encoders rather than Uformer's doubled width).
* Heads per level: 2**level by default (Uformer: head dim constant at ``embed_dim``).
* ``paper`` preset: Uformer's sizes, since A2I-3DEM builds on it: C=32, K=5 levels
  (4 down-samplings, bottleneck 512 channels), 2 blocks per stage, window 8, heads
  1/2/4/8/16, mlp_ratio 4. CPU default: C=16, K=3, 1 block per stage, mlp_ratio 2.

Any H, W works: inputs are padded (reflection) to a multiple of ``window_size * 2**(K-1)`` so
every level tiles into whole windows, and the output is cropped back.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ReconstructionNet, WindowAttention, conv, pad_to_multiple
from .registry import register_model

__all__ = ["GLEN", "TransformerBlock", "A2ITransformer"]


class GLEN(nn.Module):
    """Gated locally-enhanced feed-forward network (paper 001, sec. II-B.2b); channels-last."""

    def __init__(self, dim: int, mlp_ratio: float = 2.0):
        super().__init__()
        hidden = max(1, int(dim * mlp_ratio))
        self.proj_in = nn.Linear(dim, 2 * hidden)
        self.dwconv = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden)
        self.proj_out = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(self.proj_in(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        gate, value = y.chunk(2, dim=-1)
        return self.proj_out(F.gelu(gate) * value)


class TransformerBlock(nn.Module):
    """X' = X + W-MSA(LN(X)); X'' = X' + GLEN(LN(X')) (paper 001, eq. 2); channels-last."""

    def __init__(self, dim: int, num_heads: int, window_size: int, mlp_ratio: float, qkv_bias: bool = True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window_size, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.glen = GLEN(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.glen(self.norm2(x))


class _Stage(nn.Sequential):
    """A run of transformer blocks taking and returning (N, C, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@register_model(
    "a2i",
    family="2d",
    presets={
        "paper": {"embed_dim": 32, "levels": 5, "depths": 2, "num_heads": (1, 2, 4, 8, 16), "mlp_ratio": 4.0}
    },
    paper="Khateri et al. 2023, A2I-3DEM (paper 001), sec. II-B",
)
class A2ITransformer(ReconstructionNet):
    """A2I-3DEM U-shaped transformer with W-MSA and GLEN (paper 001, sec. II-B).

    Args:
        embed_dim: C, channels of the shallow features and of level 0.
        levels: K, number of resolution levels including the bottleneck (K-1 down-samplings).
        depths: transformer blocks per stage, an int for all or 2K-1 values ordered encoder
            levels 0..K-2, bottleneck, decoder levels K-2..0.
        num_heads: heads per level (K values); default ``2**level``.
        window_size: M, side of the square attention windows.
        mlp_ratio: GLEN hidden width relative to the level width.

    See the module docstring for every choice made where the paper is silent.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        embed_dim: int = 16,
        levels: int = 3,
        depths: int | Sequence[int] = 1,
        num_heads: Sequence[int] | None = None,
        window_size: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        residual: bool = True,
    ):
        super().__init__(in_channels, out_channels, 1, residual)
        if levels < 1:
            raise ValueError("levels must be >= 1")
        depths = [depths] * (2 * levels - 1) if isinstance(depths, int) else list(depths)
        heads = [2**i for i in range(levels)] if num_heads is None else list(num_heads)
        if len(depths) != 2 * levels - 1 or len(heads) != levels:
            raise ValueError(f"need {2 * levels - 1} depths and {levels} head counts, got {depths}, {heads}")
        dims = [embed_dim * 2**i for i in range(levels)]
        self.window_size, self.levels = window_size, levels

        def stage(level: int, depth: int) -> _Stage:
            return _Stage(*[TransformerBlock(dims[level], heads[level], window_size, mlp_ratio, qkv_bias)
                            for _ in range(depth)])  # fmt: skip

        up_levels = list(reversed(range(levels - 1)))
        self.input_proj = nn.Sequential(conv(in_channels, embed_dim), nn.LeakyReLU(0.2, inplace=True))
        self.encoders = nn.ModuleList(stage(i, depths[i]) for i in range(levels - 1))
        self.downs = nn.ModuleList(
            nn.Conv2d(dims[i], dims[i + 1], 4, stride=2, padding=1) for i in range(levels - 1)
        )
        self.bottleneck = stage(levels - 1, depths[levels - 1])
        self.ups = nn.ModuleList(nn.ConvTranspose2d(dims[i + 1], dims[i], 2, stride=2) for i in up_levels)
        self.fuses = nn.ModuleList(nn.Conv2d(2 * dims[i], dims[i], 1) for i in up_levels)
        self.decoders = nn.ModuleList(stage(i, depths[levels + k]) for k, i in enumerate(up_levels))
        self.output_proj = conv(embed_dim, out_channels)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        # ViT/Swin practice: small truncated-normal linears, zero biases; convs keep torch's init.
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    @property
    def size_multiple(self) -> int:
        """Inputs are padded internally to a multiple of this (every level in whole windows)."""
        return self.window_size * 2 ** (self.levels - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xp, (h, w) = pad_to_multiple(x, self.size_multiple)
        x0 = self.input_proj(xp)
        y, skips = x0, []
        for encoder, down in zip(self.encoders, self.downs):
            y = encoder(y)
            skips.append(y)
            y = down(y)
        y = self.bottleneck(y)
        for up, fuse, decoder, skip in zip(self.ups, self.fuses, self.decoders, reversed(skips)):
            y = decoder(fuse(torch.cat([up(y), skip], dim=1)))
        out = self.output_proj(y + x0)[..., :h, :w]
        return self.add_residual(x, out)
