"""Meta-Upscale: one up-sampling layer for any scale, a different one per axis (Meta-SR).

Paper 002 (Tan et al. 2020, sec. 1.1 and Fig. 3) replaces SRGAN's sub-pixel up-sampler with the
Meta-Upscale module of Hu et al. 2019 (Meta-SR): a small *weight prediction network* maps, for
every output pixel, its position relative to the input grid and the scale to the weights of a
3x3 filter, which is applied to the feature map around the input pixel the output pixel falls
on. Training over many scales makes one network serve them all, integer or not.

Position mapping: the grid convention of :mod:`isovox.volume`
-------------------------------------------------------------
Output row ``j`` sits at input position ``p = j / s`` (input row ``k`` lands on output row
``k * s``) and there are ``floor((n - 1) * s) + 1`` output rows (:func:`output_length`, the same
formula as :func:`isovox.volume.output_length`, which this package cannot import). Its *anchor* is
the nearest input row, ``floor(p + 1/2)``, and its *offset* is ``p`` minus the anchor, in
``[-0.5, 0.5)``.
Columns work the same with their own scale, so ``scale=(4.0, 1.0)`` up-samples the rows only
(through-plane reconstruction) and ``(2.0, 2.0)`` is the 2D image task of paper 002.

Choices where the papers are vague, written down:

* Anchor by rounding, not Meta-SR's ``floor(p)``: with ``floor`` an output pixel just left of an
  input pixel has its 3x3 window one sample off-centre; rounding keeps every window centred on
  the nearest sample (offsets in ``[-0.5, 0.5)``), which is also what "offset to the nearest input
  position" means.
* Inputs of the weight prediction network: ``(offset_row, offset_col, 1/scale_row, 1/scale_col)``.
  Meta-SR uses ``(R_i, R_j, 1/r)`` with one scale; a scale per axis needs both.
* "The Weight Prediction Network consists of three layers" (paper 002, sec. 1.1): read as
  Meta-SR's fully connected layer, ReLU, fully connected layer,
  ``4 -> hidden -> out_channels * in_channels * 9``. The paper's parameter counts decide it:
  with hidden 256 and the 5-block trunk of :mod:`.srgan` this gives 0.561M parameters, Table 1's
  Meta-SRGAN count, where three *linear* layers would give 0.627M.
* Feature-map borders are zero-padded, as the convolutions before the module pad them.

Vectorised: nothing loops over pixels. The weight prediction network runs once per *distinct*
offset pair (output rows sharing an offset share a filter: ``s = 2.5`` has 5 row offsets, an
integer ``s`` has ``s``), then one of two equivalent paths applies the filters:

* ``"grouped"``: every distinct filter is convolved over the (small) input feature map in one
  ``conv2d``, and each output pixel picks its filter's response at its anchor. Cost
  ``groups * H * W`` filter evaluations: a scale of 3.7 has 37 row offsets, one extra conv layer
  of 37 channels at low resolution, little next to the trunk.
* ``"gathered"``: the 3x3 neighbourhoods are unfolded, gathered at the anchors, and each output
  pixel takes the dot product with its own filter. Cost ``H_out * W_out`` evaluations,
  independent of the number of groups: the path for scales without a short period on *both*
  axes, whose groups approach the number of output pixels.

``method="auto"`` (default) takes the grouped path unless it needs more than
``_GROUPED_ADVANTAGE`` times the evaluations of the gathered one (the measured speed ratio); both
give the same result (tested).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MetaUpscale", "WeightPrediction", "output_length", "output_positions", "as_scale_pair"]

# Matches isovox.volume._FACTOR_EPS: a factor within this of an integer keeps its last sample.
_FACTOR_EPS = 1e-6
# Offsets closer than this are one group (a filter is predicted once per group).
_OFFSET_QUANTUM = 1e-6
METHODS = ("auto", "grouped", "gathered")
# The grouped path does ``groups * H * W`` filter evaluations in one conv2d, the gathered path
# ``H_out * W_out`` through gathers and a broadcast product; per evaluation the convolution was
# measured 10 to 15 times faster on CPU (2 cores, 8 x 32 features), so it wins until it does
# this many times more of them.
_GROUPED_ADVANTAGE = 12


def output_length(n_in: int, scale: float) -> int:
    """Output samples for ``n_in`` inputs at ``scale``: ``floor((n_in - 1) * scale) + 1``."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return int(math.floor((n_in - 1) * scale + _FACTOR_EPS)) + 1


def output_positions(n_in: int, scale: float) -> torch.Tensor:
    """Input position (float64) of every output sample: output ``j`` sits at ``j / scale``."""
    return torch.arange(output_length(n_in, scale), dtype=torch.float64) / float(scale)


def as_scale_pair(scale: float | Sequence[float]) -> tuple[float, float]:
    """``(rows, cols)``: a number scales the rows only (isovox's one-axis use), a pair each axis."""
    values = (float(scale), 1.0) if isinstance(scale, (int, float)) else tuple(float(s) for s in scale)
    if len(values) != 2 or not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"scale must be a positive number or a (rows, cols) pair, got {scale!r}")
    return values  # type: ignore[return-value]


def _anchors(positions: torch.Tensor, n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(anchor index, group index, group offsets) for float input ``positions`` on one axis."""
    # Halves round up (floor(p + 1/2)), so 0.5 and 1.5 share the offset -0.5; torch.round would
    # round them to even, giving two offsets (and two filters) for one geometric situation. The
    # tiny epsilon keeps a position computed as k + 0.4999999999 on the same side as k + 0.5.
    anchors = torch.floor(positions + 0.5 + 1e-9).clamp(0, n_in - 1)
    quantised = torch.round((positions - anchors) / _OFFSET_QUANTUM)
    levels, group = torch.unique(quantised, return_inverse=True)
    return anchors.long(), group, levels * _OFFSET_QUANTUM


class WeightPrediction(nn.Sequential):
    """Linear, ReLU, linear: ``(offset_r, offset_c, 1/s_r, 1/s_c)`` -> one 3x3 filter bank of
    shape ``(out_channels, in_channels * kernel_size**2)``, flattened (module docstring)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 64, kernel_size: int = 3):
        n_weights = out_channels * in_channels * kernel_size**2
        super().__init__(nn.Linear(4, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_weights))
        # Start from zero filters: the default init predicts filters whose sum over 9 * C taps
        # makes outputs of magnitude ~2 on unit features (initial L1 loss 2.3 on [0, 1] images),
        # and the first hundred iterations only undo that. With the interpolation skip of
        # Meta-SRGAN the network then starts as bicubic interpolation. The last layer still
        # receives gradients (its input, the hidden activations, is not zero).
        nn.init.zeros_(self[-1].weight)
        nn.init.zeros_(self[-1].bias)


class MetaUpscale(nn.Module):
    """Features (N, C, H, W) -> image (N, out_channels, H_out, W_out) at any per-axis scale.

    ``forward(features, scale)``: ``scale`` is a number (rows only) or ``(rows, cols)``; the output
    has :func:`output_length` rows and columns. ``positions=(rows, cols)`` (float input positions
    of the wanted output rows and columns) replaces the default ``arange(n_out) / scale`` so a
    caller can compute any window of the output grid, e.g. one tile of a large plane; the
    filters still see ``scale``. See the module docstring for the mapping and the two paths.
    """

    def __init__(self, in_channels: int, out_channels: int = 1, hidden: int = 64, kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.predict = WeightPrediction(in_channels, out_channels, hidden, kernel_size)

    def filters(self, offsets_r: torch.Tensor, offsets_c: torch.Tensor, scale: tuple[float, float]) -> torch.Tensor:
        """Predicted filters for every (row offset, column offset) pair: (Gr, Gc, out, C * k * k)."""
        gr, gc = len(offsets_r), len(offsets_c)
        grid = torch.stack(torch.meshgrid(offsets_r, offsets_c, indexing="ij"), dim=-1).reshape(-1, 2)
        inverse = torch.tensor([1.0 / scale[0], 1.0 / scale[1]], dtype=grid.dtype).expand(len(grid), 2)
        device, dtype = self.predict[0].weight.device, self.predict[0].weight.dtype
        codes = torch.cat([grid, inverse], dim=1).to(device=device, dtype=dtype)
        return self.predict(codes).reshape(gr, gc, self.out_channels, -1)

    def forward(self, features: torch.Tensor, scale: float | Sequence[float],
                positions: tuple[torch.Tensor, torch.Tensor] | None = None, method: str = "auto") -> torch.Tensor:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        scale = as_scale_pair(scale)
        h, w = features.shape[-2:]
        if positions is None:
            positions = (output_positions(h, scale[0]), output_positions(w, scale[1]))
        (rows, group_r, offsets_r), (cols, group_c, offsets_c) = (
            _anchors(p.to(torch.float64).cpu(), n) for p, n in zip(positions, (h, w)))
        weights = self.filters(offsets_r, offsets_c, scale)
        n_groups, n_out = weights.shape[0] * weights.shape[1], len(rows) * len(cols)
        if method == "grouped" or (method == "auto" and n_groups * h * w <= _GROUPED_ADVANTAGE * n_out):
            return self._grouped(features, weights, rows, group_r, cols, group_c)
        return self._gathered(features, weights, rows, group_r, cols, group_c)

    def _grouped(self, features, weights, rows, group_r, cols, group_c) -> torch.Tensor:
        """Convolve with every distinct filter, then pick each output pixel's response."""
        gr, gc, out, _ = weights.shape
        k, c = self.kernel_size, self.in_channels
        bank = weights.reshape(gr * gc * out, c, k, k)
        response = F.conv2d(features, bank, padding=k // 2)            # (N, Gr*Gc*out, H, W)
        n, _, h, w = response.shape
        # (N, out, Gr, H, Gc, W): each axis's group index sits beside its anchor index, so two
        # paired gathers pick (group, anchor) per output row, then per output column.
        response = response.reshape(n, gr, gc, out, h, w).permute(0, 3, 1, 4, 2, 5)
        device = features.device
        picked = response[:, :, group_r.to(device), rows.to(device)]   # (N, out, H_out, Gc, W)
        return picked[:, :, :, group_c.to(device), cols.to(device)]   # (N, out, H_out, W_out)

    def _gathered(self, features, weights, rows, group_r, cols, group_c) -> torch.Tensor:
        """Unfold the 3x3 neighbourhoods, gather them at the anchors, one dot product per pixel."""
        k, device = self.kernel_size, features.device
        n, c, h, w = features.shape
        patches = F.unfold(features, k, padding=k // 2).reshape(n, c * k * k, h, w)
        patches = patches[:, :, rows.to(device)][:, :, :, cols.to(device)]   # (N, C*k*k, H_out, W_out)
        per_pixel = weights[group_r.to(device)[:, None], group_c.to(device)[None, :]]  # (H_out, W_out, out, C*k*k)
        # Broadcast multiply and sum: three times faster on CPU than the equivalent einsum, which
        # becomes one tiny matrix product per pixel.
        return (patches.unsqueeze(1) * per_pixel.permute(2, 3, 0, 1).unsqueeze(0)).sum(dim=2)
