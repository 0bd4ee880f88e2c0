"""The one training loop every recipe uses: :func:`fit_networks` (and :func:`fit`, its one-network form).

A recipe hands the loop its networks, one optimiser spec per optimiser and a ``step`` function
that computes the losses of one iteration and calls ``ctx.update(name, loss)`` for each
optimiser it steps. Supervised training (:func:`fit`) is the step "predict, loss, update"; a GAN
step updates a critic, then a generator; the loop around them is the same:

- Budget: ``settings.iterations`` and/or ``settings.minutes`` (:class:`TrainSettings`, also the
  base class of every recipe's config). Budget
  progress is ``iteration / iterations``, or with a minutes budget the fraction of the time
  spent (the larger of the two when both are set; time-based runs are not bit-reproducible).
- Optimiser: Adam (paper 001, section II-B.3), one per spec, each with its own ``lr``, ``betas``
  and ``weight_decay`` (defaults from the settings). Schedule (``settings.schedule``):
  'cosine' (default) decays every optimiser's rate to ``min_lr_factor`` times its start over the
  budget; 'step' halves it every 20 % of the budget; 'constant' keeps it; ``warmup`` iterations
  ramp it up linearly first (stabilises transformers). A spec's ``lr_lambda(iteration)``
  replaces the schedule for that optimiser (e.g. paper 000's decay by 0.98 per epoch).
- Gradient-norm clipping at ``grad_clip`` (safety under mixed precision), per optimiser.
- Device 'auto' = the first CUDA GPU if there is one. Mixed precision ('auto') only on CUDA:
  bfloat16 autocast where supported, else float16 with a gradient scaler. Losses should be
  computed in float32. On CUDA the next batch is prepared in a background thread.
- Losses: ``step`` returns a dict of scalar tensors; ``"loss"`` (or the first entry) is the
  primary loss (``history["loss"]``), every entry is kept per iteration in
  ``history["terms"][name]``. Values are read back in batches (one device sync per read-out).
  Every ``LOG_EVERY`` iterations, every validation and the end are logged (``history["log"]``:
  iteration and seconds spent), the rows of the model folder's ``history.json`` (:mod:`.history`).
- Validation PSNR (dB) of the ``evaluate`` network on the fixed held-out pairs, with peak 1
  (intensities are normalised so that the volume's 0.1-99.9 percentile range spans 1), pooled
  over all pairs; the input's PSNR (the interpolation) is measured once for comparison. With
  ``keep_best`` the best-on-validation weights are loaded into that network at the end (GAN
  recipes switch it off: the sharpest generator is not the one with the best PSNR).
- Checkpoints (:mod:`.checkpoint`): every network and optimiser, the scaler, the iteration, the
  time spent, every random state and the history, written atomically every
  ``checkpoint_every`` iterations, on Ctrl-C/SIGTERM and at the end; ``resume=True`` continues
  towards the same total budget.

``sample_batch(iteration)`` should be a pure function of the iteration (e.g.
:meth:`isovox.pairs.LateralPairs.batch_sampler`): that is what makes a resumed run draw the same
batches as an uninterrupted one. With the same seed and an iterations budget, CPU runs are
deterministic, also across an interruption and a resume.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from ..device import resolve_device
from ..errors import IsovoxError
from ..runtime import tune_cpu_allocator
from . import distributed
from .checkpoint import (CHECKPOINT_NAME, StopRequest, TrainingInterrupted, cpu_state, load_checkpoint,
                         rng_state, save_checkpoint, set_rng_state)
from .progress import LOG_EVERY, LoopProgress
from .settings import TrainSettings, lr_scale, psnr, resolve_amp

__all__ = ["StepContext", "TrainSettings", "Trainer", "fit", "fit_networks"]

Step = Callable[["StepContext", Any], Mapping[str, torch.Tensor]]


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


class StepContext:
    """What a ``step`` function sees: networks, device, autocast and one ``update`` per optimiser."""

    def __init__(self, trainer: "Trainer") -> None:
        self._trainer = trainer
        # DistributedDataParallel around the trainable networks under torchrun (:mod:`.distributed`)
        self.networks: dict[str, nn.Module] = distributed.wrap(trainer.networks, trainer.device)
        self.device: torch.device = trainer.device
        self.amp: torch.dtype | None = trainer.amp
        self.settings: TrainSettings = trainer.settings

    @property
    def iteration(self) -> int:
        """The iteration being trained (0-based)."""
        return self._trainer.iteration

    def autocast(self):
        """Mixed precision around forward passes (a no-op on CPU)."""
        return torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None)

    def tensor(self, values: Any) -> torch.Tensor:
        """``values`` (numpy or tensor) as float32 on the training device."""
        return _tensor(values, self.device)

    def update(self, name: str, loss: torch.Tensor) -> None:
        """Zero the gradients of optimiser ``name``'s networks, back-propagate ``loss``, clip, step."""
        self._trainer.update(name, loss)


def supervised_step(loss_fn: Callable, name: str = "model") -> Step:
    """The step of :func:`fit`: predict, compare with the target, update."""

    def step(ctx: StepContext, batch: Any) -> dict[str, torch.Tensor]:
        inputs, targets = (ctx.tensor(b) for b in batch)
        with ctx.autocast():
            prediction = ctx.networks[name](inputs)
        loss = loss_fn(prediction.float(), targets)
        ctx.update(name, loss)
        return {"loss": loss}

    return step


class Trainer:
    """State of one :func:`fit_networks` call; see the module docstring."""

    def __init__(self, networks: Mapping[str, nn.Module], optimizers: Mapping[str, Mapping[str, Any]],
                 step: Step, validation: Any, settings: TrainSettings, workdir: Path,
                 evaluate: str | None = None, keep_best: bool = True, losses: Mapping[str, Any] = ()) -> None:
        self.settings = settings.check()
        self.device = distributed.local_device(resolve_device(settings.device))
        self.amp = resolve_amp(settings.amp, self.device)
        self.path = Path(workdir) / CHECKPOINT_NAME
        torch.manual_seed(settings.seed)
        if self.device.type == "cpu":
            tune_cpu_allocator()
        self.networks = {name: net.to(self.device) for name, net in networks.items()}
        self.losses = [l.to(self.device) for l in losses if isinstance(l, nn.Module)]  # noqa: E741
        self.optimizers, self.lr_lambdas = self._build_optimizers(optimizers)
        self.step_fn = step
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        if evaluate is not None and evaluate not in self.networks:
            raise IsovoxError(f"evaluate names no network: {evaluate!r} not in {', '.join(self.networks)}")
        self.evaluate, self.keep_best = evaluate, keep_best
        if validation is not None and evaluate is None:
            raise IsovoxError("validation pairs need evaluate= (the network they score)")
        self.validation = None if validation is None else tuple(torch.as_tensor(np.asarray(v, np.float32)) for v in validation)
        self.iteration, self.elapsed_before, self.best = 0, 0.0, None
        self.history: dict[str, Any] = {
            "iterations": 0, "elapsed_seconds": 0.0, "loss": [], "terms": {}, "validation": [], "log": [],
            "input_psnr": None, "best_psnr": None, "best_iteration": None, "final_psnr": None, "runs": 0,
            "device": str(self.device), "amp": None if self.amp is None else str(self.amp).replace("torch.", ""),
            "settings": asdict(settings)}
        self.pending: list[Mapping[str, torch.Tensor]] = []
        self.in_step = False             # True from a step's first update until its iteration counts
        self.context = StepContext(self)

    def _build_optimizers(self, specs: Mapping[str, Mapping[str, Any]]):
        s, optimizers, lambdas = self.settings, {}, {}
        for name, spec in specs.items():
            spec = dict(spec)
            owners = tuple(spec.pop("networks", (name,)))
            unknown = [n for n in owners if n not in self.networks]
            if unknown:
                raise IsovoxError(f"optimiser {name!r} names unknown network(s) {', '.join(unknown)}")
            lambdas[name] = spec.pop("lr_lambda", None)
            options = {"lr": s.lr, "betas": tuple(s.betas), "weight_decay": s.weight_decay, **spec}
            params = [p for n in owners for p in self.networks[n].parameters()]
            optimizers[name] = torch.optim.Adam(params, **options)
            for group in optimizers[name].param_groups:
                group["base_lr"] = group["lr"]
        return optimizers, lambdas

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
        return distributed.agree(bool((s.iterations and self.iteration >= s.iterations)
                                      or (s.minutes and self.elapsed() >= 60 * s.minutes)))

    def flush(self) -> float | None:
        """Move pending losses into the history (one device sync); the latest primary loss."""
        if self.pending:
            names = list(self.pending[0])
            values = torch.stack([torch.stack([terms[n].detach().float() for n in names])
                                  for terms in self.pending]).cpu().tolist()
            self.pending.clear()
            primary = names.index("loss") if "loss" in names else 0
            if not all(math.isfinite(v) for row in values for v in row):
                raise IsovoxError(f"training diverged before iteration {self.iteration} (losses "
                                  f"{dict(zip(names, values[-1]))}); lower lr or switch amp off")
            self.history["loss"].extend(row[primary] for row in values)
            for j, name in enumerate(names):
                self.history["terms"].setdefault(name, []).extend(row[j] for row in values)
        return self.history["loss"][-1] if self.history["loss"] else None

    # --- one step, validation -------------------------------------------------------------
    def set_learning_rates(self) -> None:
        scale = lr_scale(self.settings, self.iteration, self.progress())
        for name, optimizer in self.optimizers.items():
            own = self.lr_lambdas[name]
            factor = own(self.iteration) if own is not None else scale
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor

    def update(self, name: str, loss: torch.Tensor) -> None:
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.settings.grad_clip:
            self.scaler.unscale_(optimizer)
            params = [p for group in optimizer.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(params, self.settings.grad_clip)
        self.in_step = True
        self.scaler.step(optimizer)
        self.scaler.update()          # once per optimiser step: a step may update one optimiser often

    def step(self, batch: Any) -> None:
        self.set_learning_rates()
        terms = self.step_fn(self.context, batch)
        if not terms:
            raise IsovoxError("a training step must return at least one loss")
        self.iteration += 1
        self.in_step = False
        self.pending.append({name: value.detach() for name, value in terms.items()})

    @torch.no_grad()
    def squared_error(self, use_model: bool) -> float:
        inputs, targets = self.validation
        model = self.networks[self.evaluate]
        total, count = 0.0, 0
        model.eval()
        for start in range(0, len(inputs), self.settings.validation_batch):
            x = inputs[start:start + self.settings.validation_batch].to(self.device)
            y = targets[start:start + self.settings.validation_batch].to(self.device)
            if use_model:
                with self.context.autocast():
                    x = model(x)
            total += float(((x.float() - y) ** 2).sum(dtype=torch.float64))
            count += y.numel()
        model.train()
        return total / count

    def log_step(self) -> None:
        """Log this iteration with the seconds spent (once): a row of ``history.json``."""
        log = self.history["log"]
        if not log or log[-1]["iteration"] != self.iteration:
            log.append({"iteration": self.iteration, "elapsed_seconds": self.elapsed()})

    def validate(self) -> None:
        value = psnr(self.squared_error(use_model=True))
        self.history["validation"].append({"iteration": self.iteration, "psnr": value, "elapsed": self.elapsed()})
        self.history["final_psnr"] = value
        if self.history["best_psnr"] is None or value > self.history["best_psnr"]:
            self.history.update(best_psnr=value, best_iteration=self.iteration)
            if self.keep_best:
                self.best = cpu_state(self.networks[self.evaluate])

    # --- checkpoints ----------------------------------------------------------------------
    def save(self) -> None:
        self.flush()
        self.history.update(iterations=self.iteration, elapsed_seconds=self.elapsed())
        if not distributed.is_main():
            return
        save_checkpoint(self.path, {
            "networks": {name: cpu_state(net) for name, net in self.networks.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "scaler": self.scaler.state_dict(), "iteration": self.iteration, "elapsed": self.elapsed(),
            "rng": rng_state(), "history": self.history, "best": self.best})

    def restore(self) -> None:
        state = load_checkpoint(self.path)
        try:
            if set(state["networks"]) != set(self.networks) or set(state["optimizers"]) != set(self.optimizers):
                raise KeyError(f"networks {sorted(state['networks'])}, optimisers {sorted(state['optimizers'])}")
            for name, net in self.networks.items():
                net.load_state_dict(state["networks"][name])
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
        except (RuntimeError, ValueError, KeyError) as error:
            raise IsovoxError(f"checkpoint {self.path} does not fit this model ({str(error).splitlines()[0]}); "
                              "delete it or train with resume=False") from None
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.iteration, self.elapsed_before = int(state["iteration"]), float(state["elapsed"])
        current = {key: self.history[key] for key in ("device", "amp", "settings")}
        # a checkpoint written before the log existed has none: log from here on
        self.history, self.best = {"log": [], **state["history"], **current}, state["best"]

    # --- the loop -------------------------------------------------------------------------
    def run(self, sample_batch: Callable[[int], Any], resume: bool) -> dict:
        if resume and self.path.exists():
            self.restore()
        self.started = time.perf_counter()
        self.history["runs"] += 1
        if self.validation is not None and self.history["input_psnr"] is None:
            self.history["input_psnr"] = psnr(self.squared_error(use_model=False))
        batches = _Batches(distributed.rank_sampler(sample_batch), prefetch=self.device.type == "cuda")
        for net in self.networks.values():
            net.train()
        try:
            with StopRequest() as stop, LoopProgress(self.settings, self.iteration) as bar:
                while not self.done():
                    self.step(batches.get(self.iteration))
                    self.after_step(bar)
                    if distributed.agree(stop.requested):
                        self.save()
                        raise TrainingInterrupted(f"training interrupted at iteration {self.iteration}; "
                                                  f"checkpoint saved in {self.path.parent}; run again to resume")
        except KeyboardInterrupt as interrupt:
            if not isinstance(interrupt, TrainingInterrupted) and not self.in_step:
                self.save()          # no update of an unfinished iteration: the state is consistent
            raise
        finally:
            batches.close()
        return self.finish()

    def after_step(self, bar: LoopProgress) -> None:
        i, s = self.iteration, self.settings
        validating = self.validation is not None and i % s.validate_every == 0
        if validating:
            self.validate()
        if validating or i % LOG_EVERY == 0:
            self.log_step()
        if i % s.checkpoint_every == 0:
            self.save()
        bar.update(i, self.elapsed(), self.flush, self.history["final_psnr"])

    def finish(self) -> dict:
        last = self.history["validation"][-1]["iteration"] if self.history["validation"] else None
        if self.validation is not None and last != self.iteration:
            self.validate()
        self.log_step()
        reached = self.settings.iterations and self.iteration >= self.settings.iterations
        self.history["stopped_by"] = "iterations" if reached else "minutes"
        self.save()                  # the finished state: a rerun returns at once
        if self.best is not None:
            self.networks[self.evaluate].load_state_dict(self.best)
        return self.history


def fit_networks(networks: Mapping[str, nn.Module], optimizers: Mapping[str, Mapping[str, Any]], step: Step,
                 sample_batch: Callable[[int], Any], settings: TrainSettings, workdir: str | Path,
                 resume: bool = True, validation: Any = None, evaluate: str | None = None,
                 keep_best: bool = True, losses: Any = ()) -> dict:
    """Train ``networks`` with ``step(ctx, sample_batch(iteration))`` within ``settings``' budget.

    ``optimizers`` maps an optimiser name to its spec: ``networks`` (names whose parameters it
    owns; default the optimiser's own name), Adam keywords (``lr``, ``betas``, ``weight_decay``;
    defaults from ``settings``) and an optional ``lr_lambda(iteration) -> factor``.
    ``validation`` (inputs, targets) scores network ``evaluate``. ``losses``: loss modules to
    move to the device (e.g. a perceptual loss holding a network). Returns the history dict
    (see the module docstring); ``workdir`` receives ``checkpoint.pt``.
    """
    Path(workdir).mkdir(parents=True, exist_ok=True)
    trainer = Trainer(networks, optimizers, step, validation, settings, Path(workdir), evaluate=evaluate,
                      keep_best=keep_best, losses=losses)
    return trainer.run(sample_batch, resume)


def fit(model: nn.Module, sample_batch: Callable[[int], Any], loss_fn: Callable, validation: Any,
        settings: TrainSettings, workdir: str | Path, resume: bool = True) -> dict:
    """Train one ``model`` on ``sample_batch(iteration)`` = (inputs, targets) with ``loss_fn``.

    :func:`fit_networks` with one network, one Adam optimiser and the supervised step; the model
    ends on the best validation weights (the final weights when there is no validation).
    """
    loss_modules = [loss_fn] if isinstance(loss_fn, nn.Module) else []
    return fit_networks({"model": model}, {"model": {}}, supervised_step(loss_fn), sample_batch, settings,
                        workdir, resume=resume, validation=validation,
                        evaluate="model" if validation is not None else None, losses=loss_modules)
