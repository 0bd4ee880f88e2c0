"""`isovox assess`: resolution per axis and isotropy of any volume, judged from the volume alone."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (ChannelOption, JsonOption, OverwriteOption, SpacingOption, UnitOption, app,
                     check_outputs, positive, read_input)


@app.command()
def assess(
    volume: Path = typer.Argument(..., help="volume to assess: an acquisition, an isovox output or "
                                  "another tool's output (tif, nii, h5:/dataset, zarr, mrc)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", metavar="DIR", help="report folder to write "
                                          "(report.json and spectra.png)"),
    reference: Optional[Path] = typer.Option(None, "--reference", help="ground truth on the same grid: "
                                             "adds its spectra and PSNR / SSIM against it"),
    axis: Optional[str] = typer.Option(None, metavar="AXIS", help="axial axis of the isotropy score: z, y or x "
                                       "(default: the coarsest resolved)"),
    acquired: Optional[Path] = typer.Option(None, "--acquired", help="the stack VOLUME was reconstructed from: "
                                            "VOLUME is acquired again and compared with it, section by section"),
    model: Optional[Path] = typer.Option(None, "--model", metavar="DIR", help="with --acquired: the model folder "
                                         "that made VOLUME, whose card says how the stack was acquired"),
    recipe: Optional[str] = typer.Option(None, metavar="NAME", help="with --acquired: the acquisition's slice "
                                         "profile, take, gaussian, box or cubic (default: the model's, else gaussian)"),
    thickness: Optional[float] = typer.Option(None, callback=positive, help="with --acquired: the profile's "
                                              "width in VOLUME's unit (default: the model's, else the section spacing)"),
    spacing: SpacingOption = None,          # applies to the volume and the reference
    unit: UnitOption = None,
    channel: ChannelOption = None,          # applies to the volume
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Estimate the resolution along z, y and x and an isotropy score from the volume itself.

    The resolution of an axis is the finest period at which its power spectrum stands above
    the noise (2 x spacing if it does up to the grid's limit); isotropy = lateral / axial
    resolution (1 = isotropic).

    \b
    Examples:
      isovox assess iso.tif -o iso-report
      isovox assess iso.tif --reference gt.tif --json
      isovox assess iso.tif --acquired stack.tif --model stack_model
    """
    from ..assess import assess as run_assess
    from ..assess import format_summary, write_report
    from ..assess.report import FIGURE_FILE, REPORT_FILE

    check_outputs(output, inputs=[volume, reference, acquired, model], overwrite=overwrite)
    if acquired is None and (model is not None or recipe is not None or thickness is not None):
        from ..errors import IsovoxError

        raise IsovoxError("--model, --recipe and --thickness describe the acquisition of --acquired; give --acquired")
    assessed = read_input(volume, spacing, unit, channel)
    truth = read_input(reference, spacing, unit, None) if reference is not None else None
    stack = read_input(acquired, None, None, channel) if acquired is not None else None
    acquisition = _acquisition(model, recipe, thickness, assessed.unit) if acquired is not None else None
    report = run_assess(assessed, reference=truth, axis=axis, acquired=stack, acquisition=acquisition)
    if output is not None:
        write_report(report, output, overwrite=overwrite)
    if as_json:
        typer.echo(report.to_json())
        return
    typer.echo(format_summary(report))
    if output is not None:
        typer.echo(f"wrote {output / REPORT_FILE} and {output / FIGURE_FILE}")


def _acquisition(model: Optional[Path], recipe: Optional[str], thickness: Optional[float], unit: str) -> dict:
    """How the stack was acquired: ``--recipe`` (and ``--thickness``) when given, else the model
    card's, else a Gaussian profile as wide as the section spacing."""
    if recipe is not None or model is None:
        return {"recipe": recipe or "gaussian", "thickness": thickness}
    from ..assess import card_acquisition
    from ..store import read_card

    card = read_card(model)
    from_card = card_acquisition(card.degradation, card.unit, unit)
    return {**from_card, "thickness": from_card["thickness"] if thickness is None else thickness}

