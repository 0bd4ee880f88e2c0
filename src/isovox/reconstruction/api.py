"""`reconstruct`: the one entry point that turns an anisotropic volume into an isotropic one.

It offers the interpolation baselines (nearest, linear, cubic, lanczos3) and, with ``model=`` (a
model folder written by training, see :mod:`isovox.store`), slice-wise reconstruction by a trained
2D network (:mod:`.slicewise`, paper 001 Fig. 2 D). The target grid follows the convention of
:mod:`isovox.volume`: the first acquired slice keeps its world position and acquired slice k lands
on output index k * factor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import IsovoxError
from ..progress import progress_bar
from ..resample import METHODS as INTERPOLATION_METHODS  # noqa: F401  (re-exported)
from ..resample import check_method, resample, resampling_plan
from ..volume import Volume, check_finite, check_intensity_dtype, output_dtype
from .grid import check_output_fits, defect_gaps, lowres_target, reconstruction_grid


def reconstruct(volume: Volume, method: str = "cubic", target_spacing: float | Sequence[float] | None = None,
                axis: int | str | None = None, dtype: str | np.dtype | None = None, *,
                model: str | Path | None = None, device: str = "auto", batch_size: int | None = None,
                tile: int | Sequence[int] | None = None, keep_acquired: bool = False,
                bad_sections: Sequence[int] = (), detect_defects: bool = True) -> Volume:
    """Reconstruct ``volume`` on an isotropic (or given) grid.

    Without ``model``: interpolation with ``method``. With ``model`` (a model folder path): the
    trained network of that folder, run slice-wise on the cubic-interpolated volume
    (:func:`.slicewise.reconstruct_with_model`; ``device``, ``batch_size``, ``tile`` and
    ``keep_acquired`` are its options). ``target_spacing`` must then be None (the card's target)
    or give the factor the network was trained for: a scalar for the low-resolution axis, or
    three values that leave the other two axes unchanged (the network refines one axis only).

    ``dtype`` defaults to the input's; integer outputs are rounded and clipped to their range.

    Defective sections along the low-resolution axis (found by :mod:`isovox.defects` unless
    ``detect_defects=False``, plus ``bad_sections``) are bridged first (:mod:`isovox.gaps`): the
    output grid is the same as without them.
    """
    check_intensity_dtype(volume.dtype)
    dtype = output_dtype(dtype, volume.dtype)
    volume = bridge_defects(volume, target_spacing, axis, bad_sections, detect_defects)
    if model is not None:
        return _reconstruct_with_model_folder(volume, method, target_spacing, axis, dtype, model,
                                              device, batch_size, tile, keep_acquired)
    check_method(method)
    _, target = reconstruction_grid(volume, target_spacing, axis)
    check_output_fits(volume, target, bytes_per_voxel=8)
    if not volume.is_lazy:
        check_finite(volume.data, "input volume")
    total_voxels = sum(voxels for _, _, voxels in resampling_plan(volume, target))
    with progress_bar(total_voxels, f"{method} interpolation") as advance:
        result = resample(volume, target, method, dtype=dtype, progress=advance)
    return result


def bridge_defects(volume: Volume, target_spacing, axis, bad_sections: Sequence[int], detect: bool) -> Volume:
    """``volume`` with its defective sections along the low-resolution axis bridged (or as it is)."""
    from ..gaps import fill_gaps

    return fill_gaps(volume, defect_gaps(volume, target_spacing, axis, bad_sections, detect))


def _reconstruct_with_model_folder(volume, method, target_spacing, axis, dtype, folder, device,
                                   batch_size, tile, keep_acquired) -> Volume:
    # Imported here: torch loads only when a model is used, so interpolation stays light.
    from ..models import list_models, model_info
    from ..store import load_model, read_card
    from .slicewise import check_card, reconstruct_with_model, resolve_device

    if method != "cubic":
        raise IsovoxError(f"method {method!r} does not apply with a model: the network refines the "
                          "cubic interpolation it was trained on; leave method at 'cubic'")
    card = read_card(folder)               # check the factor before building the network
    if card.method == "arbitrary-scale":   # one network for any factor: no factor to check
        from .arbitrary import reconstruct_arbitrary
        return reconstruct_arbitrary(volume, folder, target_spacing=target_spacing, axis=axis, dtype=dtype,
                                     device=device, batch_size=batch_size, tile=tile, keep_acquired=keep_acquired)
    name = card.architecture.get("name")
    if name in list_models() and model_info(name).family == "3d":
        if target_spacing is not None and np.ndim(target_spacing) != 0:
            raise IsovoxError("a 3D model takes one target spacing, that of the axes it refines")
        return _reconstruct_3d(volume, folder, card, target_spacing, axis, dtype, device, batch_size, tile,
                               keep_acquired)
    target_spacing = lowres_target(volume, target_spacing, axis)
    lowres, target, _ = check_card(volume, card, target_spacing, axis)
    # the cubic input, two plane families' predictions and their fusion, float32 each
    check_output_fits(volume, [target if a == lowres else s for a, s in enumerate(volume.spacing)],
                      bytes_per_voxel=16)
    network, card = load_model(folder, device=resolve_device(device))
    return reconstruct_with_model(volume, network, card, device=device, batch_size=batch_size,
                                  tile=tile, keep_acquired=keep_acquired, dtype=dtype,
                                  target_spacing=target_spacing, axis=axis)


def _reconstruct_3d(volume, folder, card, target_spacing, axis, dtype, device, batch_size, tile,
                    keep_acquired) -> Volume:
    """A 3D network (:mod:`.volumetric`); ``tile`` is its patch core size (0: the whole volume)."""
    from ..store import load_model
    from .volumetric import check_card3d, reconstruct_with_model3d, resolve_device

    check_card3d(volume, card, target_spacing, axis)
    network, card = load_model(folder, device=resolve_device(device))
    return reconstruct_with_model3d(volume, network, card, device=device, patch=tile, batch_size=batch_size,
                                    dtype=dtype, target_spacing=target_spacing, axis=axis,
                                    keep_acquired=keep_acquired)
