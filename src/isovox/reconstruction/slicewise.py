"""Slice-wise reconstruction with a trained 2D network (paper 001, sec. II-A and Fig. 2 D).

Fig. 2 D of A2I-3DEM: "3D interpolation is employed to resize the anisotropic 3DEM data, aligning
it with the size of the desired 3D isotropic data. Subsequently, the trained network is
consecutively fed with each slice from the interpolated data's axial plane, and the resultant
outputs are stacked together". :class:`SliceModel` (opened from a model folder by :func:`.folder.open_model`) does exactly that:

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
5. Fuse the two orientations (and the variants), map intensities back, cast to the output dtype
   (the steps every kind shares, :class:`.model.ReconstructionModel`). With the uncertainty, the
   per-voxel spread of all those predictions comes too, with the output's misfit to the acquired
   sections added when the card records their slice profile (:mod:`.ensemble`, :mod:`.misfit`).

:func:`reconstruct_with_model` runs a network already in hand (with its card) the same way.

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
becomes the uncertainty in place) and keeps the normalised input (1/factor of the output); the
misfit's re-acquisition and spreading take one more output-sized array each, one after the other,
once the interpolated volume is released. Planes are extracted, predicted and written back
``batch_size`` at a time, one family after the other.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import IsovoxError
from ..progress import progress_bar
from ..resample import resample
from ..volume import AXIS_NAMES, PLANE_AXES, Volume, planes_containing
from .ensemble import Reconstruction, VoxelMoments, predict_variants, uncertainty, variants
from .grid import Grid, lowres_target, reconstruction_grid
from .misfit import card_profile, misfit_reach, misfit_variance
from .model import CUBIC_RADIUS, Prediction, Reach, ReconstructionModel, RunOptions, card_target, check_factor
from .tiling import predict_planes, receptive_halo, size_multiple

def check_card(volume: Volume, card, target_spacing: float | Sequence[float] | None = None,
               axis: int | str | None = None) -> Grid:
    """The :class:`~.grid.Grid` of ``volume`` for a one-axis model with ``card``.

    ``target_spacing`` (volume's unit; one value, or three that leave the other axes alone)
    defaults to the card's target. The factor it implies, ``spacing[lowres] / target``, must
    equal the card's factor. Raises for an isotropic volume (via :func:`reconstruction_grid`).
    """
    lowres = reconstruction_grid(volume, None, axis).axis
    target = card_target(card, volume, lowres_target(volume, target_spacing, axis))
    check_factor(card, volume.spacing[lowres], target, volume.unit)
    full = list(volume.spacing)
    full[lowres] = target
    return Grid(lowres, tuple(volume.spacing), tuple(full))  # type: ignore[arg-type]


class SliceModel(ReconstructionModel):
    """A pre-upsampling 2D network run over the axial planes (see the module docstring).

    ``fusion``: 'mean' of the two axial plane families, or one family's name; ``halo``: the tile
    halo (None: measured by :func:`.tiling.receptive_halo` when tiles are used).
    """

    kind = "2d"
    supports_tta = True
    bytes_per_voxel = 16       # the cubic input, the running mean, the cast result

    def __init__(self, network: nn.Module, card: Any, folder=None, *, fusion: str = "mean",
                 halo: int | None = None) -> None:
        if getattr(network, "scale", 1) != 1:
            raise IsovoxError(f"this network up-samples rows itself (scale {network.scale}); slice-wise "
                              "reconstruction feeds pre-upsampled planes and needs scale 1")
        super().__init__(network, card, folder)
        self.fusion, self.halo = fusion, halo

    def grid(self, volume: Volume, target_spacing=None, axis=None) -> Grid:
        return check_card(volume, self.card, target_spacing, axis)

    def reach(self, grid: Grid, uncertainty_unit: str | None = None) -> Reach:
        """The receptive halo on every axis: in the two axial plane families, each lateral axis is
        a column axis once, and the low-resolution axis is the row axis of both. With the
        uncertainty (``uncertainty_unit``: the unit of the volume it is wanted for), the
        low-resolution axis also needs the misfit's reach (:func:`.misfit.misfit_reach`: the
        voxels its re-acquisition reads must themselves be exact)."""
        halo = [receptive_halo(self.network)] * 3
        profile = None if uncertainty_unit is None else card_profile(self.card, uncertainty_unit)
        if profile is not None:
            halo[grid.axis] += misfit_reach(grid, profile)
        return Reach(tuple(halo), kernel_radius=CUBIC_RADIUS, multiple=size_multiple(self.network))

    def _predict(self, normalised: np.ndarray, volume: Volume, grid: Grid, options: RunOptions,
                 spread: bool) -> Prediction:
        families = _fusion_families(self.fusion, grid.axis)
        device = self.device
        halo = self.halo
        if options.tile is not None and halo is None:
            halo = receptive_halo(self.network)       # once here, not per batch
        predict = partial(predict_planes, self.network, tile=options.tile, halo=halo, device=device,
                          precision=options.precision)
        upsampled = resample(volume.replace(data=normalised), grid.target, "cubic", dtype=np.float32).data
        sections = normalised if spread else None      # the misfit compares the output with them
        del normalised
        moments = VoxelMoments.zeros(upsampled.shape, spread=spread)
        flips = variants(options.tta)
        run = _PlaneRun(predict, flips, options.batch_size, options.tile, device)
        _predict_families(upsampled, moments, run, families, grid.axis, options.progress)
        del upsampled
        if not spread:
            return Prediction(moments.mean)
        variance = moments.variance(len(families) * len(flips))
        profile = card_profile(self.card, volume.unit)
        misfit = None if profile is None else misfit_variance(moments.mean, sections, grid, profile, volume.unit)
        return Prediction(moments.mean, uncertainty(variance, misfit))


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
    """Isotropic volume from ``volume`` with a trained pre-upsampled 2D network in hand (see module doc).

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
    model, grid, dtype, run = _in_hand(volume, model, card, options)
    return model.run(volume, grid, dtype, run).volume


def reconstruct_with_model_uncertainty(volume: Volume, model: nn.Module, card, **options) -> Reconstruction:
    """:func:`reconstruct_with_model` with TTA, and the per-voxel uncertainty: the spread of the
    predictions of all variants of both plane families, plus the misfit to the acquired sections
    when ``card`` records their slice profile (:mod:`.ensemble`; zero on acquired slices that
    ``keep_acquired`` puts back: they are measured, not predicted). Takes the same options
    (``tta`` is always on); needs one more float32 array of output size."""
    if not options.pop("tta", True):
        raise IsovoxError("the uncertainty is the spread of the TTA variants; it cannot be had with tta=False")
    model, grid, dtype, run = _in_hand(volume, model, card, {**options, "tta": True})
    return model.run(volume, grid, dtype, run, uncertainty=True)


def _in_hand(volume: Volume, network: nn.Module, card, options: dict) -> tuple:
    """(SliceModel on its device, grid, dtype, RunOptions) from the keyword options above."""
    options = dict(options)
    model = SliceModel(network, card, fusion=options.pop("fusion", "mean"), halo=options.pop("halo", None))
    model.to(options.pop("device", "auto"))
    grid = model.grid(volume, options.pop("target_spacing", None), options.pop("axis", None))
    dtype = options.pop("dtype", None)
    return model, grid, dtype, RunOptions(**options)


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
