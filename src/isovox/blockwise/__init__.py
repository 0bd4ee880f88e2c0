"""Blockwise reconstruction of volumes larger than memory, on Dask (issue 8).

``reconstruct_blockwise(input, 'out.zarr', method='cubic' | model=DIR, block_size=128,
workers=N | scheduler=ADDRESS)`` reconstructs block by block into a chunked OME-Zarr output,
resumable, with a result equal to in-memory :func:`isovox.reconstruct`. Modules:

- :mod:`.plan`: the output grid cut into blocks, and the exact input region of each;
- :mod:`.source`: lazy input regions that travel to workers;
- :mod:`.compute`: one block by the in-memory method; models cached once per worker;
- :mod:`.records`: the work folder: partial output, done markers, completion;
- :mod:`.execute`: Dask execution (local threads / processes, dask.distributed) and progress;
- :mod:`.api`: the public function.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "reconstruct_blockwise": "isovox.blockwise.api",
    "blockwise_status": "isovox.blockwise.records",
    "make_plan": "isovox.blockwise.plan",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
