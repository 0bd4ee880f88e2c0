"""`isovox export`: a trained model folder as files other software runs without isovox."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import (ChannelOption, JsonOption, OverwriteOption, SpacingOption, UnitOption, app, check_outputs,
                     print_json, read_input)

FORMATS = ("bioimageio", "torchscript")
# What an output's suffix says when --format is not given.
_FORMAT_BY_SUFFIX = {".zip": "bioimageio", ".pt": "torchscript", ".pth": "torchscript"}


def _known_format(value: Optional[str]) -> Optional[str]:
    """Typer callback: one of :data:`FORMATS` (None: from the output's suffix)."""
    if value is not None and value not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}, got {value!r}")
    return value


def export_format(given: Optional[str], output: Path) -> str:
    """The format asked for, else the one the output's suffix names."""
    from ..errors import IsovoxError

    if given is not None:
        return given
    if output.suffix.lower() in _FORMAT_BY_SUFFIX:
        return _FORMAT_BY_SUFFIX[output.suffix.lower()]
    raise IsovoxError(f"cannot tell the format from {output.name}; give --format bioimageio or torchscript")


@app.command()
def export(
    model: Path = typer.Argument(..., help="trained model folder (isovox train)"),
    output: Path = typer.Option(..., "-o", "--output", help="file to write: a .zip package (bioimageio) or a "
                                "TorchScript file (.pt)"),
    format_name: Optional[str] = typer.Option(None, "--format", metavar="NAME", callback=_known_format,
                                              help="bioimageio (BioImage Model Zoo package) or torchscript; "
                                              "default: from the output's suffix (.zip, .pt)"),
    sample: Optional[Path] = typer.Option(None, "--sample", help="bioimageio: a volume the model suits; its middle "
                                          "axial plane, interpolated, is the package's test input (default: a "
                                          "synthetic texture)"),
    author: Optional[List[str]] = typer.Option(None, "--author", help="bioimageio: an author's name, repeatable "
                                               "(default: isovox)"),
    license_id: Optional[str] = typer.Option(None, "--license", metavar="SPDX",
                                             help="bioimageio: license of the weights (default: CC-BY-4.0)"),
    name: Optional[str] = typer.Option(None, "--name", help="bioimageio: the package's name (letters, digits, "
                                       "spaces, _+-())"),
    spacing: SpacingOption = None,          # apply to --sample
    unit: UnitOption = None,
    channel: ChannelOption = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Export a 2D slice-wise model for other software: a BioImage Model Zoo package (deepImageJ,
    ilastik, bioimageio.core) or a TorchScript file.

    The exported network refines one axial plane (rows = the low-resolution axis) that has
    already been cubic-interpolated onto the target grid; the package's README.md says how.
    3D and arbitrary-scale models are not supported.

    \b
    Example:
      isovox export runs/fib25 -o fib25.zip --sample fib25.tif --author "Ada Lovelace"
      isovox export runs/fib25 -o fib25.pt
    """
    from ..errors import IsovoxError
    from ..store import describe_card, read_card

    chosen = export_format(format_name, output)
    package_options = {"authors": author, "license": license_id, "name": name}
    if chosen == "torchscript" and (sample is not None or any(v is not None for v in package_options.values())):
        raise IsovoxError("--sample, --author, --license and --name describe a bioimageio package; "
                          "not for --format torchscript")
    if sample is None and (spacing is not None or unit is not None or channel is not None):
        raise IsovoxError("--spacing, --unit and --channel describe the --sample volume; give one")
    check_outputs(output, inputs=[model, sample], overwrite=overwrite)
    card = read_card(model)
    if chosen == "torchscript":
        from ..export import export_torchscript

        export_torchscript(model, output, overwrite=overwrite)
    else:
        from ..export import export_bioimageio

        volume = read_input(sample, spacing, unit, channel) if sample is not None else None
        given = {key: value for key, value in package_options.items() if value is not None}
        export_bioimageio(model, output, sample=volume, overwrite=overwrite, **given)
    if as_json:
        print_json({"output": str(output), "format": chosen, "model": str(model), "card": describe_card(card)})
    else:
        typer.echo(f"wrote {output}: {chosen} export of {describe_card(card)}")
