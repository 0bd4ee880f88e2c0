"""The number format a network runs in at reconstruction: float32, or bfloat16 under autocast.

``precision`` is one of :data:`PRECISIONS`:

* ``'fp32'``: every layer in float32. The reference: tests compare against it.
* ``'bf16'``: the forward pass under ``torch.autocast(device_type, dtype=torch.bfloat16)``, on
  CPU and CUDA alike. Autocast runs convolutions and matrix products in bfloat16 (float32's
  exponent range, 8 bits of mantissa: about 2-3 significant digits), where CPUs with
  AVX512-BF16/AMX and GPUs compute faster; numerically sensitive ops stay float32. Outputs are
  turned back into float32 before fusion and denormalisation, so averaging and the intensity
  mapping never lose precision, only the network does.
* ``'auto'`` (the default): bf16 on CUDA, and on CPUs that compute bfloat16 natively
  (AVX512-BF16 or AMX-BF16, :func:`native_bf16_cpu`); fp32 on other CPUs, where autocast would
  emulate bf16 and run slower. Measured on 2 cores with AVX512-BF16 (benchmarks/precision.py):
  bf16 changes PSNR by at most 0.001 dB on simulated FlyEM x4 and on withheld real CREMI and
  ISBI sections, and reconstructs 1.6-2.2x faster. :func:`resolve_precision` is the one place
  that decides.

Importable without torch, so :func:`check_precision` can refuse a bad value before any work.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any

from ..errors import IsovoxError

PRECISIONS = ("fp32", "bf16", "auto")
CPUINFO = "/proc/cpuinfo"      # where Linux lists the CPU's flags
DEFAULT_PRECISION = "auto"


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a one-line error."""
    if precision not in PRECISIONS:
        raise IsovoxError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


def resolve_precision(precision: str, device: Any) -> str:
    """'fp32' or 'bf16': what ``precision`` means on ``device`` (a torch device)."""
    if check_precision(precision) != "auto":
        return precision
    return "bf16" if device.type == "cuda" or native_bf16_cpu() else "fp32"


@lru_cache(maxsize=1)
def native_bf16_cpu() -> bool:
    """Whether this CPU has bfloat16 arithmetic (the Linux CPU flags ``avx512_bf16`` or
    ``amx_bf16``; False where they cannot be read). ``ISOVOX_CPU_BF16=0`` or ``1`` overrides."""
    forced = os.environ.get("ISOVOX_CPU_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        with open(CPUINFO, encoding="ascii", errors="replace") as info:
            flags = {word for line in info if line.startswith("flags") for word in line.split()}
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def network_precision(precision: str, device: Any) -> AbstractContextManager:
    """The context a forward pass runs in: bf16 autocast, or a disabled autocast for fp32 (which
    also shields the pass from an autocast the caller may have entered)."""
    import torch

    bf16 = resolve_precision(precision, device) == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
