"""What the hostile-input sweep (``hostile_inputs.py``) and its case tables share.

- the expectations :data:`OK`, :data:`ERR`, :data:`EITHER`, :data:`NONZERO` and the names of the
  documented resume folders (:data:`TRAIN_WORK`, :data:`BLOCK_WORK`);
- the case record :class:`Case` (made with :func:`case`, labelled with its class by :func:`group`),
  its optional :class:`Interrupt`, and the :class:`Result` of running it;
- the case folder :class:`Context` and the setup steps a case may list besides fixture names
  (:func:`mkdir`, :func:`symlink`, :func:`write_text`, :func:`run_cli`, :func:`tmpfs`);
- the custom checks a case may carry (:func:`same_shape`, :func:`readable`).

Imported as a top-level module (``import hostile_common``), like ``harness``: see its docstring.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

OK, ERR, EITHER, NONZERO = "ok", "error", "either", "nonzero"
TIMEOUT = 120.0
TMP_MARKERS = (".isovox-tmp-", ".isovox-old-")
TRAIN_WORK = ".*.isovox-train"
BLOCK_WORK = ".*.isovox-blockwise"
# A 48 x 48 lateral plane needs a patch < 64; the profile is given (gaussian) because the default
# recipe 'auto' estimates it from the volume, which needs more lateral extent than 48 px.
TINY_TRAIN = "--iterations 2 --patch-size 24 --recipe gaussian"
#: What ``simulate ... -o lr.tif`` writes: the volume, its ground truth and the degradation record.
SIMULATE_OUTPUTS = ("lr.tif", "lr_gt.tif", "lr_degradation.json")


class SetupError(Exception):
    """A case's inputs could not be made (reported as a failure 'setup')."""


class Skip(Exception):
    """A case cannot run on this machine (e.g. no tmpfs); reported, not counted as a failure."""


# --- cases as data --------------------------------------------------------------------------------

@dataclass
class Interrupt:
    """Signal the command once ``trigger`` (a glob in the case folder) exists, plus ``delay`` s."""
    sig: int
    trigger: str = "*.isovox-tmp-*"
    delay: float = 0.0
    group: bool = False          # signal the whole process group (a killed job), not the process
    rerun: bool = True           # then run the same command again: it must succeed and clean up


@dataclass
class Case:
    """One command of the sweep: its argv, the inputs it gets, what it must do and leave behind."""
    name: str
    argv: list[str]
    setup: tuple = ()            # fixture names ('name' or 'name->dest') or callables(ctx)
    expect: str = ERR            # OK, ERR or EITHER
    cls: str = "?"
    outputs: tuple[str, ...] = ()        # globs (relative to the case folder) the command may write
    check: Optional[Callable] = None     # (ctx, result) -> list of failures
    interrupt: Optional[Interrupt] = None
    timeout: float = TIMEOUT
    note: str = ""
    help_ok: bool = False        # a usage screen instead of one 'error:' line is acceptable
    blockwise: bool = False      # a failed run may leave its documented blockwise work folder


def case(name: str, argv: Union[str, list], *setup, expect: str = ERR, out=(), **options) -> Case:
    """A :class:`Case`; ``argv`` as one shell-quoted string (or a list), ``out`` the outputs' globs."""
    words = shlex.split(argv) if isinstance(argv, str) else list(argv)
    return Case(name, words, tuple(setup), expect, outputs=tuple(out), **options)


def group(cls: str, cases: list[Case]) -> list[Case]:
    """Label ``cases`` with their class (what ``--only`` and the table's 'class' column name)."""
    for item in cases:
        item.cls = cls
    return cases


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped ('' when there is none)."""
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


# --- setup steps (callables taking the case context) ----------------------------------------------

@dataclass
class Context:
    """A case's fresh folder, where its inputs are put and its command runs."""
    work: Path
    cache: Any                  # hostile_fixtures.Cache (not imported: fixtures build on this module)
    mounts: list = field(default_factory=list)

    def put(self, spec: str) -> None:
        name, _, dest = spec.partition("->")
        source, target = self.cache.get(name), self.work / (dest or name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)

    def cli(self, *argv: str) -> None:
        done = subprocess.run([self.cache.isovox, *argv], cwd=self.work, capture_output=True, text=True,
                              timeout=TIMEOUT)
        if done.returncode != 0:
            raise SetupError(f"setup command isovox {' '.join(argv)} failed: {first_line(done.stderr)}")

    def cleanup(self) -> None:
        for mount in reversed(self.mounts):
            if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def mkdir(name: str):
    """Make the folder ``name`` (and its parents) in the case folder."""
    return lambda ctx: (ctx.work / name).mkdir(parents=True, exist_ok=True)


def symlink(name: str, target: str):
    """Make ``name`` a symbolic link to ``target`` (which need not exist)."""
    return lambda ctx: os.symlink(target, ctx.work / name)


def write_text(name: str, text: str):
    """Write ``text`` to the file ``name``."""
    return lambda ctx: (ctx.work / name).write_text(text)


def run_cli(argv: str):
    """Run ``isovox ARGV`` in the case folder (it must succeed) before the case's command."""
    return lambda ctx: ctx.cli(*shlex.split(argv))


def tmpfs(name: str, size: str = "256k", free: int = 0):
    """Mount a tmpfs of ``size`` at ``name`` and fill it until ``free`` bytes remain."""
    def setup(ctx: Context) -> None:
        point = ctx.work / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise Skip(f"cannot mount a tmpfs here ({first_line(done.stderr) or done.returncode})")
        ctx.mounts.append(point)
        stats = os.statvfs(point)
        room = stats.f_bavail * stats.f_frsize - free
        if room > 0:
            with open(point / "filler.bin", "wb") as handle:
                try:
                    handle.write(b"\0" * room)
                except OSError:
                    pass
    return setup


# --- the result of one case -----------------------------------------------------------------------

@dataclass
class Result:
    """What one case did (exit code, output, what it left) and the verdict on it."""
    name: str
    cls: str
    argv: list
    expect: str
    rc: object                    # int, or 'hang'
    stdout: str = ""
    stderr: str = ""
    created: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    first_run: Optional[dict] = None
    status: str = "pass"          # pass, fail, skip

    @property
    def first_stderr(self) -> str:
        return first_line(self.stderr) or (first_line(self.stdout) if self.rc not in (0,) else "")


# --- custom checks --------------------------------------------------------------------------------

def same_shape(a: str, b: str):
    """The two NIfTI files have the same array shape (read with nibabel, not isovox)."""
    def check(ctx: Context, result: Result) -> list[str]:
        import nibabel as nib

        try:
            shape_a, shape_b = nib.load(str(ctx.work / a)).shape, nib.load(str(ctx.work / b)).shape
        except Exception as error:
            return [f"cannot compare {a} and {b}: {error}"]
        return [] if shape_a == shape_b else [f"shape {a} {shape_a} != {b} {shape_b}"]
    return check


def readable(name: str):
    """``name`` is a complete volume (isovox reads it in a fresh process)."""
    def check(ctx: Context, result: Result) -> list[str]:
        done = subprocess.run([ctx.cache.isovox, "info", name], cwd=ctx.work, capture_output=True, text=True,
                              timeout=TIMEOUT)
        return [] if done.returncode == 0 else [f"{name} unreadable after the kill: {first_line(done.stderr)}"]
    return check
