"""Resume records: the work folder where an unfinished blockwise output lives.

An output ``out.zarr`` is built in the hidden sibling ``.out.zarr.isovox-blockwise/`` (the same
directory, hence the same file system)::

    .out.zarr.isovox-blockwise/
      run.json       what is being computed (input, method, model weights' digest, block plan);
                     written last when the folder is set up, so a folder without it is discarded
      out.zarr/      the OME-Zarr output being filled, one zarr chunk per block
      done/Z_Y_X     one empty file per finished block, created by the worker *after* its write

The output path itself appears only when every block is done: :meth:`WorkFolder.finish` checks
that a marker exists for every block, adds the lower pyramid levels (read from the finished
level 0 chunk by chunk, on the driver: :mod:`isovox.io.pyramid`), records
``isovox.blockwise.complete`` in the group's attributes, and renames the folder into place (one
rename; an existing output is swapped out as :mod:`isovox.io.atomic` does). So a reader never sees an output that claims to be complete and is
not, and an interrupted run (Ctrl-C, a crash, a killed worker pool) leaves only the work folder,
which a rerun with the same settings picks up, skipping the finished blocks (a run stopped while
building the pyramid rebuilds it; the number of levels may change between runs). A block killed
between its write and its marker is simply computed again (writes are idempotent).
"""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, Sequence

from ..errors import DiskFull, IsovoxError
from ..jsontext import strict_json
from ..io.atomic import _move_into_place, check_output

WORK_SUFFIX = ".isovox-blockwise"
RUN_NAME = "run.json"
DONE_NAME = "done"

_ARRAYS: dict[tuple[str, str], Any] = {}   # zarr arrays opened in this process: (path, token)
_ARRAY_LOCK = threading.Lock()


def work_folder_of(output: Path) -> Path:
    return output.parent / f".{output.name}{WORK_SUFFIX}"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file (a model's weights), so a resumed run uses the same network."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class WorkFolder:
    """The work folder of one output (see the module docstring). Picklable: paths only."""

    def __init__(self, output: str | Path) -> None:
        self.output = Path(output).absolute()
        self.root = work_folder_of(self.output)
        self.data = self.root / self.output.name
        self.done = self.root / DONE_NAME
        self.token = ""                      # names this run's output array in worker caches

    # --- driver side --------------------------------------------------------------------------
    def start(self, record: dict, shape: Sequence[int], dtype: Any, geometry: Any,
              chunks: Sequence[int], *, resume: bool) -> set[str]:
        """Set up (or pick up) the folder for ``record``; returns the names of finished blocks."""
        from ..io import create_zarr_output

        record = json.loads(json.dumps(record))          # the form it takes once saved
        run = self.root / RUN_NAME
        if run.is_file() and resume:
            previous = json.loads(run.read_text())
            self.token = previous.pop("token", "")
            if previous == record and self.data.is_dir():
                return {p.name for p in self.done.iterdir()} if self.done.is_dir() else set()
            changed = sorted(k for k in set(previous) | set(record) if previous.get(k) != record.get(k))
            raise IsovoxError(f"{self.root} holds an unfinished run with other settings (changed: "
                              f"{', '.join(changed) or 'output'}); pass resume=False (--no-resume) to start over")
        shutil.rmtree(self.root, ignore_errors=True)
        self.done.mkdir(parents=True)
        create_zarr_output(self.data, shape, dtype, geometry, chunks)
        self.token = uuid.uuid4().hex
        run.write_text(strict_json({**record, "token": self.token}))
        return set()

    def finish(self, names: Sequence[str], *, overwrite: bool, summary: dict,
               levels: int | None = None) -> Path:
        """Check every block is done, add the pyramid's ``levels`` (:func:`isovox.io.write`'s
        meaning), mark the output complete, move it into place."""
        import zarr

        missing = [n for n in names if not (self.done / n).exists()]
        if missing:
            raise IsovoxError(f"{len(missing)} of {len(names)} blocks are not done (first: {missing[0]}); "
                              "run again to resume")
        check_output(self.output, overwrite=overwrite)
        self._add_levels(levels)
        group = zarr.open_group(str(self.data), mode="r+")
        own = dict(group.attrs.get("isovox") or {})
        own["blockwise"] = {**summary, "blocks": len(names), "complete": True}
        group.attrs["isovox"] = own
        _move_into_place(self.data, self.output)
        shutil.rmtree(self.root, ignore_errors=True)
        return self.output

    def _add_levels(self, levels: int | None) -> None:
        from ..io.pyramid import add_levels

        try:
            add_levels(self.data, levels)
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise DiskFull(f"no space left on the device while building the pyramid of {self.output}; the "
                           f"finished blocks are kept in {self.root}: free some space and run again") from None

    # --- worker side ---------------------------------------------------------------------------
    def is_done(self, name: str) -> bool:
        return (self.done / name).exists()

    def mark_done(self, name: str) -> None:
        (self.done / name).touch()

    def array(self) -> Any:
        """The output's zarr array, opened once per process."""
        import zarr

        path = str(self.data / "0")
        key = (path, self.token)            # a new run at the same path is a new array
        with _ARRAY_LOCK:
            if key not in _ARRAYS:
                _ARRAYS[key] = zarr.open_array(path, mode="r+")
            return _ARRAYS[key]


def blockwise_status(output: str | Path) -> dict:
    """Where a blockwise output stands: ``{'state': 'complete' | 'incomplete' | 'absent', ...}``.

    'incomplete' (an interrupted run) also gives ``done`` and ``total`` blocks.
    """
    folder = WorkFolder(output)
    run = folder.root / RUN_NAME
    if run.is_file():
        total = int(json.loads(run.read_text()).get("plan", {}).get("blocks", 0))
        done = sum(1 for _ in folder.done.iterdir()) if folder.done.is_dir() else 0
        return {"state": "incomplete", "done": done, "total": total, "work_folder": str(folder.root)}
    if folder.output.exists():
        return {"state": "complete"}
    return {"state": "absent"}
