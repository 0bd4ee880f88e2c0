"""How the command line names failures it did not cause: usage errors and operating-system errors.

Typer (0.22 and newer) raises its own vendored copies of click's exception classes; older Typer
raises click's. Both sets are caught, looked up by name so that neither import is required.
"""

from __future__ import annotations

import errno
import importlib

_MACHINE_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EIO: "input/output error",
    errno.EMFILE: "too many open files",
}


def usage_error_classes() -> tuple[tuple[type, ...], ...]:
    """(Abort, Exit, UsageError, ClickException) classes of click and of Typer's vendored click."""
    modules = []
    for name in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue

    def collect(class_name: str) -> tuple[type, ...]:
        found = {getattr(module, class_name) for module in modules if hasattr(module, class_name)}
        return tuple(found) or (_Never,)

    return collect("Abort"), collect("Exit"), collect("UsageError"), collect("ClickException")


class _Never(Exception):
    """Stands in for a class that neither library defines, so ``except`` stays valid."""


def describe_os_error(error: OSError) -> str:
    """One line for an OSError: what happened and to which file."""
    reason = _MACHINE_ERRORS.get(error.errno or -1) or error.strerror or str(error) or type(error).__name__
    where = error.filename or ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        place = f" while writing {where}" if where else ""
        return f"{reason}{place}; the partial output was removed: free some space and run again"
    return f"{reason}: {where}" if where else reason


class CommandInterrupted(Exception):
    """A command stopped by Ctrl-C or SIGTERM that has its own message (training saved a
    checkpoint and says how to resume); click would turn a KeyboardInterrupt into a bare Abort."""
