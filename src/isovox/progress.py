"""Progress bars for long work: one place decides how they look and when they are silent."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from tqdm.auto import tqdm


def progress_enabled() -> bool:
    """Bars on a terminal unless ISOVOX_PROGRESS=0; never in a pipe unless ISOVOX_PROGRESS=1."""
    setting = os.environ.get("ISOVOX_PROGRESS")
    if setting is not None:
        return setting not in ("0", "false", "no", "")
    return sys.stderr.isatty()


@contextmanager
def progress_bar(total: int, description: str, unit: str = "voxel") -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` callback driving a bar of ``total`` units (or a no-op when silent)."""
    if not progress_enabled():
        yield lambda n: None
        return
    with tqdm(total=total, desc=description, unit=unit, unit_scale=True, leave=False,
              dynamic_ncols=True) as bar:
        yield bar.update
