"""Training checkpoints and interruption handling.

A checkpoint is one file, ``WORKDIR/checkpoint.pt``, holding everything needed to continue a
run as if it had never stopped: every network and optimiser, the gradient-scaler state, the iteration
count, the seconds spent so far, the random-number states (torch, CUDA, numpy's global
generator, Python's ``random``), the history and the best-on-validation weights. It is written
to a temporary sibling and renamed (:func:`isovox.io.atomic.atomic_output`), so a crash while
saving leaves the previous checkpoint intact. Everything is stored as tensors and plain Python
types, so it loads with ``torch.load(weights_only=True)`` (no pickled code runs).

Interruptions: inside :class:`StopRequest`, SIGINT (Ctrl-C) and SIGTERM only set a flag that
the loop checks after each iteration; it then saves and raises :class:`TrainingInterrupted`.
A second signal raises ``KeyboardInterrupt`` at once (the periodic checkpoint remains).
"""

from __future__ import annotations

import random
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import IsovoxError
from ..io.atomic import atomic_output

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = 2      # 2: several networks and optimisers


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after a checkpoint was saved because training was interrupted."""


def rng_state() -> dict:
    """Every global random state, as tensors and plain Python values."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def cpu_state(module: torch.nn.Module) -> dict:
    """A detached CPU copy of a module's state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus the format number) to ``path`` atomically."""
    with atomic_output(Path(path), suffix=".pt", overwrite=True) as scratch:
        torch.save({"format": FORMAT, **payload}, scratch)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The payload of a checkpoint, with a one-line error if it cannot be read."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (any unpickling problem means an unusable file)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise IsovoxError(f"cannot read checkpoint {path}: {first}; delete it to start over") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise IsovoxError(f"{path} is not an isovox training checkpoint (format {FORMAT}); delete it to start over")
    return payload


class StopRequest:
    """Context manager turning SIGINT/SIGTERM into a flag (main thread only; see module doc)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    self._previous[sig] = signal.signal(sig, self._handle)
                except (ValueError, OSError):   # e.g. an embedded interpreter without signals
                    pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:          # second request: stop now
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def requested(self) -> bool:
        return self.signal is not None
