"""Latent-space slice interpolation with a trained :class:`~isovox.models.vae.SliceVAE` (paper 003).

Section 2.2.2 of Xuan et al.: encode two neighbouring acquired slices, take their posterior means
``mu_n`` and ``mu_{n+1}``, interpolate linearly ``z_hat = (1 - xi) mu_n + xi mu_{n+1}`` for ``xi``
in (0, 1), decode, and stack the slices: a synthesized volume with ``factor`` times more slices.
This module also holds the two Gaussian KL divergences of the VAE losses (eq. 5 and 8) and the
latent distances d1, d2, d3 of paper 003 Fig. 9.

Grid (the convention of :mod:`isovox.volume`): output slice ``j`` sits at acquired index
``u = j / factor``; acquired slice ``k`` lands on output index ``k * factor``, and the output has
``floor((n - 1) * factor) + 1`` slices. Output ``j`` interpolates slices ``n = floor(u)`` and
``n + 1`` with ``xi = u - n`` (the last slice is acquired slice ``N - 1`` itself, ``xi = 1`` of
the last pair). Any factor > 1 works, non-integer ones too.

Planes larger than the VAE's ``slice_size`` (the VAE ends in a fully connected layer, so its
slice size is fixed): each plane is cut into square tiles of ``slice_size`` that overlap by
``overlap`` pixels, each tile is encoded, interpolated and decoded on its own, and the decoded
tiles are blended with a trapezoid window (weight ramping linearly over the overlap, 1 inside),
normalised by the summed weights, so seams fade instead of jumping. A plane smaller than a tile
along an axis is reflect-padded to the tile size and cropped back. The same tiles are used for
every slice of a volume, so interpolation pairs codes of the same tile position.

Two synthesis modes (``mode=``):

* ``'decoded'`` (paper 003): every output slice is decoded, the acquired positions too
  (``D(mu_n)``), so the synthesized volume is VAE output throughout; section 3.3 notes the
  acquired slices are then altered as well.
* ``'residual'`` (isovox's addition for small VAEs): the decoder's misfit of each acquired slice,
  ``r_n = x_n - D(mu_n)``, is interpolated along the slice axis with cubic (Keys, the
  interpolation of :func:`isovox.reconstruct`) and added back:
  ``x_hat_{n+xi} = D(z_hat_{n+xi}) + cubic(r)(n + xi)``. Acquired slices are then kept exactly,
  detail a small VAE cannot reproduce is carried over from them instead of being lost, and the
  latent interpolation contributes only what differs from image-space interpolation of the
  decoded slices (the morphing of structures): a VAE whose decoder were linear along the latent
  path would give back cubic interpolation exactly.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from .device import model_device
from .errors import IsovoxError
from .intensity import Normalisation
from .resample import apply_along_axis, resampling_matrix
from .volume import Volume, axis_index, output_length

__all__ = ["SYNTHESIS_MODES", "kl_to_standard_normal", "kl_between", "tile_starts", "tile_window",
           "PlaneTiles", "interpolation_positions", "synthesize_slices", "synthesize_volume",
           "latent_distances"]

SYNTHESIS_MODES = ("decoded", "residual")
_FACTOR_EPS = 1e-6


# --- the KL terms of the VAE losses -------------------------------------------------------------

def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, sigma^2) || N(0, I))`` per sample (summed over latent dimensions): eq. 5."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def kl_between(mu_p: torch.Tensor, logvar_p: torch.Tensor, mu_q: torch.Tensor,
               logvar_q: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu_p, sigma_p^2) || N(mu_q, sigma_q^2))`` per sample, diagonal Gaussians: eq. 8."""
    return 0.5 * (logvar_q - logvar_p + (logvar_p.exp() + (mu_p - mu_q).pow(2)) / logvar_q.exp()
                  - 1.0).sum(dim=-1)


# --- tiles ----------------------------------------------------------------------------------------

def tile_starts(length: int, size: int, overlap: int) -> list[int]:
    """First pixels of tiles of ``size`` covering ``length`` with at least ``overlap`` shared."""
    if not 0 <= overlap < size:
        raise IsovoxError(f"tile overlap must lie in [0, {size - 1}], got {overlap}")
    if length <= size:
        return [0]
    stride = size - overlap
    count = math.ceil((length - size) / stride) + 1
    # Spread the tiles evenly: the overlap is then the same everywhere, at least ``overlap``.
    return [int(round(i * (length - size) / (count - 1))) for i in range(count)]


def tile_window(size: int, overlap: int) -> np.ndarray:
    """Trapezoid blending weights (size,): linear ramps over ``overlap`` pixels, 1 inside."""
    ramp = np.minimum(np.arange(1, size + 1), np.arange(size, 0, -1)) / (overlap + 1.0)
    return np.minimum(1.0, ramp).astype(np.float32)


class PlaneTiles:
    """Cut planes (N, H, W) into tiles (N, T, S, S) and blend tiles back into planes."""

    def __init__(self, plane_shape: Sequence[int], size: int, overlap: int) -> None:
        self.shape = tuple(int(n) for n in plane_shape)
        self.size = int(size)
        self.padded = tuple(max(n, self.size) for n in self.shape)
        rows, cols = (tile_starts(n, self.size, overlap) for n in self.padded)
        self.starts = [(r, c) for r in rows for c in cols]
        window = tile_window(self.size, overlap)
        self.window = window[:, None] * window[None, :]
        coverage = np.zeros(self.padded, np.float32)
        for r, c in self.starts:
            coverage[r:r + self.size, c:c + self.size] += self.window
        self.coverage = coverage

    @property
    def count(self) -> int:
        return len(self.starts)

    def cut(self, planes: np.ndarray) -> np.ndarray:
        pad = [(0, 0)] + [(0, p - n) for p, n in zip(self.padded, self.shape)]
        planes = np.pad(planes, pad, mode="reflect") if any(p for _, p in pad) else planes
        s = self.size
        return np.stack([planes[:, r:r + s, c:c + s] for r, c in self.starts], axis=1)

    def blend(self, tiles: np.ndarray) -> np.ndarray:
        """Weighted average of overlapping tiles (N, T, S, S) -> planes (N, H, W)."""
        out = np.zeros((tiles.shape[0], *self.padded), np.float32)
        s = self.size
        for t, (r, c) in enumerate(self.starts):
            out[:, r:r + s, c:c + s] += tiles[:, t] * self.window
        out /= self.coverage
        return out[:, :self.shape[0], :self.shape[1]]


# --- encode and decode many tiles -----------------------------------------------------------------

@torch.no_grad()
def _encode(vae: torch.nn.Module, tiles: np.ndarray, batch_size: int) -> np.ndarray:
    """Posterior means of tiles (..., S, S) -> (..., latent)."""
    flat = tiles.reshape(-1, 1, *tiles.shape[-2:])
    device = model_device(vae)
    codes = [vae.encode(torch.from_numpy(np.ascontiguousarray(flat[i:i + batch_size])).to(device))[0].cpu()
             for i in range(0, len(flat), batch_size)]
    return torch.cat(codes).numpy().reshape(*tiles.shape[:-2], -1)


@torch.no_grad()
def _decode(vae: torch.nn.Module, codes: np.ndarray, batch_size: int) -> np.ndarray:
    """Tiles (..., S, S) from codes (..., latent)."""
    flat = codes.reshape(-1, codes.shape[-1])
    device = model_device(vae)
    tiles = [vae.decode(torch.from_numpy(np.ascontiguousarray(flat[i:i + batch_size])).to(device)).cpu()
             for i in range(0, len(flat), batch_size)]
    size = vae.slice_size
    return torch.cat(tiles).numpy().reshape(*codes.shape[:-1], size, size)


# --- interpolation --------------------------------------------------------------------------------

def interpolation_positions(n_slices: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """For every output slice: the lower acquired slice ``n`` and the weight ``xi`` of ``n + 1``."""
    if n_slices < 2:
        raise IsovoxError(f"latent interpolation needs at least 2 acquired slices, got {n_slices}")
    if not factor > 1:
        raise IsovoxError(f"factor must be > 1 to add slices, got {factor}")
    u = np.arange(output_length(n_slices, factor)) / float(factor)
    lower = np.minimum(np.floor(u + _FACTOR_EPS).astype(int), n_slices - 2)
    return lower, np.clip(u - lower, 0.0, 1.0)


def synthesize_slices(vae: torch.nn.Module, planes: np.ndarray, factor: float, *, mode: str = "residual",
                      overlap: int | None = None, batch_size: int = 64) -> np.ndarray:
    """Normalised acquired planes (N, H, W) -> synthesized planes (n_out, H, W), float32.

    See the module docstring for the grid, the tiles and the two modes. ``overlap`` defaults to
    a quarter of the VAE's slice size.
    """
    if mode not in SYNTHESIS_MODES:
        raise IsovoxError(f"unknown synthesis mode {mode!r}; choose one of {', '.join(SYNTHESIS_MODES)}")
    planes = np.asarray(planes, dtype=np.float32)
    if planes.ndim != 3:
        raise IsovoxError(f"planes must be (N, H, W), got shape {planes.shape}")
    lower, xi = interpolation_positions(len(planes), factor)
    tiles = PlaneTiles(planes.shape[1:], vae.slice_size, vae.slice_size // 4 if overlap is None else overlap)
    was_training = vae.training
    vae.eval()
    try:
        acquired = tiles.cut(planes)                               # (N, T, S, S)
        mu = _encode(vae, acquired, batch_size)                    # (N, T, L)
        if mode == "residual":
            misfit = planes - tiles.blend(_decode(vae, mu, batch_size))
            carried = resampling_matrix(len(planes), lower + xi, "cubic")
        out = np.empty((len(lower), *planes.shape[1:]), np.float32)
        chunk = max(1, batch_size // tiles.count)                  # output slices decoded at once
        for start in range(0, len(lower), chunk):
            n, w = lower[start:start + chunk], xi[start:start + chunk].astype(np.float32)
            codes = (1 - w)[:, None, None] * mu[n] + w[:, None, None] * mu[n + 1]
            out[start:start + chunk] = tiles.blend(_decode(vae, codes, batch_size))
            if mode == "residual":
                out[start:start + chunk] += apply_along_axis(misfit, carried[start:start + chunk], 0)
    finally:
        vae.train(was_training)
    return out


def synthesize_volume(vae: torch.nn.Module, volume: Volume, factor: float, axis: int | str,
                      norm: Normalisation | dict, *,
                      mode: str = "residual", overlap: int | None = None, batch_size: int = 64) -> Volume:
    """The synthesized HR volume of ``volume`` (slices along ``axis``), float32, original units.

    ``norm`` (a :class:`~isovox.intensity.Normalisation` or its card form ``{'low', 'high'}``)
    maps intensities to the VAE's range and back. The result lies
    on the grid of :mod:`isovox.volume` (spacing along ``axis`` divided by ``factor``, origin kept).
    """
    axis = axis_index(axis)
    norm = Normalisation.from_dict(norm)
    planes = norm.apply(np.moveaxis(np.asarray(volume.data), axis, 0))
    slices = synthesize_slices(vae, planes, factor, mode=mode, overlap=overlap, batch_size=batch_size)
    data = np.moveaxis(norm.invert(slices), 0, axis)
    grid = [1.0, 1.0, 1.0]
    grid[axis] = 1.0 / factor
    return volume.on_new_grid(np.ascontiguousarray(data, dtype=np.float32), scale=grid)


# --- paper 003 Fig. 9 -----------------------------------------------------------------------------

def latent_distances(vae: torch.nn.Module, planes: np.ndarray, factor: int, *, overlap: int | None = None,
                     batch_size: int = 64) -> dict:
    """Distances d1, d2, d3 of paper 003 Fig. 9 on normalised HR planes (M, H, W).

    Slices ``0, K, 2K, ...`` (``K = factor``, an integer) play the acquired LR slices; the ones
    between are the ground truth of the missing slices. With ``mu_j`` the posterior mean of HR
    slice ``j`` (one code per tile, the same tiles as synthesis) and, for acquired neighbours
    ``n K`` and ``(n + 1) K``, ``z_hat_{n+xi} = (1 - xi) mu_{nK} + xi mu_{(n+1)K}``:

    * ``d1``: Euclidean distance between ``mu_{nK+i}`` and ``z_hat_{n+xi}``, ``xi = i / K``,
      over the ``xi`` other than 1/2 (1/4 and 3/4 for K = 4);
    * ``d2``: the same at ``xi = 1/2`` (K even);
    * ``d3``: distance between the codes of two neighbouring HR slices, ``|mu_j - mu_{j+1}|``.

    Returns mean and standard deviation of each over all slice pairs and tiles, the number of
    distances, and ``code_norm`` (mean ``|mu|``, the scale the distances are read against).
    """
    if int(factor) != factor or factor < 2:
        raise IsovoxError(f"latent distances need an integer factor >= 2, got {factor}")
    k = int(factor)
    planes = np.asarray(planes, dtype=np.float32)
    if len(planes) < k + 1:
        raise IsovoxError(f"latent distances need at least {k + 1} HR slices, got {len(planes)}")
    tiles = PlaneTiles(planes.shape[1:], vae.slice_size, vae.slice_size // 4 if overlap is None else overlap)
    was_training = vae.training
    vae.eval()
    try:
        mu = _encode(vae, tiles.cut(planes), batch_size)              # (M, T, L)
    finally:
        vae.train(was_training)
    pairs = (len(planes) - 1) // k
    side, middle = [], []
    for i in range(1, k):
        xi = i / k
        ends = np.arange(pairs) * k
        estimate = (1 - xi) * mu[ends] + xi * mu[ends + k]
        distance = np.linalg.norm(mu[ends + i] - estimate, axis=-1).ravel()
        (middle if 2 * i == k else side).append(distance)
    neighbours = np.linalg.norm(np.diff(mu[:pairs * k + 1], axis=0), axis=-1).ravel()

    def stats(values: list[np.ndarray] | np.ndarray) -> dict | None:
        if isinstance(values, list):
            if not values:
                return None
            values = np.concatenate(values)
        return {"mean": float(values.mean()), "sd": float(values.std()), "count": int(values.size)}

    return {"d1": stats(side), "d2": stats(middle), "d3": stats(neighbours), "factor": k,
            "code_norm": float(np.linalg.norm(mu, axis=-1).mean()), "tiles": tiles.count}
