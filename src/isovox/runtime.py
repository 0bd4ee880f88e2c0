"""Process-level tuning for CPU inference and training.

glibc returns every large block (above a dynamic threshold of at most 32 MiB) to the kernel when
it is freed, so a network whose activations are tens of MiB maps, page-faults and unmaps fresh
memory at every layer. On 2 cores that doubled the wall time of slice-wise reconstruction (drcnet
on FlyEM x4: 61 s, of which 37 s in the kernel) against 33 s with the thresholds raised. isovox
raises them once, when it first runs a network on the CPU; the cost is that freed memory stays
with the process for reuse instead of going back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 1 << 30
_tuned = False


def tune_cpu_allocator() -> bool:
    """Keep freed large blocks in the heap (glibc only; a no-op elsewhere). True if applied."""
    global _tuned
    if _tuned or not sys.platform.startswith("linux"):
        return _tuned
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):        # musl or another libc without mallopt
        return False
    trimmed = mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES)
    mapped = mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)
    _tuned = bool(trimmed and mapped)
    return _tuned
