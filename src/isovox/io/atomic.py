"""Atomic writes: an output appears complete or not at all.

A writer writes into a hidden temporary sibling of the target (same directory, hence same file
system, so the final rename is atomic), named ``.STEM.isovox-tmp-HOST.PID-XXXXXXXX.SUFFIX``; the
format suffix is kept because some libraries (nibabel) pick the encoding from it. On success the
temporary is renamed onto the target; on any exception (including Ctrl-C and SIGTERM, which are
turned into :class:`Interrupted` while a write runs, and which a library cannot swallow: h5py did)
it is removed, so an interrupted or failed write never leaves a half-written file behind. A
process killed outright (SIGKILL, a lost node) cannot clean up; its temporary names its host and
process, and the next write to the same output removes it once that process is gone.

Files are replaced with one ``os.replace``. Directories (Zarr) cannot be replaced in one step, so
the old one is first renamed aside, the new one moved in, and only then the old one deleted; if
moving in fails, the old one is put back.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import DiskFull, IsovoxError

TMP_MARKER = ".isovox-tmp-"
OLD_MARKER = ".isovox-old-"


def check_output(target: Path, *, overwrite: bool = False, source: str | Path | None = None,
                 inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse outputs that would fail or destroy something; returns the target as given.

    ``source`` is the path the volume was read from (``meta['source']``) and ``inputs`` any other
    files the command reads: writing onto one of them, into one (a Zarr folder), or onto a folder
    that holds one is refused even with ``overwrite`` (see :func:`refuse_replacing_inputs`).
    """
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        raise IsovoxError(f"output directory does not exist: {parent}; create it first")
    refuse_replacing_inputs(target, [source, *inputs])
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise IsovoxError(f"{target} exists; pass --overwrite to replace it")
    return target


def refuse_replacing_inputs(target: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """The one guard for "this output would destroy an input", compared on resolved paths.

    An output may not be an input (it would be replaced), lie inside one (a Zarr or a model
    folder would be changed), or be a folder that holds one (replacing it deletes the input).
    Symbolic links and relative paths resolve first, so two spellings of one file are one file.
    """
    output = Path(target).resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given).resolve()
        if output == source:
            raise IsovoxError(f"refusing to overwrite the input file {given}; choose another output path")
        if source in output.parents:
            raise IsovoxError(f"refusing to write {target} inside the input {given}; choose another output path")
        if output in source.parents:
            raise IsovoxError(f"refusing to replace the folder {target}: it holds the input {given}")


def refuse_duplicate_outputs(targets: Iterable[str | Path]) -> None:
    """Two outputs of one command on the same path would overwrite each other: refuse."""
    seen: dict[Path, str | Path] = {}
    for target in targets:
        resolved = Path(target).resolve()
        if resolved in seen:
            raise IsovoxError(f"two outputs of this command are the same file: {seen[resolved]} and {target}")
        seen[resolved] = target


#: Free space kept on top of an output's data size (headers, metadata, file-system blocks).
_SPACE_MARGIN = 1 << 20


def check_free_space(target: str | Path, needed_bytes: int) -> None:
    """Refuse, before writing anything, an output that the file system cannot hold."""
    parent = Path(target).parent
    try:
        free = shutil.disk_usage(parent).free
    except OSError:
        return                                   # unknown: let the write itself tell
    if needed_bytes + _SPACE_MARGIN > free:
        raise IsovoxError(f"not enough space for {Path(target).name}: it needs about {_size(needed_bytes)} and "
                          f"{parent} has {_size(free)} free; free some space or write elsewhere")


def _size(count: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{int(count)} bytes"


def _disk_full(error: Exception, target: Path) -> bool:
    """ENOSPC / EDQUOT, or any other failure (tifffile's short write, torch.save's RuntimeError)
    while the disk under the output is full."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(target.parent).free < _SPACE_MARGIN // 4
    except OSError:
        return False


def _default_mode(directory: bool) -> int:
    """Permissions an ordinary open()/mkdir() would give (mkstemp/mkdtemp use 0600/0700)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        # A writer with I/O threads (zarr's) may still finish a chunk or two after its failure was
        # raised, recreating files under the folder just removed: remove again until it stays gone.
        for attempt in range(5):
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                break
            time.sleep(0.05 * (attempt + 1))
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _temporary_prefix(target: Path, suffix: str) -> str:
    name = target.name
    stem = name[: len(name) - len(suffix)] if suffix and name.lower().endswith(suffix.lower()) else name
    return f".{stem}{TMP_MARKER}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                # alive, owned by someone else
        return True
    return True


def remove_stale_temporaries(target: Path, suffix: str) -> list[Path]:
    """Remove the temporaries of earlier writes to ``target`` whose process (on this host) is gone."""
    prefix = _temporary_prefix(target, suffix)
    host = socket.gethostname()
    removed = []
    for candidate in target.parent.glob(glob.escape(prefix) + "*"):
        owner = _OWNER.match(candidate.name[len(prefix):])
        if owner and owner["host"] == host and not _process_alive(int(owner["pid"])):
            _remove(candidate)
            removed.append(candidate)
    return removed


_OWNER = re.compile(r"(?P<host>.+)\.(?P<pid>\d+)-")


def _make_temporary(target: Path, suffix: str, directory: bool) -> Path:
    remove_stale_temporaries(target, suffix)
    prefix = f"{_temporary_prefix(target, suffix)}{socket.gethostname()}.{os.getpid()}-"
    try:
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=target.parent))
        else:
            handle, raw = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
            os.close(handle)
            tmp = Path(raw)
    except OSError as exc:
        raise IsovoxError(f"cannot write to {target.parent}: {exc.strerror or exc}") from exc
    os.chmod(tmp, _default_mode(directory))
    return tmp


def _move_into_place(tmp: Path, target: Path) -> None:
    if not target.exists() and not target.is_symlink():
        os.replace(tmp, target)
        return
    if tmp.is_file() and (target.is_file() or target.is_symlink()):
        os.replace(tmp, target)                 # atomic for files
        return
    # A directory on either side: rename the old one aside, then swap.
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}{OLD_MARKER}", dir=target.parent))
    aside.rmdir()
    os.replace(target, aside)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(aside, target)               # put the old output back
        raise
    _remove(aside)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM arrived while an output was being written."""


@contextlib.contextmanager
def _interrupts_raise() -> Iterator[list]:
    """While writing: SIGINT and SIGTERM raise :class:`Interrupted` (SIGTERM would otherwise kill the
    process without cleanup) and are remembered, in case the writer swallows the exception."""
    received: list = []
    if threading.current_thread() is not threading.main_thread():
        yield received                           # handlers can only be set from the main thread
        return

    def handler(signum, frame):
        received.append(signal.Signals(signum).name)
        # the writer's I/O tasks (zarr's event loop) now die half-way and would log each one
        logging.getLogger("asyncio").setLevel(logging.CRITICAL + 1)
        raise Interrupted(received[-1])

    def unraisable(report):
        # The exception landed in a callback that cannot raise (a weakref finaliser inside h5py):
        # Python would print it as "Exception ignored"; the flag above raises it after the write.
        if not isinstance(report.exc_value, Interrupted):
            hook(report)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    hook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield received
    finally:
        sys.unraisablehook = hook
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def atomic_output(target: Path | str, *, suffix: str = "", directory: bool = False,
                  overwrite: bool = False, source: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write into; it becomes ``target`` when the block succeeds.

    ``suffix`` is kept at the end of the temporary name (e.g. '.nii.gz'); ``directory=True``
    yields an (empty) directory instead of an (empty) file. The output checks of
    :func:`check_output` run first.
    """
    target = check_output(Path(target), overwrite=overwrite, source=source)
    tmp = _make_temporary(target, suffix, directory)
    try:
        with _interrupts_raise() as interrupted:
            yield tmp
            if interrupted:                      # a library caught the KeyboardInterrupt and went on
                raise Interrupted(interrupted[0])
        _move_into_place(tmp, target)
    except Exception as error:
        full = _disk_full(error, target)             # before removing the temporary frees space
        _remove(tmp)
        if full:
            raise DiskFull(f"no space left on the device while writing {target}; the partial output was "
                           "removed: free some space and run again") from None
        raise
    except BaseException:
        _remove(tmp)
        raise
