"""`reconstruct_blockwise`: any volume, any size, into a chunked Zarr output with bounded memory.

The steps, each in its own module:

1. :mod:`.source` opens the input lazily (a path: Zarr / OME-Zarr / HDF5 through dask, an
   uncompressed TIFF as a memory map) or wraps a Volume;
2. this module resolves the method (interpolation, or a model folder: 2D slice-wise, 3D, or
   arbitrary-scale) and
   the target grid exactly as :func:`isovox.reconstruct` does, and how far the method reads (a
   network's receptive halo, measured by the reconstruction modules' own probes);
3. :mod:`.plan` cuts the output grid into blocks and gives each its input region;
4. :mod:`.records` sets up (or resumes) the work folder and its partial OME-Zarr output, whose
   zarr chunks are the blocks, so parallel writes never share a chunk;
5. :mod:`.execute` runs one Dask task per block (:mod:`.compute` reconstructs it);
6. :mod:`.records` moves the finished output into place.

With ``uncertainty=PATH`` (a 2D model with test-time augmentation), the per-voxel standard
deviation of the TTA variants (:mod:`isovox.reconstruction.ensemble`) is a second Zarr output with
the same grid and blocks, built in its own work folder and written by the same tasks.

The result equals ``isovox.reconstruct`` of the whole volume (same spacing and origin; voxel
values to float rounding; for integer outputs, a value that lands on x.5 may round the other
way), with no seams: a block never sees a border that the whole volume does not have.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import DiskFull, IsovoxError
from ..reconstruction.api import ModelOptions, check_model_kind, model_kind
from ..reconstruction.grid import defect_gaps, lowres_target, reconstruction_grid
from ..reconstruction.precision import DEFAULT_PRECISION, check_precision
from ..resample import KERNELS, check_method
from ..volume import Volume, check_intensity_dtype, output_dtype, resampling_factor, same_spacing
from .compute import ARBITRARY, INTERPOLATION, SLICEWISE, VOLUMETRIC, BlockRecipe
from .execute import BlockJob, execute
from .plan import make_plan
from .records import WorkFolder, blockwise_status, file_digest
from .source import InputSource, source_for

DEFAULT_BLOCK = 128
#: More blocks than this is a mistake (--block-size 1 gave 250,000 tiny tasks): refused up front.
MAX_BLOCKS = 50_000
_OUTPUT_SUFFIXES = (".zarr", ".ome.zarr")


def reconstruct_blockwise(input_path_or_volume: str | Path | Volume, output_path: str | Path, *,
                          method: str = "cubic", model: str | Path | None = None,
                          target_spacing: float | Sequence[float] | None = None, axis: int | str | None = None,
                          dtype: str | np.dtype | None = None, block_size: int | Sequence[int] = DEFAULT_BLOCK,
                          workers: int | None = None, scheduler: Any = None, processes: bool = False,
                          device: str = "auto", batch_size: int | None = None, keep_acquired: bool = False,
                          spacing: Sequence[float] | None = None, unit: str | None = None,
                          channel: int | None = None, overwrite: bool = False, resume: bool = True,
                          progress: bool = True, bad_sections: Sequence[int] = (),
                          detect_defects: bool = True, tta: bool = False, precision: str = DEFAULT_PRECISION,
                          uncertainty: str | Path | None = None) -> Volume:
    """Reconstruct block by block into the Zarr directory ``output_path``; returns it, read lazily.

    Method, model, target and dtype options are those of :func:`isovox.reconstruct`.
    ``block_size``: output voxels per block and zarr chunk (one value or z, y, x); memory per
    worker grows with it (region plus halo, a few float32 copies). ``workers``: local Dask
    workers (default: one per core), threads or, with ``processes=True``, processes (give those a
    path or a memory-mapped Volume: a Volume held in memory is copied into every task).
    ``scheduler``: a dask.distributed scheduler address (``'tcp://host:8786'``) or Client, to run
    on a cluster instead (the output and the input path must be on a file system all workers
    see). ``spacing``, ``unit``, ``channel``: as for :func:`isovox.io.read`, for an input path.
    ``resume``: pick up an interrupted run of the same settings (its finished blocks are kept);
    False starts over. ``overwrite``: replace an existing output once the new one is complete.
    ``bad_sections`` / ``detect_defects``: as for :func:`isovox.reconstruct` (bridged the same way,
    so the result equals in-memory reconstruction with the same gaps). ``tta``, ``precision``: as
    for :func:`isovox.reconstruct`. ``uncertainty``: a second .zarr path for the per-voxel
    standard deviation of the TTA variants (implies ``tta``; as
    :func:`isovox.reconstruction.reconstruct_with_uncertainty`), written block by block too.
    """
    outputs = _check_outputs(output_path, uncertainty, overwrite)
    output = outputs[0]
    source = _open_input(input_path_or_volume, spacing, unit, channel, outputs)
    check_intensity_dtype(source.volume.dtype)
    dtype = output_dtype(dtype, source.volume.dtype)
    source.gaps = defect_gaps(source.volume, target_spacing, axis, bad_sections, detect_defects)
    if model is None and (tta or uncertainty is not None):
        raise IsovoxError("tta and uncertainty average a network over mirrored planes; they need a model folder")
    options = ModelOptions(device, batch_size, None, keep_acquired, tta or uncertainty is not None,
                           check_precision(precision))
    recipe, factors, reach = _resolve(source.volume, method, model, target_spacing, axis, dtype, options,
                                      uncertainty is not None)
    plan = make_plan(source.shape, factors, block_size, **reach)
    if len(plan) > MAX_BLOCKS:
        raise IsovoxError(f"block size {block_size} cuts the {' x '.join(map(str, plan.output_shape))} output into "
                          f"{len(plan)} blocks (at most {MAX_BLOCKS}: each costs scheduling and a halo); "
                          "use a larger --block-size, e.g. 128")

    record = {"input": source.describe(), "recipe": recipe.describe(),
              "bridged_sections": None if source.gaps is None else list(source.gaps.bad),
              "weights": file_digest(Path(model) / "weights.pt") if model is not None else None,
              "plan": {"block_size": list(plan.block_size), "output_shape": list(plan.output_shape),
                       "blocks": len(plan)}}
    geometry = _output_geometry(source.volume, recipe.target, factors)
    folders, done = _start_work_folders(outputs, record, plan, recipe.dtype, geometry, resume)
    todo = [block for block in plan.blocks() if block.name not in done]
    label = Path(model).name if model is not None else recipe.method
    try:
        execute(BlockJob(source, recipe, *folders), todo, workers=workers, scheduler=scheduler,
                processes=processes, progress=progress,
                description=f"blockwise {label}, {len(todo)} of {len(plan)} blocks")
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        for work in folders:                              # a full disk stops the run: free its space
            shutil.rmtree(work.root, ignore_errors=True)
        removed = " and ".join(str(work.root) for work in folders)
        raise DiskFull(f"no space left on the device while writing {output}; the unfinished blockwise "
                       f"work folder {removed} was removed: free some space and run again") from None
    summary = {"method": recipe.kind if model is not None else recipe.method, "block_size": list(plan.block_size)}
    for work in folders:
        work.finish([block.name for block in plan.blocks()], overwrite=overwrite, summary=summary)
    from .. import io

    return io.read(output, lazy=True)


# --- inputs and outputs ----------------------------------------------------------------------------

def _check_outputs(output_path: str | Path, uncertainty: str | Path | None, overwrite: bool) -> list[Path]:
    """[output] or [output, uncertainty output], each a .zarr path that may be written."""
    from ..io.atomic import refuse_duplicate_outputs

    outputs = [_check_output(path, overwrite) for path in (output_path, uncertainty) if path is not None]
    refuse_duplicate_outputs(outputs)
    return outputs


def _check_output(output_path: str | Path, overwrite: bool) -> Path:
    from ..io.atomic import check_output

    output = Path(output_path)
    if not output.name.lower().endswith(_OUTPUT_SUFFIXES):
        raise IsovoxError(f"blockwise output must be a Zarr directory (.zarr or .ome.zarr), got {output}")
    return check_output(output, overwrite=overwrite)


def _open_input(given: Any, spacing, unit, channel, outputs: Sequence[Path]) -> InputSource:
    from ..io import split_dataset_path

    if not isinstance(given, Volume):
        path, _ = split_dataset_path(given)
        status = blockwise_status(path)
        if not path.exists() and status["state"] == "incomplete":
            raise IsovoxError(f"{path} is incomplete: its blockwise reconstruction stopped after "
                              f"{status['done']} of {status['total']} blocks; run it again to finish")
    else:
        path = Path(given.meta["source"]) if given.meta.get("source") else None
    for output in outputs:
        if path is not None and output.resolve() == path.resolve():
            raise IsovoxError(f"refusing to overwrite the input {path}; choose another output path")
    return source_for(given, spacing=spacing, unit=unit, channel=channel)


def _start_work_folders(outputs: Sequence[Path], record: dict, plan, dtype: str, geometry: Any,
                        resume: bool) -> tuple[list[WorkFolder], set[str]]:
    """The work folders of the output (and of the uncertainty output, float32, when there is one)
    and the blocks finished in all of them: a block missing from one is computed again."""
    folders, done = [], None
    for role, output in zip(("reconstruction", "uncertainty"), outputs):
        work = WorkFolder(output)
        own_record = record if role == "reconstruction" else {**record, "role": role}
        own_dtype = dtype if role == "reconstruction" else "float32"
        finished = work.start(own_record, plan.output_shape, own_dtype, geometry, plan.block_size, resume=resume)
        done = finished if done is None else done & finished
        folders.append(work)
    return folders, done or set()


def _output_geometry(volume: Volume, target: Sequence[float], factors: Sequence[float]) -> Any:
    """The output grid as the in-memory code makes it: the requested spacing on resampled axes,
    the input's elsewhere; the origin and orientation of the input (voxel 0 does not move)."""
    spacing = tuple(t if f != 1 else s for t, f, s in zip(target, factors, volume.spacing))
    return volume.replace(data=np.broadcast_to(np.zeros((), volume.dtype), (1, 1, 1)), spacing=spacing)


def _kernel_radius(method: str) -> int:
    """Half-width of the interpolation kernel in input samples (nearest reads like linear)."""
    return int(np.ceil(KERNELS[method][1])) if method in KERNELS else 1


def _factors(volume: Volume, target: Sequence[float]) -> tuple[float, float, float]:
    """Per-axis factor, 1 where :func:`isovox.resample.resample` leaves the axis alone."""
    return tuple(1.0 if same_spacing(s, t) else resampling_factor(s, t)  # type: ignore[return-value]
                 for s, t in zip(volume.spacing, target))


# --- what to compute -------------------------------------------------------------------------------

def _resolve(volume: Volume, method: str, model, target_spacing, axis, dtype, options: ModelOptions,
             uncertainty: bool) -> tuple[BlockRecipe, tuple, dict]:
    """(recipe, per-axis factors, how far a block reads: :func:`.plan.make_plan`'s
    ``kernel_radius``, ``halo`` and ``multiple``) for the requested method."""
    out_dtype = str(np.dtype(dtype) if dtype is not None else volume.dtype)
    if model is None:
        check_method(method)
        if options.keep_acquired:
            raise IsovoxError("keep_acquired applies to model reconstruction; interpolation already "
                              "passes through the acquired slices")
        lowres, target = reconstruction_grid(volume, target_spacing, axis)
        recipe = BlockRecipe(INTERPOLATION, method, target, lowres, out_dtype)
        return recipe, _factors(volume, target), dict(kernel_radius=_kernel_radius(method))
    return _resolve_model(volume, method, Path(model), target_spacing, axis, out_dtype, options, uncertainty)


def _resolve_model(volume, method, folder: Path, target_spacing, axis, out_dtype, options: ModelOptions,
                   uncertainty: bool) -> tuple[BlockRecipe, tuple, dict]:
    """The model-folder counterpart of :func:`isovox.reconstruct`'s checks, plus how far the
    network reads: 2D and 3D networks refine the cubic interpolation, so their receptive halo is
    counted on the output grid, on every axis (in the two axial plane families of a 2D net, each
    lateral axis is a column axis once); an arbitrary-scale network reads the acquired planes,
    ``receptive_radius`` low-res rows around the position of each output row."""
    from ..reconstruction.tiling import receptive_halo, size_multiple
    from ..store import load_model, read_card

    if method != "cubic":
        raise IsovoxError(f"method {method!r} does not apply with a model: the network refines the "
                          "cubic interpolation it was trained on; leave method at 'cubic'")
    card = read_card(folder)
    card_kind = model_kind(card)
    check_model_kind(card_kind, options.tta, uncertainty, options.precision)
    kind = {"2d": SLICEWISE, "3d": VOLUMETRIC, "arbitrary-scale": ARBITRARY}[card_kind]
    scalar_target = lowres_target(volume, target_spacing, axis)
    network, _ = load_model(folder, device="cpu")          # the driver only measures its reach
    if options.tta and size_multiple(network) > 1:
        # A mirrored region starts its window grid at the region's far end, the whole volume at the
        # volume's: the blocks would not add up to the in-memory result.
        raise IsovoxError(f"{card.architecture.get('name')} works on a grid of {size_multiple(network)} pixels, "
                          "so its mirrored (TTA) planes cannot be cut into blocks exactly; reconstruct in "
                          "memory or without tta")
    kernel_radius = _kernel_radius("cubic")
    if kind == VOLUMETRIC:
        from ..reconstruction.volumetric import check_card3d, receptive_radius3d

        axes, target, _ = check_card3d(volume, card, scalar_target, axis)
        halo = (receptive_radius3d(network),) * 3
    elif kind == ARBITRARY:
        lowres, grid = reconstruction_grid(volume, scalar_target, axis)
        axes, axis, target = (lowres,), lowres, grid[lowres]
        if not hasattr(network, "receptive_radius"):
            raise IsovoxError(f"{folder} holds a fixed-scale network without a receptive radius; "
                              "it cannot be run block by block")
        radius = int(network.receptive_radius)
        halo = tuple(0 if a == lowres else radius for a in range(3))
        kernel_radius = radius + 1                          # rows floor(j / f) - R to ceil(j / f) + R
    else:
        from ..reconstruction.slicewise import check_card

        lowres, target, _ = check_card(volume, card, scalar_target, axis)
        axes, axis = (lowres,), lowres
        halo = (receptive_halo(network),) * 3
    full_target = tuple(target if a in axes else s for a, s in enumerate(volume.spacing))
    recipe = BlockRecipe(kind, "cubic", full_target, axis, out_dtype, model=str(folder.absolute()),
                         model_target=target, device=options.device, batch_size=options.batch_size,
                         keep_acquired=options.keep_acquired, tta=options.tta, precision=options.precision,
                         uncertainty=uncertainty)
    reach = dict(kernel_radius=kernel_radius, halo=halo, multiple=size_multiple(network))
    return recipe, _factors(volume, full_target), reach


