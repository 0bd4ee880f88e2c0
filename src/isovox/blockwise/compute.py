"""Reconstruct one block: read its region, run the in-memory method on it, crop, write.

Each method runs its own in-memory code on the region (:func:`isovox.resample.resample` for
interpolation, :func:`isovox.reconstruction.slicewise.reconstruct_with_model` for a 2D model
folder, the volumetric path for a 3D one, :func:`isovox.reconstruction.arbitrary.reconstruct_with_arbitrary_model`
for an arbitrary-scale one), so a block is the whole-volume result by construction
(:mod:`.plan` explains why the crop is exact) and no method is implemented twice.

Models are loaded once per worker: :data:`_MODELS` caches them per (folder, device) at module
level, which is per process, so worker threads share one copy, and every worker process (local
pool or dask.distributed) loads its own on its first block. With CUDA, ``device='auto'`` gives
worker ``i`` the GPU ``i mod (number of GPUs)``, one model per GPU and worker.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..reconstruction.ensemble import Reconstruction
from ..reconstruction.precision import DEFAULT_PRECISION
from ..resample import resample
from ..volume import Volume

INTERPOLATION, SLICEWISE, VOLUMETRIC, ARBITRARY = "interpolation", "slicewise", "volumetric", "arbitrary"

_MODELS: dict[tuple[str, str], tuple[Any, Any]] = {}
_MODEL_LOCK = threading.Lock()
_THREAD_SLOTS = itertools.count()
_THREAD = threading.local()
_threads_set = False


@dataclass(frozen=True)
class BlockRecipe:
    """What every block does with its region (small: it is sent with every task).

    ``kind``: :data:`INTERPOLATION`, :data:`SLICEWISE`, :data:`VOLUMETRIC` or :data:`ARBITRARY`; ``method``: the
    interpolation kernel (cubic under a model); ``target``: the full target spacing (z, y, x) in
    the input's unit; ``axis``: the low-resolution axis (None for a 3D model that restores the
    axes it was trained on); ``model``: a model folder path; ``model_target``: the target
    spacing of the axes a model refines; ``tta``, ``precision``: as for :func:`isovox.reconstruct`;
    ``uncertainty``: also return the spread of the TTA variants (2D models);
    ``torch_threads``: threads per worker for torch (None: leave torch's setting, as a
    dask.distributed worker sets it).
    """

    kind: str
    method: str
    target: tuple[float, float, float]
    axis: int | None
    dtype: str
    model: str | None = None
    model_target: float | None = None
    device: str = "auto"
    batch_size: int | None = None
    keep_acquired: bool = False
    tta: bool = False
    precision: str = DEFAULT_PRECISION
    uncertainty: bool = False
    torch_threads: int | None = None

    def describe(self) -> dict:
        """What identifies the computation in a resume record (not where or how fast it runs)."""
        return {"kind": self.kind, "method": self.method, "target": list(self.target), "axis": self.axis,
                "dtype": self.dtype, "model": self.model, "keep_acquired": self.keep_acquired,
                "tta": self.tta, "precision": self.precision, "uncertainty": self.uncertainty}


def reconstruct_region(region: Volume, recipe: BlockRecipe) -> Reconstruction:
    """The region reconstructed on the output grid, exactly as the whole volume would be, with its
    uncertainty when ``recipe.uncertainty`` (else None)."""
    dtype = np.dtype(recipe.dtype)
    if recipe.kind == INTERPOLATION:
        return Reconstruction(resample(region, recipe.target, recipe.method, dtype=dtype), None)
    model, card = cached_model(recipe)
    options = dict(device=model_device_of(model), dtype=dtype, target_spacing=recipe.model_target,
                   axis=recipe.axis, keep_acquired=recipe.keep_acquired, batch_size=recipe.batch_size,
                   progress=False)
    if recipe.kind == SLICEWISE:
        from ..reconstruction.slicewise import reconstruct_with_model, reconstruct_with_model_uncertainty

        if recipe.uncertainty:
            return reconstruct_with_model_uncertainty(region, model, card, precision=recipe.precision, **options)
        return Reconstruction(reconstruct_with_model(region, model, card, tta=recipe.tta,
                                                     precision=recipe.precision, **options), None)
    if recipe.kind == ARBITRARY:                # float32 only: bf16 was refused up front
        from ..reconstruction.arbitrary import reconstruct_with_arbitrary_model

        return Reconstruction(reconstruct_with_arbitrary_model(region, model, card, **options), None)
    from ..reconstruction.volumetric import reconstruct_with_model3d

    return Reconstruction(reconstruct_with_model3d(region, model, card, precision=recipe.precision, **options),
                          None)


# --- models, once per worker -----------------------------------------------------------------------

def cached_model(recipe: BlockRecipe) -> tuple[Any, Any]:
    """(network, card) of ``recipe.model`` on this worker's device, loaded on first use."""
    device = worker_device(recipe.device)
    key = (str(recipe.model), str(device))
    with _MODEL_LOCK:
        if key not in _MODELS:
            from ..store import load_model

            _set_torch_threads(recipe.torch_threads)
            _MODELS[key] = load_model(recipe.model, device=device)
        return _MODELS[key]


def model_device_of(model: Any) -> Any:
    from ..reconstruction.tiling import model_device

    return model_device(model)


def _set_torch_threads(threads: int | None) -> None:
    """Once per process: the driver's share of cores per worker (local pools only)."""
    global _threads_set
    if threads is not None and not _threads_set:
        import torch

        torch.set_num_threads(int(threads))
        _threads_set = True


def worker_slot() -> int:
    """A small integer naming this worker: the dask.distributed worker's name when it is a number
    (LocalCluster), else this pool process's ordinal, else this thread's order of first use."""
    try:
        from distributed import get_worker

        name = get_worker().name
        if isinstance(name, int):
            return name
    except (ImportError, ValueError):          # not inside a dask.distributed worker
        pass
    identity = multiprocessing.current_process()._identity      # (i,) in pool process i
    if identity:
        return identity[0] - 1
    if not hasattr(_THREAD, "slot"):
        _THREAD.slot = next(_THREAD_SLOTS)
    return _THREAD.slot


def worker_device(spec: str) -> Any:
    """The torch device this worker runs on: ``spec``, or for 'auto' one GPU per worker slot."""
    import torch

    from ..device import resolve_device

    if str(spec) != "auto":
        return resolve_device(spec)
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", worker_slot() % torch.cuda.device_count())
