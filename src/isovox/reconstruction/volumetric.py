"""Reconstruction with a trained 3D network: cubic interpolation, then 3D patches (paper 004 sec. 4.1).

Paper 004 ("SR Generation"): "A patch size of 70 x 70 x 70 with a margin 3 was used in testing
to avoid artifacts on the edges. The merging of the output patches was done without averaging."
:func:`predict_volume` does the same, with the margin as wide as the network's receptive field
(:func:`receptive_radius3d`) by default, so the stitched result *equals* whole-volume inference
(test): a voxel's output depends only on inputs within the receptive radius, so a patch's
zero-padded inner edges never reach the core it writes, and patches are clipped (not padded) at
the volume's border, so a border patch sees exactly the border the whole volume has. A smaller
``margin`` (the paper's 3) is faster and approximate.

Why not MONAI's ``sliding_window_inference`` (which DESIGN.md suggests): it merges overlapping
windows by weighted averaging and pads windows that cross the volume's border, so neither the
paper's "merging without averaging" nor exact equality with whole-volume inference can be had
from it (its ``roi_weight_map`` could zero a window's margin, but border voxels then lie in the
margin of every window that covers them, and padding the border changes what the network sees
there). Measured (monai 1.6.1, b4u4k12 with random weights, a 48^3 unit-variance volume, 40^3
windows): MONAI deviates from whole-volume inference by up to 0.19 (mean 0.003-0.0045, overlap
0.25 or 0.5, constant or Gaussian blending); :func:`predict_volume` with 24^3 cores by 2.4e-7.
The core-and-margin split needs only the span arithmetic already written for 2D tiles
(:func:`isovox.reconstruction.tiling.tile_spans`), so it lives here, in a few lines.

:class:`VolumeModel` (opened by :func:`.folder.open_model`; :func:`reconstruct_with_model3d` for a
network in hand):

1. Check the volume against the card: every degraded axis (``card.degradation['axes']``; one
   axis for slice spacing, two for paper 004's k-space truncation) must have the spacing ratio
   ``card.factor`` to the target.
2. Normalise with the card's ``low``/``high``, interpolate the degraded axes onto the target grid
   with cubic (the grid convention of :mod:`isovox.volume`, as training did,
   :mod:`isovox.pairs3d`), run the network patch by patch, map intensities back, cast.

A network trained with its degradation along z applies to a volume whose coarse axis is y or x
(MRI acquired coronally or sagittally): the volume is viewed with that axis in z's place, which
costs no copy until the network's input patches are cut.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..device import model_device, resolve_device
from ..errors import IsovoxError
from ..progress import progress_bar
from ..resample import resample
from ..volume import AXIS_NAMES, Volume, axis_index, lowres_axis
from .grid import Grid
from .model import CUBIC_RADIUS, Prediction, Reach, ReconstructionModel, RunOptions, card_target, check_factor
from .precision import DEFAULT_PRECISION
from .tiling import architecture_key, forward_same_size, probe_copy, size_multiple, tile_spans

_RADIUS_CACHE: dict[str, int] = {}
_PROBE_RADIUS = 64            # farthest dependency a probe can see; beyond it the field counts as global
# When the patch size is left to isovox: volumes up to WHOLE_VOLUME voxels go through in one pass,
# larger ones in cores of DEFAULT_PATCH^3 plus margins. Dense 3D nets keep many feature maps
# alive (measured: ~4 kB per voxel for b4u4k12 on CPU, 15 GB for a 3.5 M-voxel pass), so a
# pass stays near 1 M voxels on CPU. The margin costs ((core + 2 r) / core)^3 in compute:
# 3.6x for b4u4k12 (r = 17) at a 64 core, the price of an exact result.
WHOLE_VOLUME = {"cpu": 1 << 20, "cuda": 1 << 22}
DEFAULT_PATCH = {"cpu": 64, "cuda": 128}


def receptive_radius3d(model: nn.Module) -> int:
    """How far (voxels) an output voxel of the 3D ``model`` reaches into its input, along any axis.

    Probe, as :func:`isovox.reconstruction.tiling.receptive_halo` does for 2D networks: a copy
    with re-initialised weights in eval mode maps a one-voxel-wide strip of ``2 R + 1`` voxels
    along each axis; the gradient of the middle output voxel marks its inputs. Cached per
    architecture (``model.build_config``).
    """
    key = architecture_key(model)
    if key is not None and key in _RADIUS_CACHE:
        return _RADIUS_CACHE[key]
    with torch.inference_mode(False), torch.enable_grad():
        probe = probe_copy(model)
        radius = 0
        length = 2 * _PROBE_RADIUS + 1
        for axis in range(3):
            shape = [1, 1, 1, 1, 1]
            shape[2 + axis] = length
            x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(model_device(probe))
            x.requires_grad_(True)
            middle = [0, 0, 0, 0, 0]
            middle[2 + axis] = _PROBE_RADIUS
            (grad,) = torch.autograd.grad(probe(x)[tuple(middle)], x)
            index = torch.nonzero(grad.flatten() != 0).flatten()
            radius = max(radius, int((index - _PROBE_RADIUS).abs().max()) if len(index) else 0)
    if radius >= _PROBE_RADIUS:
        raise IsovoxError(f"{type(model).__name__} depends on more than {_PROBE_RADIUS} voxels around each "
                          "output; pass margin= explicitly to run it in patches")
    if key is not None:
        _RADIUS_CACHE[key] = radius
    return radius


def predict_volume(model: nn.Module, volume: np.ndarray, *, patch: int | Sequence[int] | None = None,
                   margin: int | None = None, batch_size: int = 1, device: str | torch.device | None = None,
                   progress=None, precision: str = DEFAULT_PRECISION) -> np.ndarray:
    """``model`` applied to a (D, H, W) float32 array, in patches with margins (module docstring).

    ``patch``: core size (one int or three); None runs the whole volume in one pass. ``margin``
    defaults to :func:`receptive_radius3d` (exact). ``progress(n)`` is called with the output
    voxels written. The model runs in eval mode under ``torch.inference_mode``, in ``precision``
    (:mod:`.precision`).
    """
    source = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))
    if source.ndim != 3:
        raise IsovoxError(f"predict_volume needs a (D, H, W) array, got shape {tuple(source.shape)}")
    device = resolve_device(device) if device is not None else model_device(model)
    model.to(device)
    shape = tuple(source.shape)
    cores = shape if patch is None else ((patch,) * 3 if np.ndim(patch) == 0 else tuple(patch))
    if len(cores) != 3 or min(cores) < 1 or (margin is not None and margin < 0):
        raise IsovoxError(f"patch needs one or three positive sizes and margin >= 0, got {patch}, {margin}")
    margin = receptive_radius3d(model) if margin is None and patch is not None else int(margin or 0)
    groups: dict[tuple, list] = {}
    for spans in _patch_spans(shape, cores, margin):
        groups.setdefault(tuple(stop - start for start, stop, _, _ in spans), []).append(spans)
    output = np.empty(shape, np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for patches in groups.values():
                for first in range(0, len(patches), batch_size):
                    chunk = patches[first:first + batch_size]
                    batch = torch.stack([source[tuple(slice(a, b) for a, b, _, _ in spans)] for spans in chunk])
                    result = forward_same_size(model, batch, device, "3D reconstruction",
                                               precision).cpu().numpy()
                    for k, spans in enumerate(chunk):
                        core = tuple(slice(c0 - a, c1 - a) for a, _, c0, c1 in spans)
                        output[tuple(slice(c0, c1) for _, _, c0, c1 in spans)] = result[k][core]
                        if progress is not None:
                            progress(int(np.prod([c1 - c0 for _, _, c0, c1 in spans])))
    finally:
        model.train(was_training)
    return output


def _patch_spans(shape: tuple[int, ...], cores: tuple[int, ...], margin: int) -> list[tuple]:
    per_axis = [tile_spans(n, min(int(c), n), margin) for n, c in zip(shape, cores)]
    return [(a, b, c) for a in per_axis[0] for b in per_axis[1] for c in per_axis[2]]


def card_axes(card) -> tuple[int, ...]:
    """The axes the training degradation acted on (z for a card that does not say)."""
    return tuple(axis_index(a) for a in card.degradation.get("axes", ["z"]))


def check_card3d(volume: Volume, card, target_spacing: float | None = None,
                 axis: int | str | None = None) -> Grid:
    """The :class:`~.grid.Grid` of ``volume`` for a 3D model with ``card``.

    A one-axis model applies to the volume's coarsest axis (or ``axis``); a multi-axis model to
    the same axes it was trained on. Every one of them needs the card's factor.
    """
    if target_spacing is not None and np.ndim(target_spacing) != 0:
        raise IsovoxError("a 3D model takes one target spacing, that of the axes it refines")
    trained = card_axes(card)
    if len(trained) == 1:
        axes = (lowres_axis(volume.spacing) if axis is None else axis_index(axis),)
    else:
        if axis is not None:
            raise IsovoxError(f"this model restores axes {', '.join(AXIS_NAMES[a] for a in trained)} together; "
                              "axis= does not apply")
        axes = trained
    target = card_target(card, volume, target_spacing)
    for a in axes:
        check_factor(card, volume.spacing[a], target, volume.unit, AXIS_NAMES[a])
    full = tuple(target if a in axes else s for a, s in enumerate(volume.spacing))
    return Grid(axes[0], tuple(volume.spacing), full)  # type: ignore[arg-type]


class VolumeModel(ReconstructionModel):
    """A 3D network run over patches of the cubic-interpolated volume (see the module docstring).
    ``margin``: the patch margin (None: the receptive radius, exact)."""

    kind = "3d"
    bytes_per_voxel = 12       # the cubic input, the prediction, the cast result

    def __init__(self, network: nn.Module, card: Any, folder=None, *, margin: int | None = None) -> None:
        super().__init__(network, card, folder)
        self.margin = margin

    def grid(self, volume: Volume, target_spacing=None, axis=None) -> Grid:
        return check_card3d(volume, self.card, target_spacing, axis)

    def reach(self, grid: Grid) -> Reach:
        return Reach((receptive_radius3d(self.network),) * 3, kernel_radius=CUBIC_RADIUS,
                     multiple=size_multiple(self.network))

    def _predict(self, normalised: np.ndarray, volume: Volume, grid: Grid, options: RunOptions,
                 spread: bool) -> Prediction:
        upsampled = resample(volume.replace(data=normalised), grid.target, "cubic", dtype=np.float32).data
        del normalised
        # a one-axis model sees its trained axis where it was trained: move the volume's coarse axis there
        axes, trained = grid.refined, card_axes(self.card)
        moved = (axes[0], trained[0]) if len(axes) == 1 and axes != trained else None
        if moved is not None:
            upsampled = np.swapaxes(upsampled, *moved)
        device = self.device
        patch = options.tile
        if patch is None:
            kind = "cuda" if device.type == "cuda" else "cpu"
            patch = 0 if upsampled.size <= WHOLE_VOLUME[kind] else DEFAULT_PATCH[kind]
        bar = progress_bar(upsampled.size, "3D model reconstruction") if options.progress else nullcontext(None)
        with bar as advance:
            predicted = predict_volume(self.network, upsampled, patch=patch or None, margin=self.margin,
                                       batch_size=options.batch_size or 1, device=device, progress=advance,
                                       precision=options.precision)
        del upsampled
        if moved is not None:
            predicted = np.ascontiguousarray(np.swapaxes(predicted, *moved))
        return Prediction(predicted)


def reconstruct_with_model3d(volume: Volume, model: nn.Module, card, *, device: str | torch.device = "auto",
                             patch: int | Sequence[int] | None = None, margin: int | None = None,
                             batch_size: int | None = None, dtype: str | np.dtype | None = None,
                             target_spacing: float | None = None, axis: int | str | None = None,
                             keep_acquired: bool = False, progress: bool = True,
                             precision: str = DEFAULT_PRECISION) -> Volume:
    """Isotropic volume from ``volume`` with a trained 3D network in hand (see the module docstring).

    ``patch`` (core size; default: the whole volume up to :data:`WHOLE_VOLUME` voxels, else
    :data:`DEFAULT_PATCH`, by device) and ``margin`` (default: the receptive radius, exact) are
    those of :func:`predict_volume`; ``patch=0`` runs the whole volume at once.
    ``keep_acquired`` writes the acquired slices back exactly (one-axis models).
    ``precision``: 'fp32', 'bf16' or 'auto' (:mod:`.precision`).
    """
    runner = VolumeModel(model, card, margin=margin).to(device)
    options = RunOptions(batch_size=batch_size, tile=patch, keep_acquired=keep_acquired, progress=progress,
                         precision=precision)
    return runner.run(volume, runner.grid(volume, target_spacing, axis), dtype, options).volume
