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
   With ``tta=True``, each plane is also predicted mirrored (columns, rows, both) and mirrored
   back (:mod:`.ensemble`): four forward passes per plane instead of one.
5. Fuse the two orientations (and the variants), map intensities back, cast to the output dtype.
   :func:`reconstruct_with_model_uncertainty` also returns the per-voxel standard deviation of
   all those predictions.

The network runs in ``precision`` (:mod:`.precision`: float32, or bfloat16 autocast); its
outputs are float32 again before they are fused.

Fusion (``fusion=``): paper 001 stacks the planes of one orientation; both axial families are
equally valid inputs, and each leaves the stacking axis untouched (no smoothing across planes),
so ``'mean'`` (default) averages the two predictions voxel by voxel, which halves independent
errors and removes the stripe pattern a single orientation leaves across its planes (as IsoNet
does, Weigert et al. 2017). A plane-family name (``'xz'``, ``'yz'``, ``'xy'``, whichever contain
the low-res axis) uses that orientation only, at half the cost.

Memory: the interpolated volume and one float32 accumulator (the running mean), both at output
size, plus the cast result at the end (the interpolated volume is released first): at most three
output-sized arrays; the uncertainty adds a fourth (the running sum of squared deviations, which
becomes the standard deviation in place). Planes are extracted, predicted and written back
``batch_size`` at a time, one family after the other.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Callable, Sequence

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
from .ensemble import Reconstruction, VoxelMoments, predict_variants, variants
from .grid import reconstruction_grid
from .precision import DEFAULT_PRECISION, check_precision
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



def reconstruct_with_model(volume: Volume, model: nn.Module, card, **options) -> Volume:
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
        tta: average the network over the four mirrored variants of every plane
            (:mod:`.ensemble`): 4x the network time.
        precision: 'fp32', 'bf16' or 'auto' (:mod:`.precision`).
    """
    return _reconstruct(volume, model, card, spread=False, **options).volume


def reconstruct_with_model_uncertainty(volume: Volume, model: nn.Module, card, **options) -> Reconstruction:
    """:func:`reconstruct_with_model` with TTA, and the per-voxel standard deviation of the
    predictions of all variants of both plane families (:mod:`.ensemble`; zero on acquired slices
    that ``keep_acquired`` puts back: they are measured, not predicted). Takes the same options
    (``tta`` is always on); needs one more float32 array of output size."""
    if not options.pop("tta", True):
        raise IsovoxError("the uncertainty is the spread of the TTA variants; it cannot be had with tta=False")
    return _reconstruct(volume, model, card, spread=True, tta=True, **options)


def _reconstruct(volume: Volume, model: nn.Module, card, *, spread: bool, device: str | torch.device = "auto",
                 batch_size: int | None = None, tile: int | Sequence[int] | None = None, halo: int | None = None,
                 fusion: str = "mean", keep_acquired: bool = False, dtype: str | np.dtype | None = None,
                 target_spacing: float | None = None, axis: int | str | None = None, progress: bool = True,
                 tta: bool = False, precision: str = DEFAULT_PRECISION) -> Reconstruction:
    """Both public functions: the reconstruction, and its spread when ``spread`` (else None)."""
    lowres, target, factor = check_card(volume, card, target_spacing, axis)
    low, high = _check_network(model, card)
    families = _fusion_families(fusion, lowres)
    check_precision(precision)
    acquired = volume.numpy()
    check_finite(acquired, "input volume")
    device = resolve_device(device)
    model.to(device)
    if device.type == "cpu":
        tune_cpu_allocator()
    if tile is not None and halo is None:
        halo = receptive_halo(model)      # once here, not per batch (a model may have no cache key)
    predict = partial(predict_planes, model, tile=tile, halo=halo, device=device, precision=precision)
    upsampled, grid = _normalised_cubic(volume, acquired, lowres, target, low, high)
    moments = VoxelMoments.zeros(upsampled.shape, spread=spread)
    flips = variants(tta)
    run = _PlaneRun(predict, flips, batch_size, tile, device)
    _predict_families(upsampled, moments, run, families, lowres, progress)
    del upsampled

    data = _denormalise(moments.mean, low, high, np.dtype(dtype) if dtype is not None else volume.dtype)
    deviation = None
    if spread:                 # in the output's intensity unit: normalisation scaled by high - low
        deviation = moments.standard_deviation(len(families) * len(flips))
        deviation *= np.float32(high - low)
    del moments
    if keep_acquired:
        _put_back_acquired(data, deviation, acquired, lowres, factor)
    return Reconstruction(volume.replace(data=data, **grid),
                          None if deviation is None else volume.replace(data=deviation, **grid))


def _check_network(model: nn.Module, card) -> tuple[float, float]:
    """The card's normalisation (low, high), once the network is known to suit slice-wise use."""
    if getattr(model, "scale", 1) != 1:
        raise IsovoxError(f"this network up-samples rows itself (scale {model.scale}); slice-wise "
                          "reconstruction feeds pre-upsampled planes and needs scale 1")
    low, high = float(card.normalisation["low"]), float(card.normalisation["high"])
    if not high > low:
        raise IsovoxError(f"model card normalisation needs high > low, got low {low:g}, high {high:g}")
    return low, high


def _normalised_cubic(volume: Volume, acquired: np.ndarray, lowres: int, target: float, low: float,
                      high: float) -> tuple[np.ndarray, dict]:
    """The network's input volume (normalised, cubic-interpolated onto the target grid, float32)
    and that grid's spacing and origin. Normalised at low resolution first: it is cheaper."""
    normalised = volume.replace(data=(acquired.astype(np.float32) - np.float32(low)) / np.float32(high - low))
    target_grid = list(volume.spacing)
    target_grid[lowres] = target
    interpolated = resample(normalised, target_grid, "cubic", dtype=np.float32)
    return interpolated.data, dict(spacing=interpolated.spacing, origin=interpolated.origin)


@dataclass(frozen=True)
class _PlaneRun:
    """How batches of planes go through the network: the prediction function, the variants of
    each plane, and the planes per pass (None: :func:`auto_batch_size` for the plane shape)."""

    predict: Callable[..., np.ndarray]
    flips: tuple[tuple[int, ...], ...]
    batch_size: int | None
    tile: int | Sequence[int] | None
    device: torch.device

    def planes_per_pass(self, plane_shape: tuple[int, int]) -> int:
        return self.batch_size or auto_batch_size(self.tile or plane_shape, self.device)


def _predict_families(upsampled: np.ndarray, moments: VoxelMoments, run: _PlaneRun, families: Sequence[str],
                      lowres: int, progress: bool) -> None:
    """Fold every variant of every plane of each family into ``moments``, one batch at a time.

    Each voxel receives its predictions in the same order (family by family, variant by
    variant), so the running count of a prediction is the same for all voxels."""
    total = sum(upsampled.shape[PLANE_AXES[f]] for f in families)
    label = "model reconstruction" + (f" (TTA x{len(run.flips)})" if len(run.flips) > 1 else "")
    bar = progress_bar(total, label, unit="plane") if progress else nullcontext(_ignore)
    with bar as advance:
        for index, family in enumerate(families):
            order = _family_axes(family, lowres)
            # Views in (plane, row, column) order: no copy of the volume, one batch at a time.
            source = np.moveaxis(upsampled, order, (0, 1, 2))
            sink = moments.oriented(order)
            step = run.planes_per_pass(source.shape[1:])
            first_count = index * len(run.flips) + 1
            for start in range(0, source.shape[0], step):
                planes = np.ascontiguousarray(source[start:start + step])
                predictions = predict_variants(partial(run.predict, batch_size=step), planes, run.flips)
                for count, prediction in enumerate(predictions, start=first_count):
                    sink[start:start + step].add(prediction, count)
                advance(planes.shape[0])


def _denormalise(fused: np.ndarray, low: float, high: float, out_dtype: np.dtype) -> np.ndarray:
    """The fused prediction in the card's intensity range, cast to ``out_dtype`` (in place first)."""
    fused *= np.float32(high - low)
    fused += np.float32(low)
    return cast_to_dtype(fused, out_dtype)


def _put_back_acquired(data: np.ndarray, deviation: np.ndarray | None, acquired: np.ndarray, lowres: int,
                       factor: float) -> None:
    """The acquired slices that lie on the output grid, written back exactly (their spread: 0)."""
    k_in, k_out = acquired_indices(acquired.shape[lowres], factor)
    put = [slice(None)] * 3
    take = [slice(None)] * 3
    put[lowres], take[lowres] = k_out, k_in
    data[tuple(put)] = cast_to_dtype(acquired[tuple(take)], data.dtype)
    if deviation is not None:
        deviation[tuple(put)] = 0
