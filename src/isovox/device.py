"""Which torch device: the one place that reads ``--device`` and asks where a model lives.

:func:`resolve_device` turns what a user typed into a device. ``'auto'`` is CUDA when torch sees
a GPU, else the CPU; ``'cpu'`` and ``'cuda[:N]'`` are taken as given but must exist on this
machine; anything else is a one-line :class:`IsovoxError`, before any model is built or any data
is read onto a device. A :class:`torch.device` is returned as it is: it comes from code, not from
a user (a worker's own GPU, the ``meta`` device in a test), and that code has chosen already.

:func:`model_device` answers "which device is this network on", for code that must put its
inputs beside a network it was handed.
"""

from __future__ import annotations

import torch
from torch import nn

from .errors import IsovoxError

__all__ = ["resolve_device", "model_device"]

_USE = "use 'auto', 'cpu' or 'cuda[:N]'"


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """'auto' -> 'cuda' when available, else 'cpu'; 'cuda[:N]' must exist; a torch.device passes."""
    if isinstance(spec, torch.device):
        return spec
    if str(spec) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(str(spec))
    except (RuntimeError, TypeError):
        raise IsovoxError(f"unknown device {spec!r}; {_USE}") from None
    if device.type not in ("cpu", "cuda"):
        raise IsovoxError(f"device {str(spec)!r} is not supported; {_USE}")
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise IsovoxError(f"device {str(spec)!r} is not available on this machine (torch sees "
                          f"{torch.cuda.device_count()} CUDA device(s)); use 'auto' or 'cpu'")
    return device


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter, else of its first buffer (a fixed filter has
    only buffers), else the CPU (a module holding no tensors runs wherever its input is)."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")
