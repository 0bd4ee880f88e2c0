"""Training losses: L1, the projected distribution loss, and A2I-3DEM's sum of the two.

A2I-3DEM (paper 001, section II-B.3, eq. 5): ``L = L1 + alpha * L_PDL`` with ``alpha = 0.01``.

Projected distribution loss (Delbracio, Talebi, Milanfar 2020, paper 001's ref. [17]): project
both images onto a set of directions, and compare, direction by direction, the *distributions*
of the projected values with the 1D Wasserstein-1 distance, which for two equal-size samples is
the mean absolute difference of the sorted values. Delbracio et al. project onto the feature
channels of a pretrained VGG. isovox ships no pretrained network, so the projections here are
(our choice, written down):

1. the pixel intensities themselves (the identity projection: intensity histograms);
2. two fixed finite differences (horizontal and vertical, 1 / sqrt(2) (x[i+1] - x[i])):
   the distribution of gradients, i.e. how sharp the edges are, which interpolation blurs;
3. ``n_random`` fixed random 3x3 filters (Gaussian taps, made zero-mean so they see structure
   rather than brightness, unit L2 norm), drawn once from ``seed``: generic local texture
   statistics in place of VGG features.

Filters are applied without padding ('valid'), so borders add no artificial values. Distances
are computed per image and per projection over all pixel positions, then averaged over
projections and images (every projection weighs the same). Comparing sorted values makes the
pixel projection blind to *where* values are: permuting pixels leaves it unchanged, which is
why it is paired with L1 (eq. 5) rather than used alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["l1_loss", "projected_distribution_loss", "projection_filters", "SelfSupLoss"]


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error (paper 001's L_l1, averaged over pixels as well as images)."""
    return (pred - target).abs().mean()


def projection_filters(n_random: int = 8, seed: int = 0, size: int = 3) -> torch.Tensor:
    """The fixed filter bank of the module docstring, shape (2 + n_random, 1, size, size)."""
    bank = torch.zeros(2, 1, size, size)
    centre = size // 2
    bank[0, 0, centre, centre], bank[0, 0, centre, centre + 1] = -1.0, 1.0   # d/dx (columns)
    bank[1, 0, centre, centre], bank[1, 0, centre + 1, centre] = -1.0, 1.0   # d/dy (rows)
    generator = torch.Generator().manual_seed(int(seed))
    random = torch.randn(n_random, 1, size, size, generator=generator)
    random = random - random.mean(dim=(2, 3), keepdim=True)
    bank = torch.cat([bank, random])
    return bank / bank.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)


def _sorted_distance(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Wasserstein-1 between the value distributions of each (image, channel): (N, C)."""
    p = torch.sort(pred.flatten(2), dim=-1).values
    t = torch.sort(target.flatten(2), dim=-1).values
    return (p - t).abs().mean(dim=-1)


def projected_distribution_loss(pred: torch.Tensor, target: torch.Tensor,
                                filters: torch.Tensor | None = None) -> torch.Tensor:
    """PDL between (N, C, H, W) batches: mean 1D Wasserstein distance over projections.

    The projections are the pixels of every channel, plus, when ``filters`` (K, 1, k, k) is
    given, each channel's 'valid' responses to every filter. ``filters=None`` compares the
    intensity distributions only (invariant to any permutation of the pixels of an image).
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    distances = [_sorted_distance(pred, target)]
    if filters is not None:
        n, c, h, w = pred.shape
        filters = filters.to(device=pred.device, dtype=pred.dtype)
        both = torch.cat([pred, target]).reshape(2 * n * c, 1, h, w)   # one conv for both
        responses = F.conv2d(both, filters).reshape(2, n, -1, h - filters.shape[-2] + 1, w - filters.shape[-1] + 1)
        distances.append(_sorted_distance(responses[0], responses[1]))
    return torch.cat(distances, dim=1).mean()


class SelfSupLoss(nn.Module):
    """``L1 + alpha * PDL`` (paper 001, eq. 5; alpha = 0.01 as in the paper).

    The PDL uses :func:`projection_filters` (``n_random`` random filters from ``seed``) as a
    buffer, so the bank moves with ``.to(device)`` and is identical on every run. The last
    components are kept in :attr:`last` as detached tensors (no device sync per step).
    """

    def __init__(self, alpha: float = 0.01, n_random: int = 8, seed: int = 0) -> None:
        super().__init__()
        if not (math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)
        self.register_buffer("filters", projection_filters(n_random, seed), persistent=False)
        self.last: dict[str, torch.Tensor] = {}

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = pred.float(), target.float()      # sorting and sums in float32 under AMP
        l1 = l1_loss(pred, target)
        if self.alpha == 0:
            self.last = {"l1": l1.detach()}
            return l1
        pdl = projected_distribution_loss(pred, target, self.filters)
        self.last = {"l1": l1.detach(), "pdl": pdl.detach()}
        return l1 + self.alpha * pdl

    def describe(self) -> dict:
        return {"loss": "l1 + alpha * pdl", "alpha": self.alpha,
                "pdl_projections": f"pixels, d/dx, d/dy, {self.filters.shape[0] - 2} random zero-mean 3x3 filters"}
