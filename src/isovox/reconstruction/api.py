"""`reconstruct`: the one entry point that turns an anisotropic volume into an isotropic one.

It offers the interpolation baselines (nearest, linear, cubic, lanczos3) and, with ``model=`` (a
model folder written by training, see :mod:`isovox.store`), slice-wise reconstruction by a trained
2D network (:mod:`.slicewise`, paper 001 Fig. 2 D). The target grid follows the convention of
:mod:`isovox.volume`: the first acquired slice keeps its world position and acquired slice k lands
on output index k * factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import IsovoxError
from ..progress import progress_bar
from ..resample import METHODS as INTERPOLATION_METHODS  # noqa: F401  (re-exported)
from ..resample import check_method, resample, resampling_plan
from ..volume import Volume, check_finite, check_intensity_dtype, output_dtype
from .ensemble import Reconstruction
from .grid import check_output_fits, defect_gaps, lowres_target, reconstruction_grid
from .precision import DEFAULT_PRECISION, check_precision


def reconstruct(volume: Volume, method: str = "cubic", target_spacing: float | Sequence[float] | None = None,
                axis: int | str | None = None, dtype: str | np.dtype | None = None, *,
                model: str | Path | None = None, device: str = "auto", batch_size: int | None = None,
                tile: int | Sequence[int] | None = None, keep_acquired: bool = False,
                bad_sections: Sequence[int] = (), detect_defects: bool = True, tta: bool = False,
                precision: str = DEFAULT_PRECISION) -> Volume:
    """Reconstruct ``volume`` on an isotropic (or given) grid.

    Without ``model``: interpolation with ``method``. With ``model`` (a model folder path): the
    trained network of that folder, run slice-wise on the cubic-interpolated volume
    (:func:`.slicewise.reconstruct_with_model`; ``device``, ``batch_size``, ``tile`` and
    ``keep_acquired`` are its options). ``target_spacing`` must then be None (the card's target)
    or give the factor the network was trained for: a scalar for the low-resolution axis, or
    three values that leave the other two axes unchanged (the network refines one axis only).

    ``tta`` (2D models): average the network over the four mirrored variants of every plane
    (:mod:`.ensemble`); one forward pass per variant, so 4x the network time.
    ``precision`` (models): 'fp32', 'bf16' (autocast, CPU or CUDA) or 'auto' (bf16 on CUDA, fp32
    on CPU), see :mod:`.precision`.

    ``dtype`` defaults to the input's; integer outputs are rounded and clipped to their range.

    Defective sections along the low-resolution axis (found by :mod:`isovox.defects` unless
    ``detect_defects=False``, plus ``bad_sections``) are bridged first (:mod:`isovox.gaps`): the
    output grid is the same as without them.
    """
    check_intensity_dtype(volume.dtype)
    dtype = output_dtype(dtype, volume.dtype)
    if model is None and tta:
        raise IsovoxError("tta averages a network over mirrored planes; it needs a model folder (model=)")
    volume = bridge_defects(volume, target_spacing, axis, bad_sections, detect_defects)
    if model is not None:
        options = ModelOptions(device, batch_size, tile, keep_acquired, tta, check_precision(precision))
        return _reconstruct_with_model_folder(volume, method, target_spacing, axis, dtype, model, options).volume
    check_method(method)
    _, target = reconstruction_grid(volume, target_spacing, axis)
    check_output_fits(volume, target, bytes_per_voxel=8)
    if not volume.is_lazy:
        check_finite(volume.data, "input volume")
    total_voxels = sum(voxels for _, _, voxels in resampling_plan(volume, target))
    with progress_bar(total_voxels, f"{method} interpolation") as advance:
        result = resample(volume, target, method, dtype=dtype, progress=advance)
    return result


def reconstruct_with_uncertainty(volume: Volume, model: str | Path,
                                 target_spacing: float | Sequence[float] | None = None,
                                 axis: int | str | None = None, dtype: str | np.dtype | None = None, *,
                                 device: str = "auto", batch_size: int | None = None,
                                 tile: int | Sequence[int] | None = None, keep_acquired: bool = False,
                                 bad_sections: Sequence[int] = (), detect_defects: bool = True,
                                 precision: str = DEFAULT_PRECISION) -> Reconstruction:
    """``reconstruct(volume, model=model, tta=True, ...)`` and its uncertainty, as a
    :class:`~.ensemble.Reconstruction` ``(volume, uncertainty)``: the per-voxel standard deviation
    of the predictions of all TTA variants of both plane families, float32, in the output's
    intensity unit, on the same grid (spacing, origin). Zero on acquired slices put back by
    ``keep_acquired``. Slice-wise 2D models only. Options as for :func:`reconstruct`.
    """
    check_intensity_dtype(volume.dtype)
    dtype = output_dtype(dtype, volume.dtype)
    volume = bridge_defects(volume, target_spacing, axis, bad_sections, detect_defects)
    options = ModelOptions(device, batch_size, tile, keep_acquired, True, check_precision(precision))
    return _reconstruct_with_model_folder(volume, "cubic", target_spacing, axis, dtype, model, options,
                                          uncertainty=True)


def bridge_defects(volume: Volume, target_spacing, axis, bad_sections: Sequence[int], detect: bool) -> Volume:
    """``volume`` with its defective sections along the low-resolution axis bridged (or as it is)."""
    from ..gaps import fill_gaps

    return fill_gaps(volume, defect_gaps(volume, target_spacing, axis, bad_sections, detect))


@dataclass(frozen=True)
class ModelOptions:
    """How a model folder's network runs (the options of :func:`reconstruct` that apply to it)."""

    device: str = "auto"
    batch_size: int | None = None
    tile: int | Sequence[int] | None = None
    keep_acquired: bool = False
    tta: bool = False
    precision: str = DEFAULT_PRECISION


def check_model_kind(kind: str, tta: bool, uncertainty: bool, precision: str) -> None:
    """Refuse the options only 2D slice-wise models have, for a 3D or arbitrary-scale one
    (``kind``: '2d', '3d', 'arbitrary-scale'); one check for in-memory and blockwise runs."""
    if kind != "2d" and (tta or uncertainty):
        raise IsovoxError(f"test-time augmentation and uncertainty apply to slice-wise 2D models; this "
                          f"model folder holds a {kind} model")
    if kind == "arbitrary-scale" and precision == "bf16":
        raise IsovoxError("arbitrary-scale models run in float32 only; use precision fp32 or auto")


def _reconstruct_with_model_folder(volume, method, target_spacing, axis, dtype, folder,
                                   options: ModelOptions, uncertainty: bool = False) -> Reconstruction:
    """The reconstruction by ``folder``'s network (its uncertainty when asked, else None)."""
    # Imported here: torch loads only when a model is used, so interpolation stays light.
    from ..store import load_model, read_card
    from .slicewise import check_card, reconstruct_with_model, reconstruct_with_model_uncertainty, resolve_device

    if method != "cubic":
        raise IsovoxError(f"method {method!r} does not apply with a model: the network refines the "
                          "cubic interpolation it was trained on; leave method at 'cubic'")
    card = read_card(folder)               # check the factor before building the network
    kind = model_kind(card)
    check_model_kind(kind, options.tta, uncertainty, options.precision)
    if kind == "arbitrary-scale":          # one network for any factor: no factor to check
        from .arbitrary import reconstruct_arbitrary
        return Reconstruction(reconstruct_arbitrary(
            volume, folder, target_spacing=target_spacing, axis=axis, dtype=dtype, device=options.device,
            batch_size=options.batch_size, tile=options.tile, keep_acquired=options.keep_acquired), None)
    if kind == "3d":
        if target_spacing is not None and np.ndim(target_spacing) != 0:
            raise IsovoxError("a 3D model takes one target spacing, that of the axes it refines")
        return Reconstruction(_reconstruct_3d(volume, folder, card, target_spacing, axis, dtype, options), None)
    target_spacing = lowres_target(volume, target_spacing, axis)
    lowres, target, _ = check_card(volume, card, target_spacing, axis)
    # the cubic input, two plane families' predictions and their fusion, float32 each; plus the
    # running spread of the variants for the uncertainty
    check_output_fits(volume, [target if a == lowres else s for a, s in enumerate(volume.spacing)],
                      bytes_per_voxel=20 if uncertainty else 16)
    network, card = load_model(folder, device=resolve_device(options.device))
    run = reconstruct_with_model_uncertainty if uncertainty else reconstruct_with_model
    result = run(volume, network, card, device=options.device, batch_size=options.batch_size, tile=options.tile,
                 keep_acquired=options.keep_acquired, dtype=dtype, target_spacing=target_spacing, axis=axis,
                 tta=options.tta, precision=options.precision)
    return result if uncertainty else Reconstruction(result, None)


def model_kind(card) -> str:
    """'arbitrary-scale', '3d' or '2d': which reconstruction a model folder's card calls for."""
    from ..models import list_models, model_info

    if card.method == "arbitrary-scale":
        return "arbitrary-scale"
    name = card.architecture.get("name")
    return "3d" if name in list_models() and model_info(name).family == "3d" else "2d"


def _reconstruct_3d(volume, folder, card, target_spacing, axis, dtype, options: ModelOptions) -> Volume:
    """A 3D network (:mod:`.volumetric`); ``tile`` is its patch core size (0: the whole volume)."""
    from ..store import load_model
    from .volumetric import check_card3d, reconstruct_with_model3d, resolve_device

    check_card3d(volume, card, target_spacing, axis)
    network, card = load_model(folder, device=resolve_device(options.device))
    return reconstruct_with_model3d(volume, network, card, device=options.device, patch=options.tile,
                                    batch_size=options.batch_size, dtype=dtype, target_spacing=target_spacing,
                                    axis=axis, keep_acquired=options.keep_acquired, precision=options.precision)
