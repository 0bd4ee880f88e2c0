"""Measuring helpers of ``benchmarks/throughput.py``: network FLOPs, peak memory, conv roofline.

- :class:`FlopTally` counts the FLOPs of every network forward pass run while it is active, in
  any thread. ``torch.utils.flop_counter.FlopCounterMode`` is a dispatch mode, and dispatch modes
  are thread-local: one wrapped around ``reconstruct_blockwise`` sees nothing of the Dask worker
  threads that run the network. So the tally installs global module hooks instead; the outermost
  module call of each thread opens its own ``FlopCounterMode`` and adds its total when it returns.
  Counted: what ``FlopCounterMode`` counts (convolutions, matrix products, attention; 2 FLOPs per
  multiply-add), plus the CPU attention kernel it does not know (counted as its CUDA kernels
  are); element-wise work (softmax, normalisation, activations) is not.
- :class:`PeakMemory`: on a CUDA device ``torch.cuda.max_memory_allocated`` after a reset; on the
  CPU the rise of the resident set, the peak (``VmHWM``, reset through ``/proc/self/clear_refs``
  where the kernel allows it) minus the resident set at the start.
- :func:`conv_roofline`: the best throughput of one 3x3 ``Conv2d`` (C -> C channels, padding 1)
  over C = 32, 64, 128 on a batch of 256 x 256 images, in fp32 and under bf16 autocast.
"""

from __future__ import annotations

import threading
import time

import torch
from torch import nn
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

from harness import peak_resident_bytes, reset_peak_resident, resident_bytes

ROOFLINE_CHANNELS = (32, 64, 128)
ROOFLINE_SIZE = 256
PRECISIONS = ("fp32", "bf16")


# --- FLOPs ----------------------------------------------------------------------------------------

def _attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def _extra_formulas() -> dict:
    """FLOP formulas for kernels ``FlopCounterMode`` misses: scaled dot-product attention on the
    CPU (without it an a2i transformer's attention counts 0 there, but not on CUDA)."""
    cpu_attention = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_attention is None or not hasattr(flop_counter, "sdpa_flop_count"):
        return {}
    return {cpu_attention: _attention_flops}


class FlopTally:
    """``with FlopTally() as tally: ...`` then ``tally.total``: FLOPs of the networks run inside."""

    def __init__(self) -> None:
        self.total = 0
        self.passes = 0
        self._local = threading.local()
        self._lock = threading.Lock()
        self._handles: list = []

    def __enter__(self) -> "FlopTally":
        self._handles = [nn.modules.module.register_module_forward_pre_hook(self._before),
                         nn.modules.module.register_module_forward_hook(self._after)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def _before(self, module: nn.Module, args) -> None:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:                         # the outermost module of this thread: count it
            self._local.mode = FlopCounterMode(display=False, custom_mapping=_extra_formulas())
            self._local.mode.__enter__()
        self._local.depth = depth + 1

    def _after(self, module: nn.Module, args, output) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            mode = self._local.mode
            mode.__exit__(None, None, None)
            with self._lock:
                self.total += mode.get_total_flops()
                self.passes += 1


# --- memory ---------------------------------------------------------------------------------------

class PeakMemory:
    """Peak memory of the block: ``device_bytes`` (CUDA allocator peak, None on the CPU),
    ``host_rise_bytes`` (peak resident set minus the resident set at the start) and
    ``host_peak_reset`` (False: the host peak is the process's lifetime peak)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.device_bytes: int | None = None
        self.host_rise_bytes = 0
        self.host_peak_reset = False

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        self.host_peak_reset = reset_peak_resident()
        self._host_start = resident_bytes()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.device_bytes = torch.cuda.max_memory_allocated(self.device)
        self.host_rise_bytes = max(0, peak_resident_bytes() - self._host_start)

    @property
    def kind(self) -> str:
        """What :attr:`bytes` is, in words."""
        if self.device_bytes is not None:
            return "cuda max allocated"
        return "host RSS rise" if self.host_peak_reset else "host RSS rise (lifetime peak)"

    @property
    def bytes(self) -> int:
        """The figure to report: device peak on CUDA, host rise on the CPU."""
        return self.device_bytes if self.device_bytes is not None else self.host_rise_bytes


# --- roofline -------------------------------------------------------------------------------------

def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, precision: str):
    """bf16 autocast for ``'bf16'``, a disabled autocast (plain fp32) for ``'fp32'``."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def conv_gflops(device: torch.device, channels: int, batch: int, precision: str,
                channels_last: bool, min_seconds: float) -> float:
    """GFLOP/s of one 3x3 conv, ``channels`` -> ``channels``, on ``batch`` x 256 x 256 inputs."""
    conv = nn.Conv2d(channels, channels, 3, padding=1).to(device).eval()
    x = torch.randn(batch, channels, ROOFLINE_SIZE, ROOFLINE_SIZE, device=device)
    if channels_last:
        conv, x = conv.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    flops = 2 * channels * channels * 9 * ROOFLINE_SIZE * ROOFLINE_SIZE * batch
    with torch.inference_mode(), autocast(device, precision):
        conv(x)                                # warm-up: algorithm choice, allocations
        synchronize(device)
        calls, start = 0, time.perf_counter()
        while calls < 2 or time.perf_counter() - start < min_seconds:
            conv(x)
            calls += 1
            synchronize(device)
        elapsed = time.perf_counter() - start
    return flops * calls / elapsed / 1e9


def conv_roofline(device: torch.device, batch: int, min_seconds: float = 0.3) -> dict:
    """Best conv GFLOP/s per precision over ROOFLINE_CHANNELS and both memory formats.

    Returns ``{'fp32': {'gflops': best, 'channels': C, 'channels_last': bool, 'all': {...}}, ...}``.
    cuDNN may benchmark its algorithms here (restored afterwards): the roofline is the best the
    device does, not what one heuristic picks.
    """
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        result = {}
        for precision in PRECISIONS:
            measured = {(c, last): conv_gflops(device, c, batch, precision, last, min_seconds)
                        for c in ROOFLINE_CHANNELS for last in (False, True)}
            (channels, last), best = max(measured.items(), key=lambda item: item[1])
            result[precision] = {"gflops": best, "channels": channels, "channels_last": last,
                                 "all": {f"{c}{' channels_last' if l else ''}": round(g, 2)
                                         for (c, l), g in measured.items()}}
        return result
    finally:
        torch.backends.cudnn.benchmark = previous
