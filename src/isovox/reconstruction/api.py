"""`reconstruct`: the one entry point that turns an anisotropic volume into an isotropic one.

It offers the interpolation baselines (nearest, linear, cubic, lanczos3) and, with ``model=`` (a
model folder written by training, see :mod:`isovox.store`, or a model already opened by
:func:`.folder.open_model`), reconstruction by its trained network: whichever kind the folder holds
(:mod:`.model`). The target grid follows the convention of
:mod:`isovox.volume`: the first acquired slice keeps its world position and acquired slice k lands
on output index k * factor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import IsovoxError
from ..progress import progress_bar
from ..resample import METHODS as INTERPOLATION_METHODS  # noqa: F401  (re-exported)
from ..resample import check_method, resample, resampling_plan
from ..volume import Volume, check_finite, check_intensity_dtype, output_dtype
from .ensemble import Reconstruction
from .grid import check_output_fits, defect_gaps, reconstruction_grid
from .precision import DEFAULT_PRECISION


def reconstruct(volume: Volume, method: str = "cubic", target_spacing: float | Sequence[float] | None = None,
                axis: int | str | None = None, dtype: str | np.dtype | None = None, *,
                model: str | Path | Any | None = None, device: str = "auto", batch_size: int | None = None,
                tile: int | Sequence[int] | None = None, keep_acquired: bool = False,
                bad_sections: Sequence[int] = (), detect_defects: bool = True, tta: bool = False,
                precision: str = DEFAULT_PRECISION) -> Volume:
    """Reconstruct ``volume`` on an isotropic (or given) grid.

    Without ``model``: interpolation with ``method``. With ``model`` (a model folder path, or a
    model opened once with :func:`isovox.open_model` to apply to many volumes): the trained
    network of that folder, on the cubic-interpolated volume (``device``, ``batch_size``,
    ``tile`` and ``keep_acquired`` are its options, :class:`.model.RunOptions`).
    ``target_spacing`` must then be None (the card's target) or give the factor the network was
    trained for: a scalar for the low-resolution axis, or three values that leave the other two
    axes unchanged (the network refines one axis only).

    ``tta`` (2D models): average the network over the four mirrored variants of every plane
    (:mod:`.ensemble`); one forward pass per variant, so 4x the network time.
    ``precision`` (models): 'fp32', 'bf16' (autocast, CPU or CUDA) or 'auto' (bf16 on CUDA and on
    CPUs with native bf16, else fp32), see :mod:`.precision`.

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
        from .model import RunOptions

        options = RunOptions(batch_size, tile, keep_acquired, tta, precision)
        return _with_model(volume, method, target_spacing, axis, dtype, model, device, options).volume
    check_method(method)
    grid = reconstruction_grid(volume, target_spacing, axis)
    check_output_fits(volume, grid, bytes_per_voxel=8)
    if not volume.is_lazy:
        check_finite(volume.data, "input volume")
    total_voxels = sum(voxels for _, _, voxels in resampling_plan(volume, grid.target))
    with progress_bar(total_voxels, f"{method} interpolation") as advance:
        result = resample(volume, grid.target, method, dtype=dtype, progress=advance)
    return result


def reconstruct_with_uncertainty(volume: Volume, model: str | Path | Any,
                                 target_spacing: float | Sequence[float] | None = None,
                                 axis: int | str | None = None, dtype: str | np.dtype | None = None, *,
                                 device: str = "auto", batch_size: int | None = None,
                                 tile: int | Sequence[int] | None = None, keep_acquired: bool = False,
                                 bad_sections: Sequence[int] = (), detect_defects: bool = True,
                                 precision: str = DEFAULT_PRECISION) -> Reconstruction:
    """``reconstruct(volume, model=model, tta=True, ...)`` and its uncertainty, as a
    :class:`~.ensemble.Reconstruction` ``(volume, uncertainty)``: per voxel,
    ``sqrt(spread^2 + misfit^2)``, where the spread is the standard deviation of the predictions
    of all TTA variants of both plane families and the misfit is how far the output, re-acquired
    with the slice profile the model card records, is from the acquired sections (spread linearly
    between them; no misfit term when the card records no profile). Why and how it was measured:
    :mod:`.ensemble`. Float32, in the output's intensity unit, on the same grid (spacing, origin).
    Zero on acquired slices put back by ``keep_acquired``. Slice-wise 2D models only. Options as
    for :func:`reconstruct`.
    """
    from .model import RunOptions

    check_intensity_dtype(volume.dtype)
    dtype = output_dtype(dtype, volume.dtype)
    volume = bridge_defects(volume, target_spacing, axis, bad_sections, detect_defects)
    options = RunOptions(batch_size, tile, keep_acquired, True, precision)
    return _with_model(volume, "cubic", target_spacing, axis, dtype, model, device, options, uncertainty=True)


def bridge_defects(volume: Volume, target_spacing, axis, bad_sections: Sequence[int], detect: bool) -> Volume:
    """``volume`` with its defective sections along the low-resolution axis bridged (or as it is)."""
    from ..gaps import fill_gaps

    return fill_gaps(volume, defect_gaps(volume, target_spacing, axis, bad_sections, detect))


def check_model_method(method: str) -> None:
    """A model refines the cubic interpolation it was trained on: no other method applies."""
    if method != "cubic":
        raise IsovoxError(f"method {method!r} does not apply with a model: the network refines the "
                          "cubic interpolation it was trained on; leave method at 'cubic'")


def as_model(model: Any, device: str = "auto") -> Any:
    """A :class:`.model.ReconstructionModel`: a folder path opened on ``device``, or an opened
    model as it is (moved to ``device`` when one is named)."""
    # Imported here: torch loads only when a model is used, so interpolation stays light.
    from .folder import open_model
    from .model import ReconstructionModel

    if isinstance(model, ReconstructionModel):
        return model if str(device) == "auto" else model.to(device)
    return open_model(model, device=device)


def _with_model(volume, method, target_spacing, axis, dtype, model, device, options,
                uncertainty: bool = False) -> Reconstruction:
    """The reconstruction by ``model``'s network (its uncertainty when asked, else None)."""
    check_model_method(method)
    model = as_model(model, device)
    model.check_options(options, uncertainty)
    grid = model.grid(volume, target_spacing, axis)
    model.check_fits(volume, grid, uncertainty)
    return model.run(volume, grid, dtype, options, uncertainty)
