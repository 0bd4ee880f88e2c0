"""Run the blocks on Dask: the local scheduler (threads or processes) or a dask.distributed cluster.

One task per block; a task reads its region, reconstructs it, writes its zarr chunk and its done
marker (:class:`BlockJob`), and returns the number of voxels it wrote. The driver only counts:
no block data passes through it, so its memory does not grow with the volume.

- Local (default): ``dask.compute`` with ``scheduler='threads'`` or ``'processes'`` and
  ``num_workers=workers``. Threads share one model and one opened input; processes each load
  their own. Each worker gets ``cores // workers`` torch threads, so N workers do not start N
  times as many compute threads as there are cores. A worker process that dies (killed, out of
  memory) breaks the local pool and fails the run; the blocks finished so far keep their markers
  and a rerun resumes.
- ``scheduler=ADDRESS`` (or a ``distributed.Client``): the job is scattered to the workers once,
  and each block is submitted as a task. The scheduler re-runs the tasks of a worker that dies on
  the others (dask.distributed's own fault tolerance, up to its ``allowed-failures``), so the run
  completes; ``retries`` also re-runs a task that raised. Torch threads are left to the cluster
  (dask's nanny sets ``OMP_NUM_THREADS=1`` and runs ``--nthreads`` tasks per worker).

Progress: one bar of output voxels (isovox's :func:`~isovox.progress.progress_bar`: voxels/s and
ETA) advanced as each block finishes.
"""

from __future__ import annotations

import os
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from ..errors import IsovoxError
from ..progress import progress_bar
from .compute import BlockRecipe, reconstruct_region
from .plan import Block
from .records import WorkFolder
from .source import InputSource

#: Extra attempts of a block that raised on a dask.distributed worker.
RETRIES = 2


@dataclass(frozen=True)
class BlockJob:
    """Everything a worker needs to produce any block of one run; ``spread``: the work folder of
    the uncertainty output, when the recipe asks for one."""

    source: InputSource
    recipe: BlockRecipe
    work: WorkFolder
    spread: WorkFolder | None = None


def run_block(job: BlockJob, block: Block) -> int:
    """Compute, write and mark one block; returns its voxel count (0 if it was already done).

    With an uncertainty output, a block counts as done when it is marked in both outputs."""
    folders = [job.work] if job.spread is None else [job.work, job.spread]
    if all(work.is_done(block.name) for work in folders):   # a retried task whose first attempt got this far
        return 0
    region = job.source.region(block.region_start, block.region_stop)
    result = reconstruct_region(region, job.recipe)
    if job.spread is not None:
        _write_block(job.spread, block, result.uncertainty)
    _write_block(job.work, block, result.volume)
    return block.voxels


def _write_block(work: WorkFolder, block: Block, result) -> None:
    data = result.data[block.crop]
    if data.shape != block.shape:             # a plan/method mismatch: never write a wrong block
        raise RuntimeError(f"block {block.name}: reconstruction gave {data.shape}, expected {block.shape}")
    work.array()[block.slices] = data
    work.mark_done(block.name)


def execute(job: BlockJob, blocks: Sequence[Block], *, workers: int | None = None, scheduler: Any = None,
            processes: bool = False, progress: bool = True, description: str = "blockwise") -> None:
    """Run ``blocks`` of ``job`` on Dask (see the module docstring)."""
    if not blocks:
        return
    total = sum(b.voxels for b in blocks)
    bar = progress_bar(total, description) if progress else nullcontext(lambda n: None)
    with bar as advance:
        if scheduler is not None:
            _run_distributed(job, blocks, scheduler, advance)
        else:
            _run_local(job, blocks, workers, processes, advance)


def local_torch_threads(workers: int) -> int:
    """Torch threads per worker of a local pool: the cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _run_local(job: BlockJob, blocks: Sequence[Block], workers: int | None, processes: bool,
               advance: Callable[[int], None]) -> None:
    import dask
    from dask.callbacks import Callback

    count = int(workers or os.cpu_count() or 1)
    threads = local_torch_threads(count) if job.recipe.kind != "interpolation" else None
    # Worker processes set their torch threads when they load the model; thread workers share
    # the driver's torch, set around the computation.
    recipe = replace(job.recipe, torch_threads=threads if processes else None)
    shared = dask.delayed(replace(job, recipe=recipe), name="isovox-job", pure=False)
    tasks = [dask.delayed(run_block, pure=False)(shared, block, dask_key_name=f"isovox-block-{block.name}")
             for block in blocks]

    def finished(key: Any, result: Any, *rest: Any) -> None:
        if isinstance(result, int):
            advance(result)

    with Callback(posttask=finished):
        if processes:
            dask.compute(*tasks, scheduler="processes", num_workers=count)
        else:
            with _torch_threads(threads):
                dask.compute(*tasks, scheduler="threads", num_workers=count)


class _torch_threads:
    """Set torch's thread count for the driver process (thread workers) and restore it after."""

    def __init__(self, threads: int | None) -> None:
        self.threads, self.previous = threads, None

    def __enter__(self) -> None:
        if self.threads is not None:
            import torch

            self.previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            import torch

            torch.set_num_threads(self.previous)


#: Seconds to wait for a scheduler before saying it cannot be reached.
CONNECT_TIMEOUT = 10


def _connect(client_class: Any, address: str) -> Any:
    if not isinstance(address, str) or ":" not in address:
        raise IsovoxError(f"scheduler address {address!r} is not an address; use e.g. tcp://host:8786")
    try:
        return client_class(address, set_as_default=False, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as error:
        _collect_quietly()
        raise IsovoxError(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT} s "
                          f"({type(error).__name__}); check the address and that it is running") from None


def _collect_quietly() -> None:
    """A client that failed to connect still closes itself in ``__del__``, which times out again
    and prints an 'Exception ignored' traceback: collect it now, with that report silenced."""
    import gc
    import sys

    hook, sys.unraisablehook = sys.unraisablehook, lambda report: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook


def _run_distributed(job: BlockJob, blocks: Sequence[Block], scheduler: Any,
                     advance: Callable[[int], None]) -> None:
    from distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else _connect(Client, scheduler)
    run = uuid.uuid4().hex[:8]
    try:
        shared = client.scatter(job, broadcast=True, hash=False)
        futures = [client.submit(run_block, shared, block, key=f"isovox-block-{run}-{block.name}",
                                 pure=False, retries=RETRIES) for block in blocks]
        try:
            for future in as_completed(futures, loop=client.loop):
                advance(future.result())
        finally:
            client.cancel(futures)
    finally:
        if client is not scheduler:
            client.close()
