"""The `isovox` command line: parse, call the public API, print. Heavy imports happen inside the
commands so that `isovox --help` is instant.

Every command has the shape ``isovox COMMAND INPUT -o OUTPUT [options]``, exits 0 on success and
prints one line ``error: ...`` with exit code 2 on bad input (usage errors included). Failures
of the machine (a full disk, memory) are one line too, with exit code 1. No traceback reaches
the terminal unless ``ISOVOX_DEBUG=1`` asks for it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from typing import Optional

import typer

from ..errors import IsovoxError
from . import assess, degradation, export, learning, volumes  # noqa: F401  (importing registers the commands)
from .common import app
from .failures import CommandInterrupted, describe_os_error, usage_error_classes

__all__ = ["app", "main"]


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: run the app and turn every failure into one line and an exit code."""
    in_main_thread = threading.current_thread() is threading.main_thread()   # signals need it
    previous = signal.getsignal(signal.SIGTERM) if in_main_thread else None, warnings.showwarning
    if in_main_thread:
        _terminate_like_ctrl_c()
    warnings.showwarning = _one_line_warning
    try:
        return _run(argv)
    finally:                    # main() may be called in-process (tests, notebooks): leave no trace
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous[0])
        warnings.showwarning = previous[1]


def _run(argv: Optional[list[str]]) -> int:
    abort, exit_, usage, click_error = usage_error_classes()
    try:
        code = app(args=argv, standalone_mode=False)
    except IsovoxError as error:
        return _fail(str(error), 2)
    except usage as error:
        if error.__class__.__name__ == "NoArgsIsHelpError":     # bare `isovox` / `isovox train`
            typer.echo(error.format_message(), err=True)
            return 2
        command = error.ctx.command_path if getattr(error, "ctx", None) is not None else "isovox"
        return _fail(f"{error.format_message()} (see '{command} --help')", 2)
    except click_error as error:
        return _fail(error.format_message(), getattr(error, "exit_code", 1) or 1)
    except exit_ as error:
        return int(getattr(error, "exit_code", getattr(error, "code", 0)) or 0)
    except CommandInterrupted as error:
        _quiet_after_interrupt()
        return _fail(str(error), 130)
    except abort + (KeyboardInterrupt,):
        _quiet_after_interrupt()
        return _fail("interrupted", 130)
    except MemoryError:
        return _fail("out of memory; reconstruct block by block with --block-size, or use a smaller crop", 1)
    except OSError as error:
        return _fail(describe_os_error(error), 2 if isinstance(error, _INPUT_ERRORS) else 1)
    except Exception as error:        # a bug: still one line for scripts; the traceback on request
        if os.environ.get("ISOVOX_DEBUG"):
            raise
        return _fail(f"internal error: {type(error).__name__}: {error} (rerun with ISOVOX_DEBUG=1 for "
                     "the traceback, and please report it)", 1)
    # Typer returns an exit code instead of raising when a command exits early (Ctrl-C: 130).
    if code == 130:
        _quiet_after_interrupt()
        return _fail("interrupted", 130)
    return code if isinstance(code, int) else 0


_INPUT_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def _terminate_like_ctrl_c() -> None:
    """SIGTERM (a cluster's scancel, a timeout) unwinds like Ctrl-C: temporaries are removed and
    training saves its checkpoint, instead of the process dying where it stands."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, handler)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    if issubclass(category, RuntimeWarning) and "was never awaited" in text:
        return          # zarr's I/O coroutines dropped by an interrupt: an internal detail
    print(f"warning: {text}", file=sys.stderr, flush=True)


def _quiet_after_interrupt() -> None:
    """I/O threads stopped mid-write (zarr's event loop) report their cancelled tasks at exit as
    warnings and logged tracebacks; after an interrupt they are expected, and not the user's news."""
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL + 1)
    warnings.simplefilter("ignore")


def _fail(message: str, code: int) -> int:
    first_line = " ".join(str(message).split())      # one line, whatever the message held
    print(f"error: {first_line}", file=sys.stderr, flush=True)
    return code
