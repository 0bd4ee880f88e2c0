"""`isovox degrade`: apply a learned axial degradation (paper 000's G_hl) to a sharp volume."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (ChannelOption, JsonOption, LevelsOption, OverwriteOption, SpacingOption, UnitOption, app,
                     check_outputs, print_json, read_input)


@app.command()
def degrade(
    input: Path = typer.Argument(..., help="sharp (isotropic) volume at the model's target spacing"),
    output: Path = typer.Option(..., "-o", "--output", help="degraded volume to write"),
    model: Path = typer.Option(..., "--model", metavar="DIR", help="model folder trained with --method degradation-learning"),
    axis: Optional[str] = typer.Option(None, metavar="AXIS", help="axis to degrade: z, y or x (default: the learned one)"),
    batch_size: int = typer.Option(8, min=1, help="planes per network call"),
    device: str = typer.Option("auto", metavar="DEVICE", help="auto, cpu or cuda[:N]"),
    spacing: SpacingOption = None,
    unit: UnitOption = None,
    channel: ChannelOption = None,
    levels: LevelsOption = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Degrade a sharp volume the way the acquisition a model folder learned from did.

    The result has the learned section spacing along the axis: realistic low-resolution training
    data for any method, made from isotropic references.

    \b
    Example:
      isovox degrade fibsem_10nm.tif -o fibsem_like_sstem.tif --model sstem_model
    """
    from .. import io
    from ..training.recipes.degradation_learning import degrade_volume

    check_outputs(output, inputs=[input, model], overwrite=overwrite)
    io.check_levels_apply([output], levels)
    volume = read_input(input, spacing, unit, channel)
    result = degrade_volume(volume, model, axis=axis, device=device, batch_size=batch_size)
    io.write(result, output, overwrite=overwrite, levels=levels)
    if as_json:
        print_json({"output": str(output), "model": str(model), "volume": result.describe()})
    else:
        typer.echo(f"wrote {output}: {result.describe()}")
