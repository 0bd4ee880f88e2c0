"""`isovox assess`: resolution per axis and isotropy of any volume, judged from the volume alone."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import (ChannelOption, JsonOption, OverwriteOption, SpacingOption, UnitOption, app,
                     check_outputs, read_input)


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
    """
    from ..assess import assess as run_assess
    from ..assess import format_summary, write_report
    from ..assess.report import FIGURE_FILE, REPORT_FILE

    check_outputs(output, inputs=[volume, reference], overwrite=overwrite)
    assessed = read_input(volume, spacing, unit, channel)
    truth = read_input(reference, spacing, unit, None) if reference is not None else None
    report = run_assess(assessed, reference=truth, axis=axis)
    if output is not None:
        write_report(report, output, overwrite=overwrite)
    if as_json:
        typer.echo(report.to_json())
        return
    typer.echo(format_summary(report))
    if output is not None:
        typer.echo(f"wrote {output / REPORT_FILE} and {output / FIGURE_FILE}")
