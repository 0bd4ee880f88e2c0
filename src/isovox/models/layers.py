"""Building blocks shared by the networks; each piece of logic lives here once.

Layout conventions: 2D convolutional code uses (N, C, H, W); the window-attention code uses
channels-last (N, H, W, C) because LayerNorm and Linear act on the last axis. Rows (H) are the
low-resolution axis (z) of an axial plane, columns (W) a lateral axis. 3D code (``conv3d`` and
the 3D modules) uses (N, C, D, H, W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import ONE_AXIS_UPSAMPLING, PREUPSAMPLED

__all__ = [
    "conv",
    "conv3d",
    "ResBlock",
    "ChannelAttention",
    "OneAxisPixelShuffle",
    "Upsampler",
    "ReconstructionNet",
    "pad_to_multiple",
    "window_partition",
    "window_reverse",
    "relative_position_index",
    "WindowAttention",
]


def conv(in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = True) -> nn.Conv2d:
    """'Same' convolution (odd kernel, stride 1): output keeps H and W."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)


def conv3d(
    in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, bias: bool = True
) -> nn.Conv3d:
    """3D convolution with 'same' padding (odd kernel): stride 1 keeps D, H and W, stride 2
    gives ceil(size / 2). Shared by the 3D generators and the 3D critic."""
    return nn.Conv3d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=bias)


class ResBlock(nn.Module):
    """conv-ReLU-conv with identity skip and no batch norm (EDSR, Lim et al. 2017, sec. 3.1).

    ``res_scale`` multiplies the residual branch before the addition (EDSR's residual scaling,
    0.1 in their large model, to keep training of wide nets stable); 1 means no scaling.
    ``attention`` is appended to the branch: with :class:`ChannelAttention` this is RCAN's
    residual channel-attention block (RCAB, Zhang et al. 2018, sec. 3.4).
    """

    def __init__(
        self, n_feats: int, kernel_size: int = 3, res_scale: float = 1.0, attention: nn.Module | None = None
    ):
        super().__init__()
        k = kernel_size
        layers = [conv(n_feats, n_feats, k), nn.ReLU(inplace=True), conv(n_feats, n_feats, k)]
        self.body = nn.Sequential(*layers, *([attention] if attention is not None else []))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel attention of RCAN (Zhang et al. 2018, sec. 3.3).

    Global average pooling, 1x1 conv down by ``reduction``, ReLU, 1x1 conv up, sigmoid gate.
    """

    def __init__(self, n_feats: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, n_feats // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(n_feats, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, n_feats, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class OneAxisPixelShuffle(nn.Module):
    """Pixel shuffle along the rows only: (N, C*s, H, W) -> (N, C, H*s, W).

    Channel ``c*s + i`` becomes row ``h*s + i`` of channel ``c``; this is the 1D analogue of
    ``nn.PixelShuffle`` that paper 000 (sec. 3) uses to up-sample "in a single direction".
    """

    def __init__(self, scale: int):
        super().__init__()
        self.scale = int(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, cs, h, w = x.shape
        s = self.scale
        if cs % s:
            raise ValueError(f"channels {cs} not divisible by scale {s}")
        return x.reshape(n, cs // s, s, h, w).permute(0, 1, 3, 2, 4).reshape(n, cs // s, h * s, w)


class Upsampler(nn.Sequential):
    """Sub-pixel tail: conv to ``scale * n_feats`` channels, then one-axis pixel shuffle.

    A single shuffle by the whole factor (rather than EDSR's cascade of x2 stages) keeps it
    valid for any integer factor, e.g. 3, 5 or 10 as in EM section spacing.
    """

    def __init__(self, n_feats: int, scale: int):
        super().__init__(conv(n_feats, n_feats * scale), OneAxisPixelShuffle(scale))


class ReconstructionNet(nn.Module):
    """Base of every 2D and 3D network: channel counts, scale, convention, global residual.

    ``scale == 1`` is the pre-upsampled convention: the input is already on the target grid and
    the output is ``input + net(input)`` (global residual learning, VDSR/A2I) whenever the
    channel counts match; with ``scale > 1`` the rows are up-sampled by the network's tail and
    no image-level residual is added (the inputs do not live on the output grid).
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int = 1, residual: bool = True):
        super().__init__()
        if int(scale) != scale or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale!r}")
        self.in_channels, self.out_channels, self.scale = in_channels, out_channels, int(scale)
        self.residual = bool(residual) and self.scale == 1 and in_channels == out_channels

    @property
    def convention(self) -> str:
        return PREUPSAMPLED if self.scale == 1 else ONE_AXIS_UPSAMPLING

    def add_residual(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y if self.residual else y


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad H and W at the bottom/right up to a multiple; returns the padded tensor and (H, W).

    Reflection keeps image statistics at the border; it needs ``pad < size``, so tiny inputs fall
    back to edge replication. Crop back with ``y[..., :h, :w]``.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def window_partition(x: torch.Tensor, m: int) -> torch.Tensor:
    """(N, H, W, C) -> (N * H/m * W/m, m*m, C): non-overlapping m x m windows, row-major."""
    n, h, w, c = x.shape
    x = x.reshape(n, h // m, m, w // m, m, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, m * m, c)


def window_reverse(windows: torch.Tensor, m: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (N * H/m * W/m, m*m, C) -> (N, H, W, C)."""
    c = windows.shape[-1]
    x = windows.reshape(-1, h // m, w // m, m, m, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def relative_position_index(m: int) -> torch.Tensor:
    """(m*m, m*m) index into a ((2m-1)^2)-entry bias table, as in Swin (Liu et al. 2021, 3.2).

    Entry (i, j) encodes the offset between token i and token j of a window, shifted to be
    non-negative, so tokens with the same relative offset share one learned bias per head.
    """
    coords = torch.stack(torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (m - 1)
    return rel[..., 0] * (2 * m - 1) + rel[..., 1]


class WindowAttention(nn.Module):
    """Window multi-head self-attention (W-MSA) with relative position bias (paper 001, eq. 3-4).

    Input and output: channels-last (N, H, W, C) with H and W multiples of ``window_size``.
    Softmax(QK^T / sqrt(d_k) + B) V per window and head, then a linear output projection.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int, qkv_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} not divisible by num_heads {num_heads}")
        self.num_heads, self.window_size = num_heads, window_size
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        # Buffer, not parameter: the index is geometry, it moves with .to() but is never learned.
        self.register_buffer("bias_index", relative_position_index(window_size), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        m, k = self.window_size, self.num_heads
        win = window_partition(x, m)  # (B, m*m, C)
        qkv = self.qkv(win).reshape(win.shape[0], m * m, 3, k, c // k).permute(2, 0, 3, 1, 4)
        bias = self.bias_table[self.bias_index].permute(2, 0, 1)  # (heads, m*m, m*m)
        # SDPA scales by 1/sqrt(d_k) and adds a float mask before the softmax: exactly eq. 4.
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=bias.unsqueeze(0))
        out = self.proj(out.transpose(1, 2).reshape(win.shape[0], m * m, c))
        return window_reverse(out, m, h, w)
