"""What every command shares: the Typer app, option help texts, reading and output checks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional, Sequence, Tuple

import typer

from .helpstyle import HelpStyledTyper

app = HelpStyledTyper(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="isovox: turn anisotropic 3D volumes (EM sections, MRI slices) into isotropic ones.")

Spacing = Optional[Tuple[float, float, float]]
SPACING_HELP = "voxel size (three numbers), fills or overrides the file's metadata"
UNIT_HELP = "length unit of --spacing (nm, um, mm, angstrom)"
CHANNEL_HELP = "channel to use from a 4D array"
OVERWRITE_HELP = "replace an existing output"
JSON_HELP = "print machine-readable results"


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"isovox {version('isovox')}")
        except PackageNotFoundError:                 # run from a source tree, not installed
            typer.echo("isovox (not installed)")
        raise typer.Exit(0)


@app.callback()
def _options(show_version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                        help="print the version and exit")] = False) -> None:
    """isovox: turn anisotropic 3D volumes (EM sections, MRI slices) into isotropic ones."""

# The options every command that reads a volume or writes an output shares, declared once.
SpacingOption = Annotated[Spacing, typer.Option("--spacing", metavar="Z Y X", help=SPACING_HELP,
                                                callback=lambda v: positive_each(v))]
UnitOption = Annotated[Optional[str], typer.Option("--unit", metavar="UNIT", help=UNIT_HELP)]
ChannelOption = Annotated[Optional[int], typer.Option("--channel", help=CHANNEL_HELP, min=0)]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)]
JsonOption = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
BadSectionsOption = Annotated[Optional[str], typer.Option(
    "--bad-sections", metavar="SECTIONS", help="defective sections along the low-resolution axis to leave out and bridge, "
    "e.g. 14,15,20-22 (added to those detected)")]
PositionsOption = Annotated[Optional[Path], typer.Option(
    "--positions", metavar="FILE", help="text file with each acquired section's position along the low-resolution "
    "axis, one number a line in the volume's unit: the stack is first resampled onto a regular grid at the median "
    "step (wider gaps bridged linearly); along that axis the positions win over --spacing")]
DetectOption = Annotated[bool, typer.Option(
    "--detect/--no-detect", help="find blank, saturated, dark or bright and duplicated sections and bridge them")]
LevelsOption = Annotated[Optional[int], typer.Option(
    "--levels", min=1, help="resolution levels of a .zarr output's OME-Zarr pyramid, full resolution included "
    "(1: none below it; default: halve until the coarsest level has at most 256^3 voxels)")]


def bad_section_list(text: Optional[str]) -> tuple[int, ...]:
    from ..defects import parse_section_list

    return parse_section_list(text) if text else ()


def with_positions(volume, positions: Optional[Path], axis: Optional[str] = None):
    """``volume`` on the regular grid of a --positions file (:mod:`isovox.positions`), or unchanged."""
    if positions is None:
        return volume
    from ..positions import apply_positions

    return apply_positions(volume, positions, axis)


def positive(value: Optional[float]) -> Optional[float]:
    """Typer callback: a finite number > 0 (None passes: the option was not given)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a finite number > 0, got {value}")
    return value


def positive_each(values: Optional[Sequence[float]]) -> Optional[Sequence[float]]:
    """Typer callback for a list or tuple of numbers that must each be finite and > 0."""
    for value in values or ():
        positive(value)
    return values


def fraction(value: Optional[float]) -> Optional[float]:
    """Typer callback: a number in [0, 1] (a fraction of the data range)."""
    if value is not None and not (math.isfinite(value) and 0 <= value <= 1):
        raise typer.BadParameter(f"must be between 0 and 1, got {value}")
    return value


def read_input(path: Path, spacing: Spacing, unit: Optional[str], channel: Optional[int]):
    from .. import io

    return io.read(path, spacing=spacing, unit=unit, channel=channel)


def check_outputs(*paths: Optional[Path], inputs: Sequence[Optional[Path]] = (), overwrite: bool) -> None:
    """Refuse before any work is done, so a failed run leaves nothing half-written and no input
    is ever replaced: not by an output, not by another output of the same command."""
    from ..io import check_output_path
    from ..io.atomic import refuse_duplicate_outputs

    outputs = [path for path in paths if path is not None]
    refuse_duplicate_outputs(outputs)
    for path in outputs:
        check_output_path(path, overwrite=overwrite, inputs=[given for given in inputs if given is not None])


def print_json(payload: dict) -> None:
    from ..jsontext import strict_json

    typer.echo(strict_json(payload))
