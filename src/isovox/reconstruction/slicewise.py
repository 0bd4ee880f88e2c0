"""Slice-wise reconstruction with a trained 2D network (paper 001, sec. II-A and Fig. 2 D).

Fig. 2 D of A2I-3DEM: "3D interpolation is employed to resize the anisotropic 3DEM data, aligning
it with the size of the desired 3D isotropic data. Subsequently, the trained network is
consecutively fed with each slice from the interpolated data's axial plane, and the resultant
outputs are stacked together". :func:`reconstruct_with_model` does exactly that:

1. Check the volume against the model card: the spacing ratio along the low-resolution axis must
   be the factor the network was trained for (within 1e-3, relative).
2. Normalise intensities with the card's ``low``/``high`` (float32), as training did.
3. Interpolate the low-resolution axis to the target grid with cubic (Keys, a = -0.5), through
   :func:`isovox.resample.resample`: the grid convention of :mod:`isovox.volume`, so acquired
   slice ``k`` lands on output index ``k * factor`` and the result has the geometry of
   ``reconstruct(volume, 'cubic')``.
4. Run the network over every plane of the two *axial* plane families (the families that contain
   the low-resolution axis: xz and yz when z is low-res), with rows = the low-resolution axis
   and columns = the other in-plane axis, as the network saw its training planes.
5. Fuse the two orientations, map intensities back, cast to the output dtype.

Fusion (``fusion=``): paper 001 stacks the planes of one orientation; both axial families are
equally valid inputs, and each leaves the stacking axis untouched (no smoothing across planes),
so ``'mean'`` (default) averages the two predictions voxel by voxel, which halves independent
errors and removes the stripe pattern a single orientation leaves across its planes (as IsoNet
does, Weigert et al. 2017). A plane-family name (``'xz'``, ``'yz'``, ``'xy'``, whichever contain
the low-res axis) uses that orientation only, at half the cost.

Memory: the interpolated volume and one float32 accumulator, both at output size, plus the cast
result at the end (the interpolated volume is released first): at most three output-sized arrays.
Planes are extracted, predicted and written back ``batch_size`` at a time, one family after the
other.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..device import resolve_device
from ..errors import IsovoxError
from ..progress import progress_bar
from ..resample import cast_to_dtype, resample
from ..runtime import tune_cpu_allocator
from ..units import conversion_factor
from ..volume import (AXIS_NAMES, PLANE_AXES, Volume, check_finite, input_positions, planes_containing,
                      resampling_factor)
from .grid import reconstruction_grid
from .tiling import predict_planes, receptive_halo

FACTOR_RTOL = 1e-3


def check_card(volume: Volume, card, target_spacing: float | None = None,
               axis: int | str | None = None) -> tuple[int, float, float]:
    """(low-res axis, target spacing in the volume's unit, factor) for ``volume`` and ``card``.

    ``target_spacing`` (volume's unit) defaults to the card's target. The factor it implies,
    ``spacing[lowres] / target``, must equal the card's factor: the network only knows that one.
    Raises for an isotropic volume (via :func:`reconstruction_grid`).
    """
    lowres, _ = reconstruction_grid(volume, None, axis)
    to_volume_unit = conversion_factor(card.unit, volume.unit)
    target = card.target_spacing * to_volume_unit if target_spacing is None else float(target_spacing)
    spacing = volume.spacing[lowres]
    factor = resampling_factor(spacing, target)
    if abs(factor - card.factor) > FACTOR_RTOL * card.factor:
        raise IsovoxError(
            f"model folder was trained for factor {card.factor:g} ({card.lowres_spacing:g} -> "
            f"{card.target_spacing:g} {card.unit}) but this volume needs {factor:g} ({spacing:g} -> "
            f"{target:g} {volume.unit}); retrain for this volume or give a target spacing of "
            f"{spacing / card.factor:g} {volume.unit}")
    return lowres, target, factor


def _ignore(n: int) -> None:
    """Progress callback when no bar is wanted."""


def _family_axes(family: str, lowres: int) -> tuple[int, int, int]:
    """(stacking axis, row axis, column axis) of a plane family: rows = the low-res axis."""
    stacked = PLANE_AXES[family]
    other = 3 - stacked - lowres
    return stacked, lowres, other


def _fusion_families(fusion: str, lowres: int) -> tuple[str, ...]:
    families = planes_containing(lowres)
    if fusion == "mean":
        return families
    if fusion in families:
        return (fusion,)
    raise IsovoxError(f"unknown fusion {fusion!r} for low-resolution axis {AXIS_NAMES[lowres]}; "
                      f"choose 'mean' or one of {', '.join(families)}")


def acquired_indices(n_in: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(input index k, output index k * factor) of the acquired slices that lie on the output grid."""
    positions = np.arange(n_in) * factor
    on_grid = np.abs(positions - np.rint(positions)) < 1e-6 * max(1.0, factor)
    outputs = np.rint(positions[on_grid]).astype(np.int64)
    n_out = len(input_positions(n_in, factor))
    keep = outputs < n_out
    return np.flatnonzero(on_grid)[keep], outputs[keep]


# Pixels per forward pass when the batch size is left to isovox. On CPU, batches of large planes
# are slower, not faster: 8 planes of 249 x 250 took 2.3x longer per plane than 1-2 (measured on
# 2 cores with drcnet), as every layer's activations become fresh page-faulted allocations. On a
# GPU, larger batches keep the device busy.
_PIXELS_PER_PASS = {"cpu": 1 << 17, "cuda": 1 << 22}


def auto_batch_size(plane_shape: int | Sequence[int], device: torch.device) -> int:
    """Planes per forward pass for planes (or tiles) of ``plane_shape`` on ``device``."""
    rows, cols = (plane_shape, plane_shape) if np.ndim(plane_shape) == 0 else plane_shape
    budget = _PIXELS_PER_PASS["cuda" if device.type == "cuda" else "cpu"]
    return max(1, budget // max(1, int(rows) * int(cols)))


def reconstruct_with_model(volume: Volume, model: nn.Module, card, *, device: str | torch.device = "auto",
                           batch_size: int | None = None, tile: int | Sequence[int] | None = None,
                           halo: int | None = None, fusion: str = "mean", keep_acquired: bool = False,
                           dtype: str | np.dtype | None = None, target_spacing: float | None = None,
                           axis: int | str | None = None, progress: bool = True) -> Volume:
    """Isotropic volume from ``volume`` with a trained pre-upsampled 2D network (see module doc).

    Args:
        model, card: the network and its :class:`isovox.store.ModelCard` (``store.load_model``).
        device: 'auto' (CUDA if available, else CPU) or a torch device; the model is moved there.
        batch_size: planes (or tiles) per forward pass; None picks :func:`auto_batch_size`.
        tile, halo: tile core size and halo of :func:`tiling.predict_planes` (None: whole planes;
            a tiled result equals the whole-plane one).
        fusion: 'mean' of the two axial orientations, or one plane family name (module doc).
        keep_acquired: write the acquired slices back, exactly, at output indices ``k * factor``
            (the slices that lie on the output grid; all of them for an integer factor).
        dtype: output dtype, default the input's; integers are rounded and clipped.
        target_spacing: spacing of the low-res axis after reconstruction, in the volume's unit;
            default the card's. It must give the card's factor.
        axis: the low-resolution axis, default the one with the coarsest spacing.
        progress: show a progress bar over planes (when bars are enabled, see isovox.progress).
    """
    lowres, target, factor = check_card(volume, card, target_spacing, axis)
    if getattr(model, "scale", 1) != 1:
        raise IsovoxError(f"this network up-samples rows itself (scale {model.scale}); slice-wise "
                          "reconstruction feeds pre-upsampled planes and needs scale 1")
    low, high = float(card.normalisation["low"]), float(card.normalisation["high"])
    if not high > low:
        raise IsovoxError(f"model card normalisation needs high > low, got low {low:g}, high {high:g}")
    families = _fusion_families(fusion, lowres)
    out_dtype = np.dtype(dtype) if dtype is not None else volume.dtype
    acquired = volume.numpy()
    check_finite(acquired, "input volume")
    device = resolve_device(device)
    model.to(device)
    if device.type == "cpu":
        tune_cpu_allocator()
    if tile is not None and halo is None:
        halo = receptive_halo(model)      # once here, not per batch (a model may have no cache key)

    # Normalise at low resolution (cheap), then interpolate onto the target grid in float32.
    normalised = volume.replace(data=(acquired.astype(np.float32) - np.float32(low)) / np.float32(high - low))
    target_grid = list(volume.spacing)
    target_grid[lowres] = target
    interpolated = resample(normalised, target_grid, "cubic", dtype=np.float32)
    grid = dict(spacing=interpolated.spacing, origin=interpolated.origin)
    upsampled = interpolated.data
    del normalised, interpolated          # keep only the array, so it can be freed below
    fused = np.zeros(upsampled.shape, dtype=np.float32)

    total = sum(upsampled.shape[PLANE_AXES[f]] for f in families)
    bar = progress_bar(total, "model reconstruction", unit="plane") if progress else nullcontext(_ignore)
    with bar as advance:
        for family in families:
            order = _family_axes(family, lowres)
            # Views in (plane, row, column) order: no copy of the volume, one batch at a time.
            source = np.moveaxis(upsampled, order, (0, 1, 2))
            target_view = np.moveaxis(fused, order, (0, 1, 2))
            batch_size = batch_size or auto_batch_size(tile or source.shape[1:], device)
            for start in range(0, source.shape[0], batch_size):
                planes = np.ascontiguousarray(source[start:start + batch_size])
                target_view[start:start + batch_size] += predict_planes(
                    model, planes, tile=tile, halo=halo, batch_size=batch_size, device=device)
                advance(planes.shape[0])
    del upsampled, source, target_view

    # Mean of the orientations and the inverse normalisation in one in-place pass.
    fused *= np.float32((high - low) / len(families))
    fused += np.float32(low)
    data = cast_to_dtype(fused, out_dtype)
    del fused
    if keep_acquired:
        k_in, k_out = acquired_indices(volume.shape[lowres], factor)
        put = [slice(None)] * 3
        take = [slice(None)] * 3
        put[lowres], take[lowres] = k_out, k_in
        data[tuple(put)] = cast_to_dtype(acquired[tuple(take)], out_dtype)
    return volume.replace(data=data, **grid)
