"""Running one case of the hostile-input sweep in a fresh folder, and judging what it did.

:func:`run_case` puts the case's inputs into a new folder, hashes everything there
(:func:`snapshot`), runs the command (:func:`execute`, or :func:`execute_interrupted` to signal it
midway and then run it again), and fills a :class:`hostile_common.Result` with every broken promise:
a traceback, an input modified, a leftover, the wrong exit code, not one ``error:`` line
(:func:`check_exit`, :func:`check_message`, :func:`changed_inputs`, :func:`leftovers`), plus the
case's own check.

Imported as a top-level module (``import hostile_run_case``), like ``harness``: see its docstring.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from hostile_common import (BLOCK_WORK, EITHER, ERR, NONZERO, OK, TMP_MARKERS, TRAIN_WORK, Case, Context, Result,
                            SetupError, Skip, first_line)
from hostile_fixtures import Cache


def snapshot(folder: Path) -> dict[str, tuple]:
    """relative path -> ('d',) | ('l', target) | ('f', sha256) for everything under ``folder``."""
    entries: dict[str, tuple] = {}
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(base) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                entries[rel] = ("l", os.readlink(path))
            elif path.is_dir():
                entries[rel] = ("d",)
            else:
                entries[rel] = ("f", _sha256(path))
    return entries


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        return f"unreadable: {error.strerror}"
    return digest.hexdigest()


def _matches(rel: str, patterns) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes for pattern in patterns)


def _is_temporary(rel: str) -> bool:
    return any(marker in rel for marker in TMP_MARKERS)


def changed_inputs(before: dict, after: dict, outputs) -> list[str]:
    failures = []
    for rel, entry in before.items():
        if _matches(rel, outputs):
            continue
        if rel not in after:
            failures.append(f"input removed: {rel}")
        elif after[rel] != entry:
            failures.append(f"input modified: {rel}")
    return failures


def created_paths(before: dict, after: dict) -> list[str]:
    """New paths, each reported once at its topmost new folder."""
    new = sorted(rel for rel in after if rel not in before)
    top = []
    for rel in new:
        if not any(rel.startswith(parent + "/") for parent in top):
            top.append(rel)
    return [rel + ("/" if after[rel] == ("d",) else "") for rel in top]


def leftovers(created: list[str], case: Case, rc, killed: bool) -> list[str]:
    allowed = list(case.outputs)
    if rc not in (0,) and case.blockwise:
        allowed += [BLOCK_WORK, "*/" + BLOCK_WORK]
    if rc == 130 or (case.interrupt and rc != 0):
        allowed += [TRAIN_WORK, BLOCK_WORK, "*/" + TRAIN_WORK, "*/" + BLOCK_WORK]
    bad = []
    for rel in created:
        rel = rel.rstrip("/")
        if _is_temporary(rel):
            if not killed:
                bad.append(rel)
        elif not _matches(rel, allowed):
            bad.append(rel)
    return bad


def has_traceback(text: str) -> bool:
    return any(line.startswith("Traceback") or line.lstrip().startswith('File "') for line in text.splitlines())


def check_exit(case: Case, rc) -> list[str]:
    if rc == "hang":
        return [f"hang (no exit within {case.timeout:.0f} s)"]
    if isinstance(rc, int) and rc < 0:
        return [f"killed by signal {-rc}"]
    if case.expect == NONZERO:
        return [] if rc != 0 else ["exit 0: the failure went unreported"]
    wanted = {OK: (0,), ERR: (2,), EITHER: (0, 2)}[case.expect]
    if rc in wanted:
        return []
    if case.expect == OK:
        return [f"exit {rc}, expected 0"]
    if rc == 0:
        return ["exit 0: bad input accepted"]
    return [f"exit {rc}, expected 2"]


def check_message(case: Case, rc, stderr: str) -> list[str]:
    if rc in (0, "hang") or (isinstance(rc, int) and rc < 0) or case.help_ok:
        return []
    lines = [line for line in stderr.splitlines() if line.strip()]
    if any(line.startswith("error: internal error") for line in lines):
        return ["internal error (an unhandled exception, reported as one line)"]
    if len(lines) == 1 and lines[0].startswith("error:"):
        return []
    if not lines:
        return ["no error message"]
    if not any(line.startswith("error:") for line in lines):
        return [f"no 'error:' line ({len(lines)} stderr lines)"]
    return [f"{len(lines)} stderr lines, not one 'error:' line"]


def check_outputs_exist(case: Case, work: Path, rc) -> list[str]:
    if rc != 0 or case.expect == ERR:
        return []
    return [f"missing output: {pattern}" for pattern in case.outputs
            if not any(ch in pattern for ch in "*?[") and not (work / pattern).exists()
            and not os.path.lexists(work / pattern)]


def execute(argv: list, work: Path, isovox: str, timeout: float):
    """Run ``isovox ARGV`` in ``work``; returns (rc or 'hang', stdout, stderr, seconds)."""
    started = time.monotonic()
    process = subprocess.Popen([isovox, *argv], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True, env=_environment())
    try:
        out, err = process.communicate(timeout=timeout)
        rc = process.returncode
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, err = process.communicate()
        rc = "hang"
    return rc, out, err, time.monotonic() - started


def _environment() -> dict:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.pop("PYTHONWARNINGS", None)
    return env


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def execute_interrupted(case: Case, work: Path, isovox: str):
    """Start the command, signal it once its trigger exists; returns (rc, out, err, seconds, note)."""
    spec = case.interrupt
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([isovox, *case.argv], cwd=work, stdout=out, stderr=err, text=True,
                                   start_new_session=True, env=_environment())
        note, seen = "", None
        while process.poll() is None and time.monotonic() - started < case.timeout:
            if seen is None and any(fnmatch.fnmatchcase(name, spec.trigger) for name in os.listdir(work)):
                seen = time.monotonic()
            if seen is not None and time.monotonic() - seen >= spec.delay:
                try:
                    (os.killpg if spec.group else os.kill)(process.pid, spec.sig)
                except ProcessLookupError:
                    pass
                break
            time.sleep(0.002)
        if seen is None:
            note = f"finished before {spec.trigger} appeared: not interrupted" if process.poll() is not None \
                else "trigger never appeared"
        try:
            rc = process.wait(timeout=case.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()
            rc = "hang"
        out.seek(0), err.seek(0)
        return rc, out.read(), err.read(), time.monotonic() - started, note


def run_case(case: Case, cache: Cache, isovox: str, scratch: Path, keep: bool) -> Result:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in case.name[:40])
    work = Path(tempfile.mkdtemp(prefix=f"{safe}-", dir=scratch))
    ctx = Context(work, cache)
    result = Result(case.name, case.cls, case.argv, case.expect, rc=None)
    try:
        try:
            for step in case.setup:
                ctx.put(step) if isinstance(step, str) else step(ctx)
        except Skip as why:
            result.status, result.notes = "skip", [str(why)]
            return result
        except SetupError as why:
            result.status, result.failures = "fail", [f"setup: {why}"]
            return result
        before = snapshot(work)
        if case.interrupt:
            _run_interrupted(case, ctx, isovox, before, result)
        else:
            result.rc, result.stdout, result.stderr, result.seconds = execute(case.argv, work, isovox, case.timeout)
            _judge(case, ctx, before, result, killed=False)
        if case.note:
            result.notes.append(case.note)
        result.status = "fail" if result.failures else "pass"
        return result
    finally:
        ctx.cleanup()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _judge(case: Case, ctx: Context, before: dict, result: Result, killed: bool) -> None:
    after = snapshot(ctx.work)
    result.created = created_paths(before, after)
    failures = []
    if has_traceback(result.stdout) or has_traceback(result.stderr):
        failures.append("traceback")
    failures += changed_inputs(before, after, case.outputs)
    failures += [f"leftover: {rel}" for rel in leftovers(result.created, case, result.rc, killed)]
    failures += check_exit(case, result.rc)
    failures += check_message(case, result.rc, result.stderr)
    failures += check_outputs_exist(case, ctx.work, result.rc)
    if case.check and result.rc == 0:
        failures += case.check(ctx, result)
    result.failures += failures


def _run_interrupted(case: Case, ctx: Context, isovox: str, before: dict, result: Result) -> None:
    spec = case.interrupt
    rc, out, err, seconds, note = execute_interrupted(case, ctx.work, isovox)
    after = snapshot(ctx.work)
    created = created_paths(before, after)
    killed = spec.sig == signal.SIGKILL
    first = {"rc": rc, "stderr": first_line(err), "created": created, "stdout_all": out, "stderr_all": err}
    result.first_run, result.seconds = first, seconds
    done = [p for p in case.outputs if not any(ch in p for ch in "*?[") and p in {c.rstrip("/") for c in created}]
    if not note and case.outputs and len(done) == len(case.outputs):
        note = "the outputs were complete before the signal took effect: not interrupted"
    if note:
        result.notes.append(note)
    name = signal.Signals(spec.sig).name
    if has_traceback(out) or has_traceback(err):
        result.failures.append(f"traceback after {name}")
    elif not killed and rc not in (0, "hang"):
        result.failures += [f"after {name}: {problem}" for problem in check_message(case, rc, err)]
    if rc == 0 and not note:
        result.notes.append(f"exit 0 after {name} (finished anyway)")
    stale = [rel for rel in created if _is_temporary(rel)]
    if stale and not killed:
        result.failures.append(f"temporary left after {name}: {', '.join(stale)}")
    elif stale:
        result.notes.append(f"after {name}: {', '.join(stale)} (expected; the rerun must clean it)")
    result.failures += changed_inputs(before, after, case.outputs)
    if not spec.rerun or note:      # nothing was interrupted: the first run is the run
        result.rc, result.stdout, result.stderr = rc, out, err
        result.created = created
        if rc == "hang":
            result.failures.append("hang")
        if case.check:
            result.failures += case.check(ctx, result)
        result.failures += [f"leftover: {rel}" for rel in leftovers(created, case, rc, killed)]
        return
    result.rc, result.stdout, result.stderr, extra = execute(case.argv, ctx.work, isovox, case.timeout)
    result.seconds += extra
    _judge(replace(case, interrupt=None, expect=OK), ctx, before, result, killed=False)
