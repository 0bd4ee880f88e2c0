"""Reconstruct one block: read its region, run the in-memory method on it, crop, write.

Each method runs its own in-memory code on the region (:func:`isovox.resample.resample` for
interpolation, the opened model's :meth:`~isovox.reconstruction.model.ReconstructionModel.run`
for a model folder of any kind) on the grid computed once for the whole volume, so a block is
the whole-volume result by construction (:mod:`.plan` explains why the crop is exact) and no
method is implemented twice.

Models are opened once per worker: :data:`_MODELS` caches them per (folder, device) at module
level, which is per process, so worker threads share one copy, and every worker process (local
pool or dask.distributed) opens its own on its first block. With CUDA, ``device='auto'`` gives
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
from ..reconstruction.grid import Grid
from ..resample import resample
from ..volume import Volume

INTERPOLATION = "interpolation"

_MODELS: dict[tuple[str, str], Any] = {}
_MODEL_LOCK = threading.Lock()
_THREAD_SLOTS = itertools.count()
_THREAD = threading.local()
_threads_set = False


@dataclass(frozen=True)
class BlockRecipe:
    """What every block does with its region (small: it is sent with every task).

    ``kind``: :data:`INTERPOLATION` or a model kind ('2d', '3d', 'arbitrary-scale');
    ``method``: the interpolation kernel (cubic under a model); ``grid``: the whole volume's
    :class:`~isovox.reconstruction.grid.Grid` (spacing does not change with the crop, so it is
    every region's too); ``model``: a model folder path; ``options``: the model's
    :class:`~isovox.reconstruction.model.RunOptions`; ``uncertainty``: also return the spread of
    the TTA variants (2D models); ``torch_threads``: threads per worker for torch (None: leave
    torch's setting, as a dask.distributed worker sets it).
    """

    kind: str
    method: str
    grid: Grid
    dtype: str
    model: str | None = None
    device: str = "auto"
    options: Any = None
    uncertainty: bool = False
    torch_threads: int | None = None

    def describe(self) -> dict:
        """What identifies the computation in a resume record (not where or how fast it runs)."""
        record = {"kind": self.kind, "method": self.method, "target": list(self.grid.target),
                  "axis": self.grid.axis, "dtype": self.dtype, "model": self.model,
                  "uncertainty": self.uncertainty}
        if self.options is not None:
            record.update(keep_acquired=self.options.keep_acquired, tta=self.options.tta,
                          precision=self.options.precision)
        return record


def reconstruct_region(region: Volume, recipe: BlockRecipe) -> Reconstruction:
    """The region reconstructed on the output grid, exactly as the whole volume would be, with its
    uncertainty when ``recipe.uncertainty`` (else None)."""
    dtype = np.dtype(recipe.dtype)
    if recipe.kind == INTERPOLATION:
        return Reconstruction(resample(region, recipe.grid.target, recipe.method, dtype=dtype), None)
    return cached_model(recipe).run(region, recipe.grid, dtype, recipe.options, recipe.uncertainty)


# --- models, once per worker -----------------------------------------------------------------------

def cached_model(recipe: BlockRecipe) -> Any:
    """The opened ``recipe.model`` on this worker's device, opened on first use."""
    device = worker_device(recipe.device)
    key = (str(recipe.model), str(device))
    with _MODEL_LOCK:
        if key not in _MODELS:
            from ..reconstruction.folder import open_model

            _set_torch_threads(recipe.torch_threads)
            _MODELS[key] = open_model(recipe.model, device=device)
        return _MODELS[key]


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
