"""What every command shares: the Typer app, option help texts, reading and output checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional, Tuple

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="isovox: turn anisotropic 3D volumes (EM sections, MRI slices) into isotropic ones.")

Spacing = Optional[Tuple[float, float, float]]
SPACING_HELP = "voxel size Z Y X, fills or overrides the file's metadata"
UNIT_HELP = "length unit of --spacing (nm, um, mm, angstrom)"
CHANNEL_HELP = "channel to use from a 4D array"
OVERWRITE_HELP = "replace an existing output"
JSON_HELP = "print machine-readable results"

# The options every command that reads a volume or writes an output shares, declared once.
SpacingOption = Annotated[Spacing, typer.Option("--spacing", help=SPACING_HELP)]
UnitOption = Annotated[Optional[str], typer.Option("--unit", help=UNIT_HELP)]
ChannelOption = Annotated[Optional[int], typer.Option("--channel", help=CHANNEL_HELP)]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)]
JsonOption = Annotated[bool, typer.Option("--json", help=JSON_HELP)]


def read_input(path: Path, spacing: Spacing, unit: Optional[str], channel: Optional[int]):
    from .. import io

    return io.read(path, spacing=spacing, unit=unit, channel=channel)


def check_outputs(*paths: Path, overwrite: bool) -> None:
    """Refuse before any work is done, so a failed run leaves nothing half-written."""
    from ..io import check_output_path

    for path in paths:
        check_output_path(path, overwrite=overwrite)


def print_json(payload: dict) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))
