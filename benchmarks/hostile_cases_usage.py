"""Hostile-input cases, class 'usage': malformed command lines (missing, extra or ill-typed
arguments and options) that must end in one ``error:`` line, and the help and version screens.

Part of the sweep run by ``hostile_inputs.py``; a case is a :func:`hostile_common.case`.
"""

from __future__ import annotations

from hostile_common import ERR, OK, TINY_TRAIN, Case, case, group


def usage_cases() -> list[Case]:
    """Class 'usage': one bad command line per command, plus --version and --help."""
    R = "reconstruct lr.tif -o out.tif"
    return group("usage", [
        case("no-command", "", expect=ERR, help_ok=True),
        case("version", "--version", expect=OK),
        case("help", "--help", expect=OK),
        case("command-help", "reconstruct --help", expect=OK),
        case("unknown-command", "bogus lr.tif", "lr.tif"),
        case("reconstruct-missing-input", "reconstruct"),
        case("reconstruct-missing-o", "reconstruct lr.tif", "lr.tif"),
        case("reconstruct-o-without-value", "reconstruct lr.tif -o", "lr.tif"),
        case("reconstruct-unknown-option", f"{R} --bogus", "lr.tif"),
        case("reconstruct-spacing-2-values", f"{R} --spacing 40 4", "lr.tif"),
        case("reconstruct-spacing-4-values", f"{R} --spacing 40 4 4 4", "lr.tif"),
        case("reconstruct-spacing-not-numbers", f"{R} --spacing a b c", "lr.tif"),
        case("reconstruct-tile-float", f"{R} --tile 3.5 --model model", "lr.tif", "model"),
        case("reconstruct-block-size-word", f"{R.replace('out.tif', 'out.zarr')} --block-size big", "lr.tif"),
        case("simulate-missing-factor", "simulate iso.tif -o lr.tif", "iso.tif"),
        case("simulate-factor-not-number", "simulate iso.tif -o lr.tif --factor six", "iso.tif"),
        case("evaluate-missing-test", "evaluate ref.tif", "ref.tif"),
        case("evaluate-extra-argument", "evaluate ref.tif test.tif ref.tif", "ref.tif", "test.tif"),
        case("train-no-inputs", "train -o m --iterations 2"),
        case("train-missing-o", f"train lr.tif {TINY_TRAIN}", "lr.tif"),
        case("train-iterations-float", "train lr.tif -o m --iterations 2.5", "lr.tif"),
        case("run-missing-o", "run lr.tif", "lr.tif"),
        case("degrade-missing-model", "degrade iso.tif -o d.tif", "iso.tif"),
        case("info-missing-input", "info"),
        case("info-extra-argument", "info lr.tif lr.tif", "lr.tif"),
        case("info-unknown-unit", "info lr.tif --spacing 40 4 4 --unit parsec", "lr.tif"),
        case("info-channel-word", "info lr.tif --channel red", "lr.tif"),
        case("demo-iterations-word", "demo lr72.tif -o d --iterations many", "lr72.tif"),
        case("overwrite-with-value", f"{R} --overwrite=yes", "lr.tif"),
    ])
