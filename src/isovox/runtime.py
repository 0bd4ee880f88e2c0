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


# --- memory: refuse work that cannot fit, before allocating it -----------------------------------

def available_memory() -> int | None:
    """Bytes the process can still allocate (Linux MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits_in_memory(needed_bytes: float, what: str, hint: str = "") -> None:
    """Raise a one-line IsovoxError if ``needed_bytes`` exceeds the memory available now."""
    from .errors import IsovoxError

    available = available_memory()
    if available is not None and needed_bytes > available:
        suffix = f"; {hint}" if hint else ""
        raise IsovoxError(f"{what} needs about {_gib(needed_bytes)} of memory, more than the "
                          f"{_gib(available)} this machine has available{suffix}")


def _gib(count: float) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**28 else f"{count / 2**20:.0f} MiB"
