"""Commands on volumes: info, simulate, reconstruct, evaluate, demo."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import (BadSectionsOption, ChannelOption, DetectOption, JsonOption, LevelsOption, OverwriteOption,
                     PositionsOption, SpacingOption, UnitOption, app, bad_section_list, check_outputs, fraction, positive,
                     positive_each, print_json, read_input, with_positions)
from ..jsontext import strict_json


@app.command()
def info(
    input: Path = typer.Argument(..., help="volume file (tif, nii, h5:/dataset, zarr, mrc) or model folder"),
    spacing: SpacingOption = None,
    unit: UnitOption = None,
    channel: ChannelOption = None,
    bad_sections: BadSectionsOption = None,
    positions: PositionsOption = None,
    detect: DetectOption = True,
    as_json: JsonOption = False,
) -> None:
    """Show a volume's shape, dtype, spacing, geometry, low-resolution axis and defective sections,
    or a model folder's card: method, network, factor, spacing, degradation, training.

    \b
    Examples:
      isovox info stack.tif --spacing 50 4 4 --unit nm
      isovox info model/
    """
    from ..model_summary import is_model_folder

    if is_model_folder(input):
        _model_info(input, as_json, given=[spacing, unit, channel, bad_sections, positions])
        return
    from ..summary import volume_summary

    if input.is_dir():
        _check_volume_folder(input)
    volume = with_positions(read_input(input, spacing, unit, channel), positions)
    summary = volume_summary(volume, bad_section_list(bad_sections), detect)
    if positions is not None:
        from ..positions import describe_regularisation

        summary["positions"] = describe_regularisation(volume)
    if as_json:
        print_json(summary)
    else:
        for key, value in summary.items():
            typer.echo(f"{key:>14}: {value}")


def _check_volume_folder(folder: Path) -> None:
    """A folder that is no model folder must be a volume (a .zarr); else one line saying both."""
    from .. import io
    from ..errors import IsovoxError

    try:
        io.format_of(folder)
    except IsovoxError:
        raise IsovoxError(f"{folder} is neither an isovox model folder (no config.json) nor a volume "
                          "(a .zarr folder)") from None


def _model_info(folder: Path, as_json: bool, given: list) -> None:
    from ..errors import IsovoxError
    from ..model_summary import model_summary, summary_lines

    if any(option is not None for option in given):
        raise IsovoxError("--spacing, --unit, --channel, --bad-sections and --positions describe a volume; "
                          f"{folder} is a model folder")
    summary = model_summary(folder)
    if as_json:
        print_json(summary)
    else:
        for line in summary_lines(summary):
            typer.echo(line)


@app.command()
def simulate(
    input: Path = typer.Argument(..., help="isotropic (ground-truth) volume"),
    output: Path = typer.Option(..., "-o", "--output", help="anisotropic volume to write"),
    factor: float = typer.Option(..., min=1.0, help="spacing ratio along the axis, any float >= 1 (4, 6.5, 10)"),
    axis: str = typer.Option("z", metavar="AXIS", help="axis to degrade: z, y or x"),
    recipe: str = typer.Option("gaussian", metavar="NAME", help="acquisition model: take, gaussian, box, cubic, kspace"),
    thickness: Optional[float] = typer.Option(None, callback=positive, help="section thickness / profile FWHM in physical "
                                              "units (default: the new spacing)"),
    offset: int = typer.Option(0, min=0, help="index (whole number) of the first kept slice in the input"),
    noise: float = typer.Option(0.0, callback=fraction, help="Gaussian noise sigma as a fraction of the data range"),
    artifacts: bool = typer.Option(False, help="add EM section artifacts (missing/dark sections, "
                                   "shifts, flicker)"),
    gaps: float = typer.Option(0.0, callback=fraction, help="fraction of acquired sections lost (blanked at "
                               "random; their indices are in the record)"),
    gt: Optional[Path] = typer.Option(None, help="where to write the matching ground truth "
                                      "(default: OUTPUT's stem + _gt)"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="random seed for noise and artifacts"),
    spacing: SpacingOption = None,
    unit: UnitOption = None,
    channel: ChannelOption = None,
    levels: LevelsOption = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Make an anisotropic volume from an isotropic one, plus the ground truth it must match.

    Writes OUTPUT, the ground-truth crop (same grid as a reconstruction of OUTPUT) and
    OUTPUT's stem + _degradation.json (the drawn parameters, to replay the run).

    \b
    Example:
      isovox simulate flyem.tif -o lr.tif --factor 6.5 --recipe gaussian
    """
    from .. import io
    from ..simulation import simulate as run_simulation

    gt_path = gt or io.sibling_path(output, "_gt")
    record_path = io.sibling_path(output, "_degradation", suffix=".json")
    check_outputs(output, gt_path, record_path, inputs=[input], overwrite=overwrite)
    io.check_levels_apply([output, gt_path], levels)
    volume = read_input(input, spacing, unit, channel)
    result = run_simulation(volume, factor, axis=axis, recipe=recipe, thickness=thickness,
                            offset=offset, noise=noise or None, artifacts=artifacts, seed=seed, gaps=gaps)
    io.write_together([(result.lowres, output), (result.ground_truth, gt_path)],
                      [(record_path, strict_json(result.record))], overwrite=overwrite, levels=levels)
    payload = {"output": str(output), "ground_truth": str(gt_path), "record": str(record_path),
               "lowres": result.lowres.describe(), "ground_truth_grid": result.ground_truth.describe()}
    if as_json:
        print_json(payload)
    else:
        typer.echo(f"wrote {output}: {result.lowres.describe()}")
        typer.echo(f"wrote {gt_path}: {result.ground_truth.describe()}")
        typer.echo(f"wrote {record_path}")


def _precision(value: str) -> str:
    """Typer callback: one of isovox's precisions, as a usage error otherwise."""
    from ..reconstruction.precision import PRECISIONS

    if value not in PRECISIONS:
        raise typer.BadParameter(f"must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return value


@app.command()
def reconstruct(
    input: Path = typer.Argument(..., help="anisotropic volume"),
    output: Path = typer.Option(..., "-o", "--output", help="isotropic volume to write"),
    method: str = typer.Option("cubic", metavar="NAME", help="nearest, linear, cubic or lanczos3 (ignored with --model)"),
    model: Optional[Path] = typer.Option(None, "--model", metavar="DIR", help="trained model folder (isovox train)"),
    device: str = typer.Option("auto", metavar="DEVICE", help="auto, cpu or cuda[:N] (with --model)"),
    batch_size: Optional[int] = typer.Option(None, min=1, help="planes per forward pass (with --model; default: "
                                              "by plane size and device)"),
    tile: Optional[int] = typer.Option(None, min=32, help="process planes in tiles of this size (with --model)"),
    keep_acquired: bool = typer.Option(False, help="copy acquired sections into the output unchanged "
                                       "(with --model)"),
    tta: bool = typer.Option(False, "--tta", help="test-time augmentation (with a 2D --model): average the "
                             "network over 4 mirrored variants of every plane; 4x the network time"),
    uncertainty: Optional[Path] = typer.Option(None, "--uncertainty", help="also write the per-voxel uncertainty "
                                               "here: the spread of the TTA variants plus the misfit to the "
                                               "acquired sections (float32, same grid; implies --tta; a .zarr "
                                               "with --block-size)"),
    precision: str = typer.Option("auto", callback=_precision, metavar="NAME",
                                  help="network number format (with --model): fp32, bf16 or auto (bf16 on CUDA and "
                                  "on CPUs with native bf16, else fp32)"),
    target_spacing: Optional[List[float]] = typer.Option(None, callback=positive_each, help="output spacing: one value for the "
                                                         "low-resolution axis, or three (Z Y X) by repeating "
                                                         "the option; default: "
                                                         "the finest in-plane spacing"),
    axis: Optional[str] = typer.Option(None, metavar="AXIS", help="low-resolution axis (default: the coarsest)"),
    dtype: Optional[str] = typer.Option(None, metavar="DTYPE", help="output dtype (default: the input's)"),
    block_size: Optional[List[int]] = typer.Option(None, "--block-size", min=1, help="reconstruct block by block "
                                                   "(N, or Z Y X by repeating the option, output voxels) into a .zarr output: bounded "
                                                   "memory, resumable"),
    workers: Optional[int] = typer.Option(None, min=1, help="blockwise: local Dask workers (default: one per core)"),
    processes: bool = typer.Option(False, help="blockwise: local workers are processes, not threads"),
    scheduler: Optional[str] = typer.Option(None, metavar="ADDRESS", help="blockwise: dask.distributed scheduler address, "
                                            "e.g. tcp://host:8786"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="blockwise: continue an interrupted run"),
    bad_sections: BadSectionsOption = None,
    positions: PositionsOption = None,
    detect: DetectOption = True,
    spacing: SpacingOption = None,
    unit: UnitOption = None,
    channel: ChannelOption = None,
    levels: LevelsOption = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Reconstruct an isotropic volume.

    \b
    Examples:
      isovox reconstruct lr.tif -o iso.tif --method cubic
      isovox reconstruct lr.tif -o iso.tif --model lr_model
      isovox reconstruct lr.tif -o iso.tif --model lr_model --tta \\
          --uncertainty iso_std.tif
      isovox reconstruct big.zarr -o iso.zarr --model lr_model \\
          --block-size 128 --workers 2 --levels 5
      isovox reconstruct big.zarr -o iso.zarr --model lr_model \\
          --scheduler tcp://10.0.0.1:8786
    """
    target = None if not target_spacing else (target_spacing[0] if len(target_spacing) == 1 else target_spacing)
    common = dict(method=method, model=model, target_spacing=target, axis=axis, dtype=dtype, device=device,
                  batch_size=batch_size, keep_acquired=keep_acquired, bad_sections=bad_section_list(bad_sections),
                  detect_defects=detect, tta=tta, precision=precision)
    reading = dict(spacing=spacing, unit=unit, channel=channel)
    if block_size or workers or scheduler or processes:
        size = 128 if not block_size else (block_size[0] if len(block_size) == 1 else block_size)
        _reconstruct_blockwise(input, output, uncertainty, common, reading, as_json, positions, block_size=size,
                               workers=workers, processes=processes, scheduler=scheduler, overwrite=overwrite,
                               resume=resume, levels=levels)
    else:
        _reconstruct_in_memory(input, output, uncertainty, common, reading, as_json, positions, tile=tile,
                               levels=levels, overwrite=overwrite)


def _reconstruct_blockwise(input: Path, output: Path, uncertainty: Optional[Path], common: dict, reading: dict,
                           as_json: bool, positions: Optional[Path], **blockwise) -> None:
    """``reconstruct --block-size``: block by block into a .zarr (resumable, so an existing output
    may be a run to pick up: only inputs and duplicates are refused here)."""
    from .. import io
    from ..blockwise import reconstruct_blockwise
    from ..io.atomic import refuse_duplicate_outputs, refuse_replacing_inputs

    refuse_duplicate_outputs([path for path in (output, uncertainty) if path is not None])
    for path in (output, uncertainty):
        if path is not None:
            refuse_replacing_inputs(path, [input, common["model"]])
    given = input
    if positions is not None:          # regularised in memory; the blocks then read that volume
        given, reading = with_positions(read_input(input, **reading), positions, common["axis"]), {}
    result = reconstruct_blockwise(given, output, uncertainty=uncertainty, **common, **reading, **blockwise)
    _report(output, result, as_json, uncertainty, io.read(uncertainty, lazy=True) if uncertainty else None)


def _reconstruct_in_memory(input: Path, output: Path, uncertainty: Optional[Path], common: dict, reading: dict,
                           as_json: bool, positions: Optional[Path], tile: Optional[int], levels: Optional[int],
                           overwrite: bool) -> None:
    """``reconstruct`` in memory: interpolation, a model, or a model with its uncertainty."""
    from .. import io
    from ..errors import IsovoxError
    from ..reconstruction import reconstruct as run_reconstruction, reconstruct_with_uncertainty

    model = common["model"]
    check_outputs(output, uncertainty, inputs=[input, model], overwrite=overwrite)
    io.check_levels_apply([output, uncertainty] if uncertainty else [output], levels)
    if model is None and (common["tta"] or uncertainty is not None):
        raise IsovoxError("--tta and --uncertainty average a network over mirrored planes; they need --model")
    volume = with_positions(read_input(input, **reading), positions, common["axis"])
    if model is None:
        result = run_reconstruction(volume, common["method"], target_spacing=common["target_spacing"],
                                    axis=common["axis"], dtype=common["dtype"], bad_sections=common["bad_sections"],
                                    detect_defects=common["detect_defects"])
    elif uncertainty is not None:
        options = {k: v for k, v in common.items() if k not in ("method", "model", "tta")}
        result, spread = reconstruct_with_uncertainty(volume, model, tile=tile, **options)
        io.write_together([(result, output), (spread, uncertainty)], overwrite=overwrite, levels=levels)
        _report(output, result, as_json, uncertainty, spread)
        return
    else:
        options = {k: v for k, v in common.items() if k != "method"}
        result = run_reconstruction(volume, tile=tile, **options)
    io.write(result, output, overwrite=overwrite, levels=levels)
    _report(output, result, as_json)


def _report(output: Path, result, as_json: bool, uncertainty: Optional[Path] = None, spread=None) -> None:
    if as_json:
        extra = {} if uncertainty is None else {"uncertainty": str(uncertainty),
                                                "uncertainty_volume": spread.describe()}
        print_json({"output": str(output), "volume": result.describe(), **extra})
    else:
        typer.echo(f"wrote {output}: {result.describe()}")
        if uncertainty is not None:
            typer.echo(f"wrote {uncertainty}: {spread.describe()}")


@app.command()
def evaluate(
    reference: Path = typer.Argument(..., help="ground-truth volume"),
    test: Path = typer.Argument(..., help="volume to score, on the reference's grid"),
    planes: str = typer.Option("xy,xz,yz", metavar="PLANES", help="plane families to score, comma separated"),
    border: int = typer.Option(4, min=0, help="voxels excluded at every face"),
    mask: Optional[Path] = typer.Option(None, help="score only where this volume is non-zero"),
    labels: bool = typer.Option(False, help="the inputs are label volumes: report VOI and adapted Rand error"),
    spacing: SpacingOption = None,          # applies to both inputs
    unit: UnitOption = None,
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="also write the results as JSON"),
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Score a reconstruction against a reference: PSNR, SSIM, NRMSE per plane family.

    \b
    Example:
      isovox evaluate gt.tif iso.tif --planes xz,yz
    """
    from .. import io
    from ..evaluate import compare, format_table, segmentation_agreement, to_json

    if output is not None:
        check_outputs(output, inputs=[reference, test, mask], overwrite=overwrite)
    ref, tst = (read_input(path, spacing, unit, None) for path in (reference, test))
    if labels:
        results = segmentation_agreement(ref, tst)
    else:
        mask_volume = read_input(mask, spacing, unit, None) if mask is not None else None
        families = tuple(p.strip() for p in planes.split(",") if p.strip())
        results = compare(ref, tst, planes=families, border=border, mask=mask_volume)
    if output is not None:
        io.write_text(output, to_json(results), overwrite=overwrite)
    typer.echo(to_json(results, per_plane=False) if as_json
               else format_table(results, title=f"{test.name} vs {reference.name}"))


@app.command()
def demo(
    input: Optional[Path] = typer.Argument(None, help="volume to run on (default: a real ssTEM "
                                           "sample, fetched once and cached)"),
    output: Path = typer.Option(Path("isovox-demo"), "-o", "--output", metavar="DIR", help="folder for the results"),
    crop: int = typer.Option(320, min=16, help="work on the central CROP x CROP lateral window (speed)"),
    full: bool = typer.Option(False, help="use the whole volume instead of the central window"),
    iterations: int = typer.Option(400, min=1, help="training iterations of the self-supervised network"),
    spacing: SpacingOption = None,
    unit: UnitOption = None,
    channel: ChannelOption = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Learn a volume's own isotropic reconstruction end to end (self-supervised) and score it.

    \b
    Examples:
      isovox demo                   (a real CREMI ssTEM sample, 40 x 4 x 4 nm)
      isovox demo my_stack.tif --spacing 50 4 4 -o demo-out
    """
    from ..demo import run_demo

    report = run_demo(input, output, spacing=spacing, unit=unit, channel=channel, overwrite=overwrite,
                      crop=None if full else crop, iterations=iterations,
                      echo=None if as_json else typer.echo)
    if as_json:
        print_json(report)
