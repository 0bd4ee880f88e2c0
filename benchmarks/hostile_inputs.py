"""Hostile-input sweep of the `isovox` command line: bad and edge inputs for every command.

Run by hand from the repository root (not part of the test suite; about 20-30 minutes on two
shared CPU cores, most of it in the few cases that train):

    nice -n 10 .venv/bin/python benchmarks/hostile_inputs.py \
        [--only SUBSTRING] [--table PATH.md] [--json PATH.json] [--scratch DIR] [--keep] [--list]

``--only`` runs the cases whose name or class contains SUBSTRING (repeatable); ``--table`` writes
the markdown table for the docs (case, command, expectation, exit code, first line of stderr, what
was left behind, verdict); ``--json`` writes every result with its full stdout/stderr. The exit
status is 1 when any case fails a check.

What the README promises, and what is checked for every case:

1. no Python traceback: no ``Traceback`` line and no ``File "..."`` frame in stdout or stderr;
2. no input modified: the SHA-256 of every file (and the listing of every folder) that existed in
   the case's folder before the command is the same after it, except the case's declared outputs
   (an existing output replaced with ``--overwrite`` is an output, not an input);
3. no leftovers: nothing new in the case's folder but the declared outputs; allowed besides them
   are the documented resume folders: ``.NAME.isovox-train`` after an interrupted training, and
   ``.NAME.zarr.isovox-blockwise`` after a failed or interrupted blockwise reconstruction. Hidden
   temporaries (``*.isovox-tmp-*``, ``*.isovox-old-*``) are never allowed after a run that was
   not SIGKILLed, and never after a rerun;
4. the exit code: 0 where the case expects success (``ok``), 2 where it expects a refusal
   (``error``: bad input or usage), 0 or 2 where both a result and a clean refusal are acceptable
   (``either``), any non-zero code where the machine, not the input, is at fault (``nonzero``:
   disk full); a per-case timeout (120 s by default) is a failure ('hang');
5. the message: a failing command prints exactly one line on stderr and it starts with
   ``error:`` (a usage screen is allowed only where a case says so); ``error: internal error``
   (an unexpected exception turned into one line) counts as a failure;
6. where a case has its own check (e.g. the slice count of a float32-spacing NIfTI
   reconstruction equals the ground truth's; an output replaced under SIGKILL is still readable).

Each case runs in a fresh temporary folder (under ``--scratch``) with tiny inputs made by the
sweep itself (``hostile_fixtures.py``): volumes of 12 x 48 x 48 uint8 at 40 x 4 x 4 nm in every format,
corrupt files (truncated TIFF, random bytes, a NIfTI-2 header claiming 10^5 slices, a NIfTI with
zero slice thickness and no qform/sform, complex data, a Zarr with a deleted chunk, constant / NaN
volumes, 2D / 4D arrays) and small model folders trained once with two iterations (plus corrupted
copies). They are built once into a cache folder and copied into each case's folder, so every
input is hashed. Disk-full cases mount a small tmpfs inside the case folder (needs root; skipped
with a note otherwise). Interrupted cases send SIGTERM / SIGINT / SIGKILL to a command once its
hidden temporary (or work folder) appears, then run the same command again.

The sweep lives in sibling modules, imported as top-level modules like ``harness`` (see its
docstring): ``hostile_common`` (the case record, setup steps, results), ``hostile_fixtures`` (the
inputs), ``hostile_run_case`` (running and judging one case) and the case tables
``hostile_cases_usage``, ``hostile_cases_files``, ``hostile_cases_values``,
``hostile_cases_training`` and ``hostile_cases_writes``. This script gathers their cases, runs
them and writes the tables.

Cases are data: see ``CASES`` (built by the ``*_cases`` functions, one per class). To add one,
append ``case(name, "argv ...", fixtures..., expect=OK|ERR|EITHER|NONZERO, out=(outputs...))``
to its class's function; a fixture is a name in ``hostile_fixtures.FIXTURES`` ('name->dest' copies
it under another name) or a callable taking the case's :class:`hostile_common.Context`. ``--list``
prints every case.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import harness
from hostile_cases_files import bad_input_cases, edge_ok_cases, float32_cases
from hostile_cases_training import methods_cases, model_folder_cases
from hostile_cases_usage import usage_cases
from hostile_cases_values import values_cases
from hostile_cases_writes import disk_full_cases, interrupted_cases, outputs_cases, replace_input_cases
from hostile_common import Case, Result
from hostile_fixtures import Cache
from hostile_run_case import run_case

ROOT = harness.ROOT

CASES: list[Case] = [
    *usage_cases(), *bad_input_cases(), *replace_input_cases(), *float32_cases(), *values_cases(),
    *model_folder_cases(), *methods_cases(), *disk_full_cases(), *interrupted_cases(), *outputs_cases(),
    *edge_ok_cases(),
]


# --- reporting ------------------------------------------------------------------------------------

def _cell(text: str, limit: int = 140) -> str:
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|").replace("`", "'")


def _argv_text(argv: list) -> str:
    return "isovox " + " ".join(shlex.quote(word) for word in argv)


def _exit_text(result: Result) -> str:
    if result.first_run is not None and result.first_run["rc"] != result.rc:
        return f"{result.first_run['rc']} → {result.rc}"
    return str(result.rc)


def results_table(results: list[Result]) -> str:
    """The Markdown table of docs/hostile_inputs.md: one row a case."""
    header = ["case", "class", "command", "expect", "exit", "first line of stderr", "left behind", "verdict"]
    rows = []
    for r in results:
        left = ", ".join(r.created) or "—"
        verdict = "skip: " + "; ".join(r.notes) if r.status == "skip" else \
            ("FAIL: " + "; ".join(r.failures) if r.failures else "pass")
        rows.append([r.name, r.cls, f"`{_cell(_argv_text(r.argv), 160)}`", r.expect, _exit_text(r),
                     _cell(r.first_stderr), _cell(left), _cell(verdict, 300)])
    return harness.markdown_table(header, rows) + "\n"


def summary_text(results: list[Result]) -> str:
    failed = [r for r in results if r.status == "fail"]
    skipped = [r for r in results if r.status == "skip"]
    lines = [f"{len(results)} cases: {len(results) - len(failed) - len(skipped)} pass, {len(failed)} fail, "
             f"{len(skipped)} skipped"]
    for cls in dict.fromkeys(r.cls for r in failed):
        lines.append(f"\n## {cls}")
        for r in (r for r in failed if r.cls == cls):
            lines.append(f"- {r.name}: `{_argv_text(r.argv)}` -> exit {_exit_text(r)}; "
                         f"stderr: {_cell(r.first_stderr, 160) or '(none)'}; FAILED: {'; '.join(r.failures)}")
    return "\n".join(lines)


def _default_isovox() -> str:
    beside = Path(sys.executable).with_name("isovox")
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "isovox")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", default=[], help="run cases whose name or class contains this")
    parser.add_argument("--table", type=Path, help="write the markdown table here")
    parser.add_argument("--json", type=Path, help="write every result as JSON here")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()), help="where case folders go")
    parser.add_argument("--keep", action="store_true", help="keep each case's folder (for debugging)")
    parser.add_argument("--isovox", default=_default_isovox(), help="the isovox executable")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)

    names = [c.name for c in CASES]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        parser.error(f"duplicate case names: {sorted(duplicates)}")
    cases = [c for c in CASES if not args.only or any(s in c.name or s in c.cls for s in args.only)]
    if args.list:
        for c in cases:
            print(f"{c.cls:16} {c.name:50} {c.expect:6} {_argv_text(c.argv)}")
        print(f"{len(cases)} cases")
        return 0
    args.scratch.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="isovox-hostile-", dir=args.scratch))
    cache = Cache(root / "cache", args.isovox)
    cache.folder.mkdir()
    results = []
    try:
        for index, item in enumerate(cases, 1):
            try:
                result = run_case(item, cache, args.isovox, root, args.keep)
            except Exception as error:          # a bug here must not lose the other cases
                result = Result(item.name, item.cls, item.argv, item.expect, rc=None, status="fail",
                                failures=[f"harness error: {type(error).__name__}: {error}"])
            results.append(result)
            verdict = result.status.upper() + ("" if result.status == "pass" else
                                               ": " + "; ".join(result.failures or result.notes))
            print(f"[{index:3}/{len(cases)}] {item.cls:15} {item.name:48} exit {_exit_text(result):8} "
                  f"{result.seconds:6.1f}s  {verdict}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if args.table:
        harness.write_text(args.table, results_table(results))
    if args.json:
        cases = [{**asdict(r), "first_stderr_line": r.first_stderr} for r in results]
        harness.write_json(args.json, {"machine": harness.machine_info(), "cases": cases}, indent=1)
    print()
    print(summary_text(results))
    return 1 if any(r.status == "fail" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
