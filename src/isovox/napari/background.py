"""Run a :class:`~.jobs.Request` in a child process, so that Cancel really stops it.

isovox's reconstruction and training calls run to their end once started, and a thread cannot be
stopped from outside. A process can: on Cancel the child gets SIGTERM, which it unwinds like
Ctrl-C (temporary outputs are removed; a training run finishes its iteration and saves its
checkpoint first), and a child still there after :data:`GRACE_SECONDS` is killed.

The child is a fresh interpreter ('spawn': forking a process that runs Qt and worker threads is
unsafe). It talks to the parent through a pipe: ``("stage", (text, seconds))`` when a stage
starts, then one last word, ``("done", Result)``, ``("failed", message)`` or
``("cancelled", message)``.

:meth:`BackgroundJob.follow` is the parent's side: a generator that starts the child, yields a
:class:`Progress` a few times a second and returns the :class:`Outcome`. The widget runs it in a
napari worker thread; it needs no Qt, so it is tested on its own.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any, Generator

from ..errors import IsovoxError
from .jobs import Request, Result, perform

POLL_SECONDS = 0.2
# Time a cancelled child has to unwind: one training iteration and a checkpoint on a slow CPU.
GRACE_SECONDS = 20.0
NOTHING_ADDED = "cancelled; nothing was added"


@dataclass(frozen=True)
class Progress:
    """The stage the child is in, the seconds spent in it, and the seconds it should take (None:
    unknown, e.g. an interpolation)."""

    stage: str
    elapsed: float = 0.0
    expected: float | None = None

    @property
    def fraction(self) -> float | None:
        return None if self.expected is None else min(self.elapsed / self.expected, 1.0)

    def describe(self) -> str:
        spent = _minutes_seconds(self.elapsed)
        return f"{self.stage}: {spent}" + ("" if self.expected is None else f" of {_minutes_seconds(self.expected)}")


@dataclass(frozen=True)
class Outcome:
    """How a job ended: ``status`` 'done' (with ``result``), 'failed' or 'cancelled' (``message``)."""

    status: str
    result: Result | None = None
    message: str = ""


class BackgroundJob:
    """One request, run in a child process; :meth:`follow` from one thread, :meth:`cancel` from any."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self._process: Any = None
        self._connection: Any = None
        self._cancelled_at: float | None = None
        self._terminated = False

    @property
    def cancel_requested(self) -> bool:
        return self._cancelled_at is not None

    def cancel(self) -> None:
        """Ask the job to stop. Only a flag: :meth:`follow` stops the child on its next poll."""
        if self._cancelled_at is None:
            self._cancelled_at = time.monotonic()

    def follow(self) -> Generator[Progress, None, Outcome]:
        """Start the child, yield its progress until it has finished, return how it ended."""
        if self.cancel_requested:
            return Outcome("cancelled", message=NOTHING_ADDED)
        self._start()
        progress, started = Progress("starting"), time.monotonic()
        try:
            while True:
                self._stop_if_cancelled()
                word = self._receive()
                if word is None:
                    progress = Progress(progress.stage, time.monotonic() - started, progress.expected)
                    yield progress
                    continue
                kind, payload = word
                if kind != "stage":
                    return self._outcome(kind, payload)
                started = time.monotonic()
                progress = Progress(payload[0], 0.0, payload[1])
                yield progress
        finally:
            self._close()

    # --- the parent's side ------------------------------------------------------------------
    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe(duplex=False)
        # daemon: the child ends with napari; isovox's in-memory work starts no processes of its own
        self._process = context.Process(target=_child_main, args=(child_end, self.request), daemon=True,
                                        name="isovox-napari-job")
        self._process.start()
        child_end.close()        # else the pipe would never report the child's end

    def _receive(self) -> tuple[str, Any] | None:
        """The child's next word, ("ended", exit code) once it is gone, or None after a short wait."""
        if self._connection.poll(POLL_SECONDS):
            try:
                return self._connection.recv()
            except EOFError:
                pass                 # the child closed the pipe: it has ended without a last word
        elif self._process.exitcode is None:
            return None
        self._process.join(GRACE_SECONDS)
        return "ended", self._process.exitcode

    def _stop_if_cancelled(self) -> None:
        if not self.cancel_requested or not self._process.is_alive():
            return
        if not self._terminated:
            self._process.terminate()          # SIGTERM: the child unwinds like Ctrl-C
            self._terminated = True
        elif time.monotonic() - self._cancelled_at > GRACE_SECONDS:
            self._process.kill()

    def _outcome(self, kind: str, payload: Any) -> Outcome:
        self._process.join(GRACE_SECONDS)      # the child ends right after its last word
        if self.cancel_requested or kind == "cancelled":
            detail = " (the result was discarded)" if kind == "done" else ""
            if kind == "cancelled" and payload:
                detail = f" ({payload})"       # e.g. where a training run kept its checkpoint
            return Outcome("cancelled", message=NOTHING_ADDED + detail)
        if kind == "done":
            return Outcome("done", result=payload)
        if kind == "failed":
            return Outcome("failed", message=payload)
        return Outcome("failed", message=f"the reconstruction process ended unexpectedly (exit code {payload})")

    def _close(self) -> None:
        if self._process.is_alive():          # follow() abandoned half-way: leave nothing running
            self._process.kill()
            self._process.join(GRACE_SECONDS)
        self._connection.close()


# --- the child's side ----------------------------------------------------------------------------
def _child_main(connection: Any, request: Request) -> None:
    """Perform ``request`` and send its stages and last word to the parent."""
    signal.signal(signal.SIGTERM, _unwind_like_ctrl_c)

    def say(text: str, seconds: float | None) -> None:
        connection.send(("stage", (text, seconds)))

    try:
        word: tuple[str, Any] = ("done", perform(request, say))
    except KeyboardInterrupt as stop:          # Cancel (SIGTERM) or Ctrl-C in napari's terminal
        word = ("cancelled", str(stop))
    except IsovoxError as error:
        word = ("failed", str(error))
    except MemoryError:
        word = ("failed", "out of memory: crop the layer, or reconstruct the file block by block "
                          "('isovox reconstruct --block-size')")
    except OSError as error:                   # e.g. a model folder that cannot be written
        from ..cli.failures import describe_os_error
        word = ("failed", describe_os_error(error))
    except Exception as error:  # noqa: BLE001  (a bug: one line for the viewer, the traceback for a report)
        traceback.print_exc()
        word = ("failed", f"internal error: {type(error).__name__}: {error}")
    try:
        connection.send(word)
    except (OSError, KeyboardInterrupt):
        pass                                   # the parent is gone or cancelling: nobody listens
    finally:
        connection.close()


def _unwind_like_ctrl_c(signum: int, frame: Any) -> None:
    # As the command line does: SIGTERM raises KeyboardInterrupt, so isovox removes its
    # temporaries on the way out instead of dying where it stands.
    raise KeyboardInterrupt


def _minutes_seconds(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"
