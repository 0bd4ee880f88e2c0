"""The one training loop every recipe uses: :func:`fit`.

Optimiser: Adam (paper 001, section II-B.3: Adam, initial learning rate 1e-4). Choices where
the paper is silent, all fields of :class:`TrainSettings`:

- Schedule (``schedule``): 'cosine' (default) decays the rate from ``lr`` to
  ``lr * min_lr_factor`` over the budget; 'step' halves it every 20 % of the budget; 'constant'
  keeps it. ``warmup`` iterations ramp it up linearly first (stabilises transformers). Budget
  progress is ``iteration / iterations``, or with a minutes budget the fraction of the time
  spent (the larger of the two when both are set; time-based runs are not bit-reproducible).
- Gradient-norm clipping at ``grad_clip`` (safety under mixed precision).
- Device 'auto' = the first CUDA GPU if there is one. Mixed precision ('auto') only on CUDA:
  bfloat16 autocast where supported, else float16 with a gradient scaler. The loss is computed
  in float32. On CUDA the next batch is prepared in a background thread while the GPU trains.
- Validation PSNR (dB) on the fixed held-out pairs, with peak 1 (intensities are normalised so
  that the volume's 0.1-99.9 percentile range spans 1), pooled over all pairs; the input's PSNR
  (the cubic interpolation) is measured once for comparison. The best-on-validation weights are
  kept and loaded into the model at the end (the final weights when there is no validation).

``sample_batch(iteration) -> (inputs, targets)`` (numpy or tensors, (N, 1, H, W)) should be a
pure function of the iteration (e.g. :meth:`isovox.pairs.LateralPairs.batch_sampler`): that is
what makes a resumed run draw the same batches as an uninterrupted one. With the same seed and
an iterations budget, CPU runs are deterministic, also across an interruption and a resume.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..errors import IsovoxError
from ..runtime import tune_cpu_allocator
from .checkpoint import (CHECKPOINT_NAME, StopRequest, TrainingInterrupted, cpu_state, load_checkpoint,
                         rng_state, save_checkpoint, set_rng_state)
from .progress import LoopProgress
from .settings import TrainSettings, lr_scale, psnr, resolve_amp, resolve_device

__all__ = ["TrainSettings", "Trainer", "fit"]


def _tensor(values: Any, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32) if not torch.is_tensor(values) else values,
                           dtype=torch.float32).to(device, non_blocking=True)


class _Batches:
    """``get(i)`` = ``sample_batch(i)``; on CUDA batch ``i + 1`` is drawn while ``i`` trains."""

    def __init__(self, sample_batch: Callable[[int], Any], prefetch: bool) -> None:
        self.sample_batch, self.pool, self.next = sample_batch, None, None
        if prefetch:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="isovox-batches")

    def get(self, i: int) -> Any:
        if self.pool is None:
            return self.sample_batch(i)
        future = self.next if self.next is not None and self.next[0] == i else (i, self.pool.submit(self.sample_batch, i))
        self.next = (i + 1, self.pool.submit(self.sample_batch, i + 1))
        return future[1].result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class Trainer:
    """State of one :func:`fit` call; see the module docstring."""

    def __init__(self, model: nn.Module, loss_fn: Callable, validation: Any, settings: TrainSettings,
                 workdir: Path) -> None:
        self.settings = settings.check()
        self.device = resolve_device(settings.device)
        self.amp = resolve_amp(settings.amp, self.device)
        self.path = Path(workdir) / CHECKPOINT_NAME
        torch.manual_seed(settings.seed)
        self.model = model.to(self.device)
        if self.device.type == "cpu":
            tune_cpu_allocator()
        self.loss_fn = loss_fn.to(self.device) if isinstance(loss_fn, nn.Module) else loss_fn
        self.optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, betas=tuple(settings.betas),
                                          weight_decay=settings.weight_decay)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        self.validation = None if validation is None else tuple(torch.as_tensor(np.asarray(v, np.float32)) for v in validation)
        self.iteration, self.elapsed_before, self.best = 0, 0.0, None
        self.history: dict[str, Any] = {
            "iterations": 0, "elapsed_seconds": 0.0, "loss": [], "validation": [], "input_psnr": None,
            "best_psnr": None, "best_iteration": None, "final_psnr": None, "runs": 0,
            "device": str(self.device), "amp": None if self.amp is None else str(self.amp).replace("torch.", ""),
            "settings": asdict(settings)}
        self.pending: list[torch.Tensor] = []
        self.torn = False                # True while parameters are being updated

    # --- budget and bookkeeping -----------------------------------------------------------
    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def progress(self) -> float:
        s, parts = self.settings, [0.0]
        if s.iterations:
            parts.append(self.iteration / s.iterations)
        if s.minutes:
            parts.append(self.elapsed() / (60.0 * s.minutes))
        return max(parts)

    def done(self) -> bool:
        s = self.settings
        return bool((s.iterations and self.iteration >= s.iterations) or (s.minutes and self.elapsed() >= 60 * s.minutes))

    def flush(self) -> float | None:
        """Move pending losses into the history (one device sync); the latest loss."""
        if self.pending:
            values = torch.stack(self.pending).float().cpu().tolist()
            self.pending.clear()
            if not all(math.isfinite(v) for v in values):
                raise IsovoxError(f"training diverged before iteration {self.iteration} (loss {values[-1]}); "
                                  "lower lr or switch amp off")
            self.history["loss"].extend(values)
        return self.history["loss"][-1] if self.history["loss"] else None

    # --- one step, validation -------------------------------------------------------------
    def step(self, batch: Any) -> None:
        inputs, targets = (_tensor(b, self.device) for b in batch)
        for group in self.optimizer.param_groups:
            group["lr"] = self.settings.lr * lr_scale(self.settings, self.iteration, self.progress())
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            prediction = self.model(inputs)
        loss = self.loss_fn(prediction.float(), targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.settings.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.grad_clip)
        self.torn = True
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.iteration += 1
        self.torn = False
        self.pending.append(loss.detach())

    @torch.no_grad()
    def squared_error(self, use_model: bool) -> float:
        inputs, targets = self.validation
        total, count = 0.0, 0
        self.model.eval()
        for start in range(0, len(inputs), self.settings.validation_batch):
            x = inputs[start:start + self.settings.validation_batch].to(self.device)
            y = targets[start:start + self.settings.validation_batch].to(self.device)
            if use_model:
                with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
                    x = self.model(x)
            total += float(((x.float() - y) ** 2).sum(dtype=torch.float64))
            count += y.numel()
        self.model.train()
        return total / count

    def validate(self) -> None:
        value = psnr(self.squared_error(use_model=True))
        self.history["validation"].append({"iteration": self.iteration, "psnr": value, "elapsed": self.elapsed()})
        self.history["final_psnr"] = value
        if self.history["best_psnr"] is None or value > self.history["best_psnr"]:
            self.history.update(best_psnr=value, best_iteration=self.iteration)
            self.best = cpu_state(self.model)

    # --- checkpoints ----------------------------------------------------------------------
    def save(self) -> None:
        self.flush()
        self.history.update(iterations=self.iteration, elapsed_seconds=self.elapsed())
        save_checkpoint(self.path, {
            "model": cpu_state(self.model), "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(), "iteration": self.iteration, "elapsed": self.elapsed(),
            "rng": rng_state(), "history": self.history, "best": self.best})

    def restore(self) -> None:
        state = load_checkpoint(self.path)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise IsovoxError(f"checkpoint {self.path} does not fit this model ({str(error).splitlines()[0]}); "
                              "delete it or train with resume=False") from None
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.iteration, self.elapsed_before = int(state["iteration"]), float(state["elapsed"])
        current = {key: self.history[key] for key in ("device", "amp", "settings")}
        self.history, self.best = {**state["history"], **current}, state["best"]

    # --- the loop -------------------------------------------------------------------------
    def run(self, sample_batch: Callable[[int], Any], resume: bool) -> dict:
        if resume and self.path.exists():
            self.restore()
        self.started = time.perf_counter()
        self.history["runs"] += 1
        if self.validation is not None and self.history["input_psnr"] is None:
            self.history["input_psnr"] = psnr(self.squared_error(use_model=False))
        batches = _Batches(sample_batch, prefetch=self.device.type == "cuda")
        self.model.train()
        try:
            with StopRequest() as stop, LoopProgress(self.settings, self.iteration) as bar:
                while not self.done():
                    self.step(batches.get(self.iteration))
                    self.after_step(bar)
                    if stop.requested:
                        self.save()
                        raise TrainingInterrupted(f"training interrupted at iteration {self.iteration}; "
                                                  f"checkpoint saved in {self.path.parent}; run again to resume")
        except KeyboardInterrupt as interrupt:
            if not isinstance(interrupt, TrainingInterrupted) and not self.torn:
                self.save()          # state is that of a completed iteration: keep it
            raise
        finally:
            batches.close()
        return self.finish()

    def after_step(self, bar: LoopProgress) -> None:
        i, s = self.iteration, self.settings
        if self.validation is not None and i % s.validate_every == 0:
            self.validate()
        if i % s.checkpoint_every == 0:
            self.save()
        bar.update(i, self.elapsed(), self.flush, self.history["final_psnr"])

    def finish(self) -> dict:
        last = self.history["validation"][-1]["iteration"] if self.history["validation"] else None
        if self.validation is not None and last != self.iteration:
            self.validate()
        reached = self.settings.iterations and self.iteration >= self.settings.iterations
        self.history["stopped_by"] = "iterations" if reached else "minutes"
        self.save()                  # the finished state: a rerun returns at once
        if self.best is not None:
            self.model.load_state_dict(self.best)
        return self.history


def fit(model: nn.Module, sample_batch: Callable[[int], Any], loss_fn: Callable, validation: Any,
        settings: TrainSettings, workdir: str | Path, resume: bool = True) -> dict:
    """Train ``model`` on ``sample_batch(iteration)`` batches within ``settings``' budget.

    ``validation`` is (inputs, targets) or None; ``workdir`` (created if needed) receives
    ``checkpoint.pt``; ``resume=True`` continues from it towards the same total budget. Returns
    the history dict (losses per iteration, validation PSNRs, input PSNR, best and final PSNR,
    iterations, elapsed seconds over all runs, device, settings); the model ends on the best
    validation weights. Interrupting saves a checkpoint, then re-raises.
    """
    Path(workdir).mkdir(parents=True, exist_ok=True)
    return Trainer(model, loss_fn, validation, settings, Path(workdir)).run(sample_batch, resume)
