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

With ``uncertainty=PATH`` (a 2D model with test-time augmentation), the per-voxel uncertainty
(the spread of the TTA variants plus the misfit to the acquired sections,
:mod:`isovox.reconstruction.ensemble`) is a second Zarr output with the same grid and blocks,
built in its own work folder and written by the same tasks.

The result equals ``isovox.reconstruct`` of the whole volume (same spacing and origin; voxel
values to float rounding; for integer outputs, a value that lands on x.5 may round the other
way), with no seams: a block never sees a border that the whole volume does not have.
"""

from __future__ import annotations

import errno
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import DiskFull, IsovoxError
from ..reconstruction.api import check_model_method
from ..reconstruction.grid import defect_gaps, reconstruction_grid
from ..reconstruction.precision import DEFAULT_PRECISION, check_precision
from ..resample import KERNELS, check_method
from ..volume import Volume, check_intensity_dtype, output_dtype
from .compute import INTERPOLATION, BlockRecipe
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
                          uncertainty: str | Path | None = None, levels: int | None = None) -> Volume:
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
    uncertainty (implies ``tta``; as
    :func:`isovox.reconstruction.reconstruct_with_uncertainty`), written block by block too.
    ``levels``: OME-Zarr pyramid levels of each output, as for :func:`isovox.io.write`, built from
    the finished full-resolution array chunk by chunk (:mod:`isovox.io.pyramid`).
    """
    outputs = _check_outputs(output_path, uncertainty, overwrite)
    output = outputs[0]
    source = _open_input(input_path_or_volume, spacing, unit, channel, outputs)
    check_intensity_dtype(source.volume.dtype)
    dtype = output_dtype(dtype, source.volume.dtype)
    source.gaps = defect_gaps(source.volume, target_spacing, axis, bad_sections, detect_defects)
    if model is None and (tta or uncertainty is not None):
        raise IsovoxError("tta and uncertainty average a network over mirrored planes; they need a model folder")
    recipe, reach = _resolve(source.volume, method, model, target_spacing, axis, str(dtype), device,
                             _Asked(batch_size, keep_acquired, tta or uncertainty is not None,
                                    check_precision(precision), uncertainty is not None))
    plan = make_plan(source.shape, recipe.grid.factors, block_size, **reach)
    if len(plan) > MAX_BLOCKS:
        raise IsovoxError(f"block size {block_size} cuts the {' x '.join(map(str, plan.output_shape))} output into "
                          f"{len(plan)} blocks (at most {MAX_BLOCKS}: each costs scheduling and a halo); "
                          "use a larger --block-size, e.g. 128")

    record = {"input": source.describe(), "recipe": recipe.describe(),
              "bridged_sections": None if source.gaps is None else list(source.gaps.bad),
              "weights": file_digest(Path(model) / "weights.pt") if model is not None else None,
              "plan": {"block_size": list(plan.block_size), "output_shape": list(plan.output_shape),
                       "blocks": len(plan)}}
    geometry = recipe.grid.place(source.volume, np.broadcast_to(np.zeros((), source.volume.dtype), (1, 1, 1)))
    from ..io.pyramid import plan_levels

    plan_levels(plan.output_shape, geometry.spacing, levels)      # a bad request fails before any block
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
        work.finish([block.name for block in plan.blocks()], overwrite=overwrite, summary=summary, levels=levels)
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


def _kernel_radius(method: str) -> int:
    """Half-width of the interpolation kernel in input samples (nearest reads like linear)."""
    return int(np.ceil(KERNELS[method][1])) if method in KERNELS else 1


# --- what to compute -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Asked:
    """The model options of one blockwise call (checked before any block runs)."""

    batch_size: int | None
    keep_acquired: bool
    tta: bool
    precision: str
    uncertainty: bool


def _resolve(volume: Volume, method: str, model, target_spacing, axis, dtype: str, device: str,
             asked: _Asked) -> tuple[BlockRecipe, dict]:
    """(recipe, how far a block reads: :func:`.plan.make_plan`'s ``kernel_radius``, ``halo`` and
    ``multiple``) for the requested method."""
    if model is None:
        check_method(method)
        if asked.keep_acquired:
            raise IsovoxError("keep_acquired applies to model reconstruction; interpolation already "
                              "passes through the acquired slices")
        grid = reconstruction_grid(volume, target_spacing, axis)
        return BlockRecipe(INTERPOLATION, method, grid, dtype), dict(kernel_radius=_kernel_radius(method))
    return _resolve_model(volume, method, Path(model), target_spacing, axis, dtype, device, asked)


def _resolve_model(volume, method, folder: Path, target_spacing, axis, dtype: str, device: str,
                   asked: _Asked) -> tuple[BlockRecipe, dict]:
    """The model-folder counterpart of :func:`isovox.reconstruct`'s checks, plus how far the
    network reads (:meth:`~isovox.reconstruction.model.ReconstructionModel.reach`). The driver
    opens the model on the CPU only to check and measure it; workers open their own."""
    from ..reconstruction.folder import open_model
    from ..reconstruction.model import RunOptions

    check_model_method(method)
    model = open_model(folder, device="cpu")
    options = RunOptions(batch_size=asked.batch_size, keep_acquired=asked.keep_acquired, tta=asked.tta,
                         precision=asked.precision, progress=False)
    model.check_options(options, asked.uncertainty)
    grid = model.grid(volume, target_spacing, axis)
    # The uncertainty's misfit term re-acquires the output: its blocks read further along the
    # low-resolution axis (2D models, the only kind with an uncertainty).
    reach = model.reach(grid, uncertainty_unit=volume.unit) if asked.uncertainty else model.reach(grid)
    if asked.tta and reach.multiple > 1:
        # A mirrored region starts its window grid at the region's far end, the whole volume at the
        # volume's: the blocks would not add up to the in-memory result.
        raise IsovoxError(f"{model.card.architecture.get('name')} works on a grid of {reach.multiple} pixels, "
                          "so its mirrored (TTA) planes cannot be cut into blocks exactly; reconstruct in "
                          "memory or without tta")
    recipe = BlockRecipe(model.kind, "cubic", grid, dtype, model=str(folder.absolute()), device=device,
                         options=options, uncertainty=asked.uncertainty)
    return recipe, dict(kernel_radius=reach.kernel_radius, halo=reach.halo, multiple=reach.multiple)
