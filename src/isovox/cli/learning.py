"""Commands that learn: train (volume -> model folder) and run (train, then reconstruct)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..training.recipes.registry import REFERENCES, VOLUME_AND_TRUTH
from .recipes import (arch_default_help, check_method, recipe_inputs, recipe_options, stage_budgets,
                      training_method_help)
from .common import (BadSectionsOption, ChannelOption, DetectOption, JsonOption, LevelsOption, OverwriteOption,
                     PositionsOption, SpacingOption, UnitOption, app, bad_section_list, check_outputs, fraction, positive,
                     print_json, read_input, with_positions)

ARCH_HELP = ("network: drcnet, a2i, edsr, rcan, rdn, vdsr, isonet1, isonet2 (2D); mdcsrn, dcsrn, "
             "deepresolve (3D; a preset may be spelled in, e.g. mdcsrn-b4u4k12)")
PRESET_HELP = "network size: default (small, CPU) or paper (the paper's size, for a GPU)"
DEVICE_HELP = "auto, cpu or cuda[:N]"


def _train_or_say_how_to_resume(run_training, *args, **kwargs) -> Path:
    """Train; on Ctrl-C or SIGTERM the loop has saved a checkpoint: say so and exit 130."""
    from ..training import TrainingInterrupted
    from .failures import CommandInterrupted

    try:
        return run_training(*args, **kwargs)
    except TrainingInterrupted as interruption:      # main() prints it as the one error line
        raise CommandInterrupted(str(interruption)) from None


def parse_settings(pairs: Optional[List[str]]) -> dict:
    """``KEY=VALUE`` strings -> a dict; values are read as JSON when they parse, else as text."""
    from ..errors import IsovoxError

    settings = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise IsovoxError(f"--set needs KEY=VALUE, got {pair!r}")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return settings


def _defect_options(method: str, options: dict, bad_sections: Optional[str], detect: bool,
                    reconstructs: bool) -> tuple[int, ...]:
    """Defective sections: selfsup training skips their lateral planes; reconstruction (``run``)
    bridges them for every method. Where neither applies, naming them is an error, not ignored."""
    from ..errors import IsovoxError

    gaps = bad_section_list(bad_sections)
    if method == "selfsup":
        options.update(bad_sections=list(gaps), detect_defects=detect)
    elif gaps and not reconstructs:
        raise IsovoxError(f"--bad-sections is used by selfsup training and by reconstruction, not by "
                          f"{method} training; give it to 'isovox reconstruct' instead")
    return gaps


def _self_check(volume, folder: Path, method: str, options: dict) -> Optional[dict]:
    """The withheld-section check of :mod:`isovox.training.withheld` with the same recipe and budget,
    recorded in the model card; None (and a note) where the volume has too few sections."""
    from ..errors import IsovoxError
    from ..training.withheld import same_acquisition, withheld_section_check
    from ..store import add_to_card, read_card

    settings = {k: v for k, v in options.items() if k not in ("target_spacing", "factor")}
    settings.update(same_acquisition(read_card(folder)))
    try:
        result = withheld_section_check(volume, method=method, workdir=Path(folder).parent, **settings)
    except IsovoxError as reason:
        typer.echo(f"withheld-section check skipped: {reason}", err=True)
        return None
    add_to_card(folder, "withheld_check", result)
    return result


def _training_options(arch: Optional[str], preset: str, iterations: Optional[int], patch_size: Optional[int],
                      batch_size: Optional[int], seed: int, device: str, **shared) -> tuple[dict, dict]:
    """(shared options, config fields every recipe has) of one training call; ``shared`` are the
    options only some recipes take (:mod:`.recipes`)."""
    common = dict(arch=arch, preset=preset, patch_size=patch_size, batch_size=batch_size, seed=seed, device=device)
    if iterations is not None:
        common["iterations"] = iterations
    elif shared.get("minutes") is not None:
        common["iterations"] = None              # a time budget alone: train until it runs out
    # neither: the recipe's default iteration budget applies
    return shared, common


def _echo_estimate(card) -> None:
    """Say which acquisition the model was trained for when it was estimated (recipe 'auto')."""
    estimate = card.degradation.get("estimated_acquisition")
    if not estimate:
        return
    if not estimate.get("estimated"):
        typer.echo(f"acquisition not estimated: {estimate['reason']}")
        return
    profile = ("thin sections (no blur across them)" if estimate["recipe"] == "take" else
               f"{estimate['recipe']} profile {estimate['thickness']:.3g} {estimate['unit']} wide")
    low, high = estimate["width_range"]
    typer.echo(f"acquisition estimated from the volume: {profile} (plausible {low:.3g}-{high:.3g} "
               f"{estimate['unit']}), noise {100 * estimate['noise_sigma']:.1f} % of the range")
    for line in _choice_lines(estimate.get("choice") or {}, estimate["unit"]):
        typer.echo(line)


def _choice_lines(choice: dict, unit: str) -> list[str]:
    """How recipe 'auto' chose between the estimate and thin sections (withheld real sections)."""
    if "candidates" not in choice:
        return [f"trained for the estimate ({choice['reason']})"] if choice.get("reason") else []
    lines = ["candidates scored on every other section withheld (short runs, PSNR):"]
    for score in choice["candidates"]:
        name = ("thin sections" if score["recipe"] == "take" else
                f"{score['recipe']} {score['thickness']:.3g} {unit}")
        lines.append(f"  {name}: {score['isovox_psnr']:.2f} dB (linear {score['linear_psnr']:.2f} dB)")
    return lines


@app.command()
def train(
    inputs: Optional[List[Path]] = typer.Argument(None, metavar="VOLUME", help="anisotropic volume to learn from (selfsup); "
                                                  "isotropic references (supervised3d)"),
    output: Path = typer.Option(..., "-o", "--output", metavar="DIR", help="model folder to write"),
    method: str = typer.Option("selfsup", metavar="NAME", help=training_method_help()),
    hr: Optional[List[Path]] = typer.Option(None, "--hr", help="isotropic reference volume(s) for "
                                            "supervised3d (repeat, or list after the options)"),
    arch: Optional[str] = typer.Option(None, metavar="NAME", help=f"{ARCH_HELP} {arch_default_help()}"),
    preset: str = typer.Option("default", metavar="NAME", help=PRESET_HELP),
    target_spacing: Optional[float] = typer.Option(None, callback=positive, help="spacing to reach along the low-res axis "
                                                   "(default: the finest lateral spacing)"),
    recipe: str = typer.Option("auto", metavar="NAME", help="acquisition: auto (estimated from the volume), "
                               "gaussian, box, take, cubic (kspace for supervised3d: k-space truncation, paper 004)"),
    fwhm: Optional[float] = typer.Option(None, callback=positive, help="slice profile FWHM / thickness in physical units "
                                         "(default: the section spacing)"),
    factor: Optional[float] = typer.Option(None, min=1.0, help="supervised3d, vae-two-stage: spacing ratio to learn (e.g. 4)"),
    axes: str = typer.Option("z", metavar="AXES", help="supervised3d: degraded axes, e.g. z, or yx for k-space 2x2"),
    gan: bool = typer.Option(False, help="supervised3d: continue with WGAN-GP (mDCSRN-GAN, paper 004)"),
    minutes: Optional[float] = typer.Option(None, callback=positive, help="training budget in minutes"),
    iterations: Optional[int] = typer.Option(None, min=1, help="training budget in iterations (default 1000 "
                                             "when --minutes is not given)"),
    patch_size: Optional[int] = typer.Option(None, min=8, help="patch size (default 64 CPU, 128 GPU; 3D: 24 / 40)"),
    batch_size: Optional[int] = typer.Option(None, min=1, help="patches per step (default 8 CPU, 16 GPU; 3D: 4 / 6)"),
    noise: float = typer.Option(0.0, callback=fraction, help="augment with Gaussian noise up to this sigma (fraction of range)"),
    artifacts: bool = typer.Option(False, help="augment with EM section artifacts (paper 001)"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="random seed"),
    device: str = typer.Option("auto", metavar="DEVICE", help=DEVICE_HELP),
    settings: Optional[List[str]] = typer.Option(None, "--set", metavar="KEY=VALUE", help="any other setting of the recipe's "
                                                 "config, KEY=VALUE (JSON values), repeatable"),
    bad_sections: BadSectionsOption = None,
    positions: PositionsOption = None,
    detect: DetectOption = True,
    spacing: SpacingOption = None,
    unit: UnitOption = None,
    channel: ChannelOption = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Train a reconstruction network and save it as a model folder.

    An interrupted run (Ctrl-C, a killed job) resumes when the same command is run again.

    \b
    Examples:
      isovox train stack.tif -o stack_model --minutes 10
      isovox train stack.tif -o a2i_model --arch a2i --preset paper --device cuda
      isovox train --method supervised3d --arch mdcsrn-b4u4k12 --factor 2 \\
          --axes yx --recipe kspace -o mri_model --hr head1.nii.gz head2.nii.gz
    """
    from ..errors import IsovoxError
    from ..store import HISTORY_PLOT_NAME, describe_card, read_card
    from ..training import train as run_training

    entry = check_method(method)
    paths = list(hr or []) + list(inputs or [])
    check_outputs(output, inputs=paths, overwrite=overwrite)
    shared, common = _training_options(arch or entry.default_arch, preset, iterations, patch_size, batch_size, seed,
                                       device, target_spacing=target_spacing, recipe=recipe, fwhm=fwhm, minutes=minutes,
                                       noise=noise, artifacts=artifacts, factor=factor, axes=axes, gan=gan)
    options = recipe_options(entry, shared, common)
    settings_given = parse_settings(settings)
    if positions is not None and len(paths) > 1:
        raise IsovoxError(f"--positions lists the sections of one volume; got {len(paths)} input volumes")
    call = recipe_inputs(entry, paths, bool(hr),
                         lambda path: with_positions(read_input(path, spacing, unit, channel), positions))
    _defect_options(method, options, bad_sections, detect, reconstructs=False)
    options.update(settings_given)
    stage_budgets(entry, options, iterations)
    folder = _train_or_say_how_to_resume(run_training, output_dir=output, method=method, overwrite=overwrite,
                                         **call, **options)
    card = read_card(folder)
    if as_json:
        print_json({"model": str(folder), "card": card.__dict__})
    else:
        typer.echo(f"wrote {folder}: {describe_card(card)}")
        _echo_estimate(card)
        summary = card.training
        best, given = summary.get("best_validation_psnr"), summary.get("input_validation_psnr")
        if best is not None and given is not None:      # None: not finite (a constant volume)
            typer.echo(f"validation PSNR {best:.2f} dB (interpolated input {given:.2f} dB)")
        curves = Path(folder) / HISTORY_PLOT_NAME
        if curves.is_file():
            typer.echo(f"training curves: {curves} (isovox info {folder} for the whole card)")


@app.command()
def run(
    input: Path = typer.Argument(..., help="anisotropic volume"),
    output: Path = typer.Option(..., "-o", "--output", help="isotropic volume to write"),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", metavar="DIR", help="where to keep the trained model "
                                             "(default: OUTPUT's stem + _model)"),
    method: str = typer.Option("selfsup", metavar="NAME", help=training_method_help(for_run=True)),
    arch: Optional[str] = typer.Option(None, metavar="NAME", help=f"{ARCH_HELP} {arch_default_help()}"),
    preset: str = typer.Option("default", metavar="NAME", help=PRESET_HELP),
    recipe: str = typer.Option("auto", metavar="NAME", help="acquisition: auto (estimated from the volume), "
                               "gaussian, box, take, cubic"),
    fwhm: Optional[float] = typer.Option(None, callback=positive, help="slice profile FWHM / thickness (physical units)"),
    minutes: Optional[float] = typer.Option(None, callback=positive, help="training budget in minutes"),
    iterations: Optional[int] = typer.Option(None, min=1, help="training budget in iterations"),
    keep_acquired: bool = typer.Option(False, help="copy the acquired sections into the output unchanged"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="random seed"),
    device: str = typer.Option("auto", metavar="DEVICE", help=DEVICE_HELP),
    settings: Optional[List[str]] = typer.Option(None, "--set", metavar="KEY=VALUE", help="any other setting of the recipe's "
                                                 "config, KEY=VALUE (JSON values), repeatable"),
    bad_sections: BadSectionsOption = None,
    positions: PositionsOption = None,
    detect: DetectOption = True,
    check: bool = typer.Option(True, "--check/--no-check", help="also train the same on every other section "
                               "and score it on the withheld real sections against linear interpolation "
                               "(about doubles the training time; stored in the model card)"),
    spacing: SpacingOption = None,
    unit: UnitOption = None,
    channel: ChannelOption = None,
    levels: LevelsOption = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Train on the volume, then reconstruct it: the whole self-supervised job in one command.

    \b
    Example:
      isovox run stack.tif -o stack_iso.tif --minutes 10
    """
    from .. import io
    from ..errors import IsovoxError
    from ..reconstruction import reconstruct as run_reconstruction
    from ..training import train as run_training

    entry = check_method(method)
    if entry.inputs in (REFERENCES, VOLUME_AND_TRUTH):
        raise IsovoxError(f"--method {method} learns from references, not from the volume itself: use "
                          "'isovox train' with them, then 'isovox reconstruct --model'")
    model_dir = model_dir or io.sibling_path(output, "_model", suffix="")
    check_outputs(output, model_dir, inputs=[input], overwrite=overwrite)
    io.check_levels_apply([output], levels)
    shared, common = _training_options(arch or entry.default_arch, preset, iterations, None, None, seed, device,
                                       recipe=recipe, fwhm=fwhm, minutes=minutes)
    options = recipe_options(entry, shared, common)
    settings_given = parse_settings(settings)
    volume = with_positions(read_input(input, spacing, unit, channel), positions)
    call = recipe_inputs(entry, [input], False, lambda path: volume)
    gaps = _defect_options(method, options, bad_sections, detect, reconstructs=True)
    options.update(settings_given)
    stage_budgets(entry, options, iterations)
    folder = _train_or_say_how_to_resume(run_training, output_dir=model_dir, method=method,
                                         overwrite=overwrite, **call, **options)
    result = run_reconstruction(volume, model=folder, device=device, keep_acquired=keep_acquired,
                                bad_sections=gaps, detect_defects=detect)
    io.write(result, output, overwrite=overwrite, levels=levels)
    withheld = _self_check(volume, folder, method, options) if check else None
    if as_json:
        print_json({"output": str(output), "model": str(folder), "volume": result.describe(),
                    "withheld_check": withheld})
    else:
        from ..training.withheld import describe_check
        from ..store import read_card

        _echo_estimate(read_card(folder))
        typer.echo(f"wrote {folder} and {output}: {result.describe()}")
        if withheld is not None:
            typer.echo(describe_check(withheld))
