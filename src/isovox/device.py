"""Which torch device a run uses: the one place that reads ``--device``.

``'auto'`` is CUDA when torch sees a GPU, else the CPU; ``'cpu'`` and ``'cuda[:N]'`` are taken as
given but must exist on this machine. Anything else is a one-line :class:`IsovoxError`, before
any model is built or any data is read onto a device.
"""

from __future__ import annotations

import torch

from .errors import IsovoxError

__all__ = ["resolve_device"]


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """'auto' -> 'cuda' when available, else 'cpu'; 'cuda[:N]' must exist; others are refused."""
    if isinstance(spec, torch.device):
        device = spec
    elif str(spec) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(str(spec))
        except (RuntimeError, TypeError):
            raise IsovoxError(f"unknown device {spec!r}; use 'auto', 'cpu' or 'cuda[:N]'") from None
    if device.type not in ("cpu", "cuda"):
        raise IsovoxError(f"device {str(spec)!r} is not supported; use 'auto', 'cpu' or 'cuda[:N]'")
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise IsovoxError(f"device {str(spec)!r} is not available on this machine (torch sees "
                          f"{torch.cuda.device_count()} CUDA device(s)); use 'auto' or 'cpu'")
    return device
