"""Training settings and the pieces of the loop that depend only on them: device, mixed
precision, learning-rate schedule, PSNR. See :mod:`isovox.training.loop` for the choices made.

:class:`TrainSettings` is the one class for these settings: the loop takes it, and every recipe's
config subclasses it (adding its own fields), so a field such as ``warmup`` is declared, defaulted
and checked in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import IsovoxError
from ..intensity import PERCENTILES

SCHEDULES = ("cosine", "step", "constant")
AMP_MODES = ("auto", "off", "bf16", "fp16")


@dataclass
class TrainSettings:
    """Budget, optimiser, sampling and bookkeeping of one training run (choices: :mod:`isovox.training.loop`).

    The loop reads the budget, optimiser and bookkeeping fields. The sampling fields are the
    recipe's: it cuts ``patch_size`` patches, draws ``batch_size`` of them per iteration, scales
    intensities by the ``percentiles`` range and holds out ``validation_fraction`` of the planes;
    the loop only records them. ``patch_size`` / ``batch_size`` None: the recipe's size for the
    device (:func:`isovox.training.recipes.common.sizes` fills them in before the loop starts).
    """

    patch_size: int | None = None
    batch_size: int | None = None
    iterations: int | None = 1000
    minutes: float | None = None
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    schedule: str = "cosine"
    min_lr_factor: float = 0.01
    warmup: int = 50
    grad_clip: float | None = 1.0
    percentiles: tuple[float, float] = PERCENTILES
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    validation_fraction: float = 0.1
    validate_every: int = 200
    validation_batch: int = 16
    checkpoint_every: int = 200

    def check(self) -> "TrainSettings":
        if self.iterations is None and self.minutes is None:
            raise IsovoxError("give a training budget: iterations, minutes, or both")
        if self.iterations is not None and int(self.iterations) < 1:
            raise IsovoxError(f"iterations must be >= 1, got {self.iterations}")
        if self.minutes is not None and not (math.isfinite(self.minutes) and self.minutes > 0):
            raise IsovoxError(f"minutes must be a positive number, got {self.minutes}")
        if self.schedule not in SCHEDULES:
            raise IsovoxError(f"unknown lr schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.amp not in AMP_MODES:
            raise IsovoxError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if not self.lr > 0 or min(self.validate_every, self.checkpoint_every, self.validation_batch) < 1:
            raise IsovoxError("lr must be positive and validate_every, checkpoint_every, validation_batch >= 1")
        return self


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for full float32 (always on CPU)."""
    if device.type != "cuda" or mode == "off":
        return None
    if mode == "fp16" or (mode == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def lr_scale(settings: TrainSettings, iteration: int, progress: float) -> float:
    """Multiplier of ``settings.lr`` at ``iteration`` and budget ``progress`` in [0, 1]."""
    warm = min(1.0, (iteration + 1) / settings.warmup) if settings.warmup > 0 else 1.0
    progress = min(max(progress, 0.0), 1.0)
    if settings.schedule == "constant":
        return warm
    if settings.schedule == "step":
        return warm * 0.5 ** math.floor(min(progress, 0.9999) * 5)
    low = settings.min_lr_factor
    return warm * (low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress)))


def psnr(mse: float) -> float:
    """PSNR in dB for peak 1 (normalised intensities)."""
    return float("inf") if mse <= 0 else float(-10.0 * math.log10(mse))
