"""The training progress bar: iterations (or seconds, for a minutes-only budget), the running
loss, the latest validation PSNR, and tqdm's ETA. Silent where :func:`isovox.progress.progress_enabled`
says so (pipes, ISOVOX_PROGRESS=0)."""

from __future__ import annotations

from typing import Any, Callable

from tqdm.auto import tqdm

from ..progress import progress_enabled

# Iterations between loss read-outs (each one syncs a GPU); also the loop's logging interval
# (:mod:`isovox.training.history`): a logged iteration is one whose losses were just read.
LOG_EVERY = 10


class LoopProgress:
    """``update(iteration, elapsed, latest_loss, psnr)`` after every iteration."""

    def __init__(self, settings: Any, start_iteration: int) -> None:
        self.by_time = settings.iterations is None
        self.bar = None
        if progress_enabled():
            total = int(round(60 * settings.minutes)) if self.by_time else int(settings.iterations)
            self.bar = tqdm(total=total, initial=0 if self.by_time else start_iteration, desc="training",
                            unit="s" if self.by_time else "it", dynamic_ncols=True, leave=False)

    def update(self, iteration: int, elapsed: float, latest_loss: Callable[[], float | None],
               psnr: float | None) -> None:
        if self.bar is None:
            if iteration % LOG_EVERY == 0:
                latest_loss()                  # still move losses to the history regularly
            return
        if iteration % LOG_EVERY == 0:
            loss = latest_loss()
            postfix = {} if loss is None else {"loss": f"{loss:.4f}"}
            if psnr is not None:
                postfix["val_psnr"] = f"{psnr:.2f}"
            self.bar.set_postfix(postfix, refresh=False)
        position = min(int(elapsed), self.bar.total) if self.by_time else iteration
        self.bar.update(position - self.bar.n)

    def __enter__(self) -> "LoopProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()
