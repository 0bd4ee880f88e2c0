"""Arbitrary-scale reconstruction: one model folder, any target spacing (Meta-SRGAN, paper 002).

:class:`ArbitraryScaleModel` (opened by :func:`.folder.open_model`; :func:`reconstruct_arbitrary` opens and
runs a folder in one call) runs a network trained by
:func:`isovox.training.recipes.arbitrary_scale.train_arbitrary_scale` slice-wise, like
:mod:`.slicewise`, with one difference: the network receives the *acquired* axial planes (rows =
the low-resolution axis, not interpolated) and the factor ``spacing / target`` per call, so the
same folder serves 2, 3.3 or 6.25.

Grid: exactly that of ``isovox.reconstruct(volume, 'cubic', target_spacing=...)`` (the convention
of :mod:`isovox.volume`): acquired slice ``k`` lands on output index ``k * f`` and there are
``floor((n - 1) * f) + 1`` output slices; the Meta-Upscale module maps output row ``j`` to input
position ``j / f`` (:mod:`isovox.models.meta_upscale`). Both axial plane families are predicted
and averaged voxel by voxel (the ``'mean'`` fusion of :mod:`.slicewise`, for the same reasons).

Scales outside the range the model was trained on (the card's ``degradation['scales']``, 1.1
to 4.0 by default) give a warning, not an error: the weight prediction network extrapolates,
and how well is for the user to judge (the benchmark measures 5 and 6).

``tile`` (output pixels, an int or (rows, cols)) cuts each plane into tiles computed with the
``positions`` argument of the network on an input window with ``receptive_radius`` low-res
pixels of margin, so a tiled result equals the whole-plane one (tested).
"""

from __future__ import annotations

import math
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import IsovoxError
from ..models.meta_upscale import output_length
from ..progress import progress_bar
from ..device import resolve_device
from ..store import load_model, read_card
from ..volume import PLANE_AXES, Volume, planes_containing
from .grid import Grid, lowres_target, reconstruction_grid
from .model import Prediction, Reach, ReconstructionModel, RunOptions
from .slicewise import auto_batch_size
from .tiling import size_multiple

__all__ = ["ArbitraryScaleModel", "reconstruct_arbitrary", "predict_scaled_planes"]

METHOD = "arbitrary-scale"
_RANGE_TOLERANCE = 1e-6


def _check_range(factor: float, card) -> None:
    low, high = card.degradation.get("scales", [None, None])
    if low is not None and not low - _RANGE_TOLERANCE <= factor <= high + _RANGE_TOLERANCE:
        warnings.warn(f"factor {factor:g} lies outside the scales this model was trained on ({low:g} to {high:g}); "
                      "the result is an extrapolation", stacklevel=3)


def _fixed_scale_check(network: torch.nn.Module, factor: float) -> None:
    if getattr(network, "col_scale", 1) != 1 or abs(factor - network.scale) > 1e-3 * network.scale:
        raise IsovoxError(f"this model up-samples by a fixed {network.scale} x {getattr(network, 'col_scale', 1)}; "
                          f"the volume needs {factor:g} along one axis; use a Meta-SRGAN model for other factors")


@torch.no_grad()
def predict_scaled_planes(network: torch.nn.Module, planes: np.ndarray, factor: float, *,
                          tile: int | Sequence[int] | None = None, device: torch.device) -> np.ndarray:
    """Planes (B, h, w) -> (B, floor((h - 1) * factor) + 1, w): rows up-sampled by ``factor``."""
    x = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))[:, None].to(device)
    n_out = output_length(planes.shape[1], factor)
    if getattr(network, "convention", None) != METHOD:          # fixed-scale SRGAN: cut to the grid
        return network(x)[:, 0, :n_out].float().cpu().numpy()
    if tile is None:
        return network(x, (factor, 1.0))[:, 0].float().cpu().numpy()
    rows_core, cols_core = (int(tile), int(tile)) if np.ndim(tile) == 0 else (int(tile[0]), int(tile[1]))
    if min(rows_core, cols_core) < 1:
        raise IsovoxError(f"tile must be positive, got {tile}")
    halo, (h, w) = network.receptive_radius, planes.shape[1:]
    out = np.empty((len(planes), n_out, w), np.float32)
    for j0 in range(0, n_out, rows_core):
        j1 = min(n_out, j0 + rows_core)
        r0 = max(0, math.floor(j0 / factor) - halo)
        r1 = min(h, math.ceil((j1 - 1) / factor) + halo + 1)
        rows = torch.arange(j0, j1, dtype=torch.float64) / factor - r0
        for c0 in range(0, w, cols_core):
            c1 = min(w, c0 + cols_core)
            s0, s1 = max(0, c0 - halo), min(w, c1 + halo)
            cols = torch.arange(c0, c1, dtype=torch.float64) - s0
            y = network(x[:, :, r0:r1, s0:s1], (factor, 1.0), positions=(rows, cols))
            out[:, j0:j1, c0:c1] = y[:, 0].float().cpu().numpy()
    return out


class ArbitraryScaleModel(ReconstructionModel):
    """A Meta-Upscale network (or a fixed-scale SRGAN) run over the acquired axial planes."""

    kind = METHOD
    bytes_per_voxel = 12       # the running sum, the cast result, the input planes

    def grid(self, volume: Volume, target_spacing=None, axis=None) -> Grid:
        """Any factor (a warning outside the trained range); a fixed-scale network needs its own."""
        lowres = reconstruction_grid(volume, None, axis).axis
        grid = reconstruction_grid(volume, lowres_target(volume, target_spacing, axis), lowres)
        _check_range(grid.factor, self.card)
        if getattr(self.network, "convention", None) != METHOD:
            _fixed_scale_check(self.network, grid.factor)
        return grid

    @classmethod
    def check_options(cls, options: RunOptions, uncertainty: bool = False) -> None:
        super().check_options(options, uncertainty)
        if options.precision == "bf16":
            raise IsovoxError("arbitrary-scale models run in float32 only; use precision fp32 or auto")

    def reach(self, grid: Grid) -> Reach:
        """The network reads ``receptive_radius`` acquired pixels around each output position
        (rows ``floor(j / f) - R`` to ``ceil(j / f) + R``): a halo on the lateral axes only, and
        one more row than that along the low-resolution axis."""
        if not hasattr(self.network, "receptive_radius"):
            raise IsovoxError(f"{self.folder} holds a fixed-scale network without a receptive radius; "
                              "it cannot be run block by block")
        radius = int(self.network.receptive_radius)
        halo = tuple(0 if a == grid.axis else radius for a in range(3))
        return Reach(halo, kernel_radius=radius + 1, multiple=size_multiple(self.network))  # type: ignore[arg-type]

    def _predict(self, normalised: np.ndarray, volume: Volume, grid: Grid, options: RunOptions,
                 spread: bool) -> Prediction:
        lowres, factor, device = grid.axis, grid.factor, self.device
        fused = np.zeros(grid.output_shape(volume.shape), np.float32)
        families = planes_containing(lowres)
        total = sum(volume.shape[PLANE_AXES[f]] for f in families)
        bar = progress_bar(total, "arbitrary-scale reconstruction", unit="plane") if options.progress \
            else nullcontext(lambda n: None)
        with bar as advance:
            for family in families:
                stacked = PLANE_AXES[family]
                order = (stacked, lowres, 3 - stacked - lowres)     # (plane, rows = low-res axis, columns)
                source = np.moveaxis(normalised, order, (0, 1, 2))
                sink = np.moveaxis(fused, order, (0, 1, 2))
                step = options.batch_size or auto_batch_size(options.tile or sink.shape[1:], device)
                for start in range(0, source.shape[0], step):
                    sink[start:start + step] += predict_scaled_planes(
                        self.network, source[start:start + step], factor, tile=options.tile, device=device)
                    advance(min(step, source.shape[0] - start))
        fused /= np.float32(len(families))
        return Prediction(fused)


def reconstruct_arbitrary(volume: Volume, folder: str | Path, *, target_spacing: float | Sequence[float] | None = None,
                          axis: int | str | None = None, dtype: str | np.dtype | None = None, device: str = "auto",
                          batch_size: int | None = None, tile: int | Sequence[int] | None = None,
                          keep_acquired: bool = False, progress: bool = True) -> Volume:
    """Reconstruct ``volume`` at any ``target_spacing`` with an arbitrary-scale model folder.

    ``target_spacing`` (volume's unit): a scalar for the low-resolution axis, or three values that
    leave the other axes unchanged; default the finest lateral spacing. ``axis``: the low-res
    axis (default the coarsest). ``tile``: output tile size for large planes (exact).
    ``keep_acquired`` writes the acquired slices back at output indices ``k * factor``.
    ``dtype`` defaults to the input's (integers rounded and clipped).
    """
    card = read_card(folder)
    if card.method != METHOD:
        raise IsovoxError(f"{folder} holds a {card.method!r} model; reconstruct_arbitrary needs an "
                          f"'{METHOD}' model (use isovox.reconstruct(volume, model=...) for others)")
    network, card = load_model(folder, device=resolve_device(device))
    model = ArbitraryScaleModel(network, card, folder)
    return model.reconstruct(volume, target_spacing, axis, dtype, batch_size=batch_size, tile=tile,
                             keep_acquired=keep_acquired, progress=progress)


def reconstruct_with_arbitrary_model(volume: Volume, network: torch.nn.Module, card, *,
                                     target_spacing: float | Sequence[float] | None = None,
                                     axis: int | str | None = None, dtype: str | np.dtype | None = None,
                                     device: str | torch.device = "auto", **options) -> Volume:
    """:func:`reconstruct_arbitrary` with a network already loaded (``store.load_model``);
    ``options``: those of :class:`.model.RunOptions`."""
    model = ArbitraryScaleModel(network, card).to(device)
    return model.reconstruct(volume, target_spacing, axis, dtype, **options)
