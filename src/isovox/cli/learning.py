"""Commands that learn: train (volume -> model folder) and run (train, then reconstruct)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from .common import (BadSectionsOption, ChannelOption, DetectOption, JsonOption, OverwriteOption, SpacingOption,
                     UnitOption, app, bad_section_list, check_outputs, fraction, positive, print_json, read_input)

METHOD_HELP = ("training recipe: selfsup (learn from the volume's own lateral planes), supervised3d "
               "(a 3D network learned from isotropic references given with --hr), arbitrary-scale (one "
               "Meta-SRGAN for any factor; --set scale_min=, scale_max=, vgg_weights=PATH, adversarial_weight=), "
               "degradation-learning (a CycleGAN learns the real axial degradation first; --set cycle_iterations=N), "
               "vae-two-stage (VAE slice interpolation then a 3D generator, paper 003; one or more inputs)")
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


def _supervised3d_options(options: dict, factor: Optional[float], axes: str, gan: bool) -> dict:
    """The selfsup-shaped CLI options, mapped onto :class:`Supervised3DConfig` fields."""
    from ..errors import IsovoxError

    if factor is None:
        raise IsovoxError("--method supervised3d needs --factor (the spacing ratio to learn, e.g. 4)")
    if options.pop("target_spacing") is not None:
        raise IsovoxError("--target-spacing does not apply to supervised3d; the references set the grid")
    if options.pop("noise", None) or options.pop("artifacts", None):
        raise IsovoxError("--noise and --artifacts are self-supervised augmentations; not for supervised3d")
    options["thickness"] = options.pop("fwhm")
    if options["recipe"] == "auto":        # isotropic references: nothing to estimate, the recipe's default
        options.pop("recipe")
    return {**options, "factor": factor, "axes": axes, "gan": gan}


def _degradation_learning_options(options: dict) -> dict:
    """The selfsup-shaped CLI options, mapped onto :class:`DegradationLearningConfig` fields:
    the degradation is learned, so no recipe, profile, noise or artifacts apply."""
    from ..errors import IsovoxError

    if options.pop("fwhm") is not None or options.pop("recipe") != "auto":
        raise IsovoxError("--recipe and --fwhm do not apply to degradation-learning: the degradation is learned")
    if options.pop("noise", None) or options.pop("artifacts", None):
        raise IsovoxError("--noise and --artifacts are not available for degradation-learning")
    return options


def _vae_two_stage_options(options: dict, factor: Optional[float]) -> dict:
    """The CLI options, mapped onto :class:`VAETwoStageConfig` fields (iterations: stage II's)."""
    from ..errors import IsovoxError

    if options.pop("target_spacing") is not None or options.pop("fwhm") is not None \
            or options.pop("recipe") != "auto":
        raise IsovoxError("--target-spacing, --fwhm and --recipe do not apply to vae-two-stage (use --factor; "
                          "stage II takes one slice of K, paper 003)")
    if options.pop("noise", None) or options.pop("artifacts", None) or options.pop("minutes") is not None:
        raise IsovoxError("--noise, --artifacts and --minutes are not available for vae-two-stage; "
                          "budgets are iterations (--iterations for stage II, --set warmup_iterations=...)")
    if "iterations" in options:
        options["stage2_iterations"] = options.pop("iterations")
    return {**options, "factor": factor}


def _arbitrary_scale_options(options: dict) -> dict:
    """The selfsup-shaped CLI options, mapped onto :class:`ArbitraryScaleConfig` fields."""
    from ..errors import IsovoxError

    if options.pop("target_spacing") is not None:
        raise IsovoxError("--target-spacing does not apply to arbitrary-scale training: one model serves "
                          "any target; give it to reconstruct")
    if options.pop("fwhm") is not None:
        raise IsovoxError("--fwhm does not apply to arbitrary-scale training (the profile scales with the "
                          "factor); use --set profile_ratio=R")
    if options.pop("noise", None) or options.pop("artifacts", None):
        raise IsovoxError("--noise and --artifacts are not available for arbitrary-scale training")
    if options["recipe"] == "auto":        # the profile scales with each factor (profile_ratio)
        options.pop("recipe")
    return options


# The network each method trains when --arch is not given.
DEFAULT_ARCH = {"supervised3d": "mdcsrn", "arbitrary-scale": "meta-srgan", "vae-two-stage": "mdcsrn-b4u4k12"}


def check_method(method: str) -> None:
    from ..errors import IsovoxError
    from ..training import TRAIN_METHODS

    if method not in TRAIN_METHODS:
        raise IsovoxError(f"unknown training method {method!r}; choose one of {', '.join(TRAIN_METHODS)}")


def _recipe_call(method: str, paths: list, hr_given: bool, factor: Optional[float], axes: str, gan: bool,
                 options: dict, read) -> tuple[dict, dict]:
    """The volumes argument and the recipe's config fields of one training call, from CLI options.

    Shared by ``train`` and ``run``, so every method works through both with the same rules.
    """
    from ..errors import IsovoxError

    if method == "supervised3d":
        options = _supervised3d_options(options, factor, axes, gan)
        if not paths:
            raise IsovoxError("--method supervised3d needs isotropic reference volumes: --hr VOL [VOL ...]")
        return dict(volume=None, highres=[read(path) for path in paths]), options
    if method == "vae-two-stage":
        if hr_given or gan or not paths:
            raise IsovoxError("--method vae-two-stage learns from anisotropic volumes given as inputs (no --hr, --gan)")
        volumes = [read(path) for path in paths]
        return dict(volume=volumes if len(volumes) > 1 else volumes[0]), _vae_two_stage_options(options, factor)
    if hr_given or factor is not None or gan:
        raise IsovoxError(f"--hr, --factor and --gan are for --method supervised3d, not {method}")
    if len(paths) != 1:
        raise IsovoxError(f"--method {method} learns from one anisotropic volume; got {len(paths)} inputs")
    if method == "arbitrary-scale":
        options = _arbitrary_scale_options(options)
    elif method == "degradation-learning":
        options = _degradation_learning_options(options)
    return dict(volume=read(paths[0])), options


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
    """The withheld-section check of :mod:`isovox.selfcheck` with the same recipe and budget,
    recorded in the model card; None (and a note) where the volume has too few sections."""
    from ..errors import IsovoxError
    from ..selfcheck import withheld_section_check
    from ..store import add_to_card

    settings = {k: v for k, v in options.items() if k not in ("target_spacing", "factor")}
    try:
        result = withheld_section_check(volume, method=method, workdir=Path(folder).parent, **settings)
    except IsovoxError as reason:
        typer.echo(f"withheld-section check skipped: {reason}", err=True)
        return None
    add_to_card(folder, "withheld_check", result)
    return result


def _every_stage(method: str, options: dict, gan: bool, count: Optional[int]) -> None:
    """``--iterations N`` budgets every stage of a multi-stage recipe, so a small N means a short
    run (stage one kept its 2000-iteration default before, and a 2-iteration run took minutes)."""
    if count is None:
        return
    if method == "degradation-learning":
        options.setdefault("cycle_iterations", count)
    elif method == "supervised3d" and gan:
        options.setdefault("gan_iterations", count)
        options.setdefault("critic_warmup", min(count, 1500))
    elif method == "vae-two-stage":
        phase = max(1, -(-count // 3))
        for name in ("warmup_iterations", "adversarial_iterations", "compact_iterations"):
            options.setdefault(name, phase)


def _training_options(arch: str, preset: str, target_spacing: Optional[float], recipe: str,
                      fwhm: Optional[float], minutes: Optional[float], iterations: Optional[int],
                      patch_size: Optional[int], batch_size: Optional[int], noise: float,
                      artifacts: bool, seed: int, device: str) -> dict:
    options = dict(arch=arch, preset=preset, target_spacing=target_spacing, recipe=recipe, fwhm=fwhm,
                   minutes=minutes, patch_size=patch_size, batch_size=batch_size, seed=seed, device=device)
    if iterations is not None:
        options["iterations"] = iterations
    elif minutes is not None:
        options["iterations"] = None              # a time budget alone: train until it runs out
    # neither: the recipe's default iteration budget applies
    if noise:
        options["noise"] = noise
    if artifacts:
        options["artifacts"] = True
    return options


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


@app.command()
def train(
    inputs: Optional[List[Path]] = typer.Argument(None, help="anisotropic volume to learn from (selfsup); "
                                                  "isotropic references (supervised3d)"),
    output: Path = typer.Option(..., "-o", "--output", help="model folder to write"),
    method: str = typer.Option("selfsup", help=METHOD_HELP),
    hr: Optional[List[Path]] = typer.Option(None, "--hr", help="isotropic reference volume(s) for "
                                            "supervised3d (repeat, or list after the options)"),
    arch: Optional[str] = typer.Option(None, help=ARCH_HELP + " [default: drcnet; mdcsrn for supervised3d; "
                                       "meta-srgan for arbitrary-scale]"),
    preset: str = typer.Option("default", help=PRESET_HELP),
    target_spacing: Optional[float] = typer.Option(None, callback=positive, help="spacing to reach along the low-res axis "
                                                   "(default: the finest lateral spacing)"),
    recipe: str = typer.Option("auto", help="acquisition: auto (estimated from the volume), gaussian, box, take, cubic "
                               "(kspace for supervised3d: k-space truncation, paper 004)"),
    fwhm: Optional[float] = typer.Option(None, callback=positive, help="slice profile FWHM / thickness in physical units "
                                         "(default: the section spacing)"),
    factor: Optional[float] = typer.Option(None, min=1.0, help="supervised3d, vae-two-stage: spacing ratio to learn (e.g. 4)"),
    axes: str = typer.Option("z", help="supervised3d: degraded axes, e.g. z, or yx for k-space 2x2"),
    gan: bool = typer.Option(False, help="supervised3d: continue with WGAN-GP (mDCSRN-GAN, paper 004)"),
    minutes: Optional[float] = typer.Option(None, callback=positive, help="training budget in minutes"),
    iterations: Optional[int] = typer.Option(None, min=1, help="training budget in iterations (default 1000 "
                                             "when --minutes is not given)"),
    patch_size: Optional[int] = typer.Option(None, min=8, help="patch size (default 64 CPU, 128 GPU; 3D: 24 / 40)"),
    batch_size: Optional[int] = typer.Option(None, min=1, help="patches per step (default 8 CPU, 16 GPU; 3D: 4 / 6)"),
    noise: float = typer.Option(0.0, callback=fraction, help="augment with Gaussian noise up to this sigma (fraction of range)"),
    artifacts: bool = typer.Option(False, help="augment with EM section artifacts (paper 001)"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="random seed"),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    settings: Optional[List[str]] = typer.Option(None, "--set", help="any other setting of the recipe's "
                                                 "config, KEY=VALUE (JSON values), repeatable"),
    bad_sections: BadSectionsOption = None,
    detect: DetectOption = True,
    spacing: SpacingOption = None,
    unit: UnitOption = None,
    channel: ChannelOption = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Train a reconstruction network and save it as a model folder.

    An interrupted run (Ctrl-C, a killed job) resumes when the same command is run again.

    Example: isovox train stack.tif -o stack_model --minutes 10
             isovox train stack.tif -o a2i_model --arch a2i --preset paper --device cuda
             isovox train --method supervised3d --arch mdcsrn-b4u4k12 --factor 2 --axes yx \\
                 --recipe kspace -o mri_model --hr head1.nii.gz head2.nii.gz
    """
    from ..store import describe_card, read_card
    from ..training import train as run_training

    check_method(method)
    paths = list(hr or []) + list(inputs or [])
    check_outputs(output, inputs=paths, overwrite=overwrite)
    options = _training_options(arch or DEFAULT_ARCH.get(method, "drcnet"), preset, target_spacing, recipe,
                                fwhm, minutes, iterations, patch_size, batch_size, noise, artifacts, seed, device)
    settings_given = parse_settings(settings)
    call, options = _recipe_call(method, paths, bool(hr), factor, axes, gan, options,
                                 lambda path: read_input(path, spacing, unit, channel))
    _defect_options(method, options, bad_sections, detect, reconstructs=False)
    options.update(settings_given)
    _every_stage(method, options, gan, iterations)
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


@app.command()
def run(
    input: Path = typer.Argument(..., help="anisotropic volume"),
    output: Path = typer.Option(..., "-o", "--output", help="isotropic volume to write"),
    model_dir: Optional[Path] = typer.Option(None, "--model-dir", help="where to keep the trained model "
                                             "(default: OUTPUT's stem + _model)"),
    method: str = typer.Option("selfsup", help=METHOD_HELP.replace("supervised3d (a 3D network learned from "
                               "isotropic references given with --hr)", "supervised3d (use train: it needs --hr)")),
    arch: Optional[str] = typer.Option(None, help=ARCH_HELP + " [default: drcnet; meta-srgan for arbitrary-scale; "
                                       "mdcsrn-b4u4k12 for vae-two-stage]"),
    preset: str = typer.Option("default", help=PRESET_HELP),
    recipe: str = typer.Option("auto", help="acquisition: auto (estimated from the volume), gaussian, box, take, cubic"),
    fwhm: Optional[float] = typer.Option(None, callback=positive, help="slice profile FWHM / thickness (physical units)"),
    minutes: Optional[float] = typer.Option(None, callback=positive, help="training budget in minutes"),
    iterations: Optional[int] = typer.Option(None, min=1, help="training budget in iterations"),
    keep_acquired: bool = typer.Option(False, help="copy the acquired sections into the output unchanged"),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="random seed"),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    settings: Optional[List[str]] = typer.Option(None, "--set", help="any other setting of the recipe's "
                                                 "config, KEY=VALUE (JSON values), repeatable"),
    bad_sections: BadSectionsOption = None,
    detect: DetectOption = True,
    check: bool = typer.Option(True, "--check/--no-check", help="also train the same on every other section "
                               "and score it on the withheld real sections against linear interpolation "
                               "(about doubles the training time; stored in the model card)"),
    spacing: SpacingOption = None,
    unit: UnitOption = None,
    channel: ChannelOption = None,
    overwrite: OverwriteOption = False,
    as_json: JsonOption = False,
) -> None:
    """Train on the volume, then reconstruct it: the whole self-supervised job in one command.

    Example: isovox run stack.tif -o stack_iso.tif --minutes 10
    """
    from .. import io
    from ..errors import IsovoxError
    from ..reconstruction import reconstruct as run_reconstruction
    from ..training import train as run_training

    check_method(method)
    if method in ("supervised3d", "paired2d"):
        raise IsovoxError(f"--method {method} learns from references, not from the volume itself: use "
                          "'isovox train' with them, then 'isovox reconstruct --model'")
    model_dir = model_dir or io.sibling_path(output, "_model", suffix="")
    check_outputs(output, model_dir, inputs=[input], overwrite=overwrite)
    options = _training_options(arch or DEFAULT_ARCH.get(method, "drcnet"), preset, None, recipe, fwhm, minutes,
                                iterations, None, None, 0.0, False, seed, device)
    settings_given = parse_settings(settings)
    volume = read_input(input, spacing, unit, channel)
    call, options = _recipe_call(method, [input], False, None, "z", False, options, lambda path: volume)
    gaps = _defect_options(method, options, bad_sections, detect, reconstructs=True)
    options.update(settings_given)
    _every_stage(method, options, False, iterations)
    folder = _train_or_say_how_to_resume(run_training, output_dir=model_dir, method=method,
                                         overwrite=overwrite, **call, **options)
    result = run_reconstruction(volume, model=folder, device=device, keep_acquired=keep_acquired,
                                bad_sections=gaps, detect_defects=detect)
    io.write(result, output, overwrite=overwrite)
    withheld = _self_check(volume, folder, method, options) if check else None
    if as_json:
        print_json({"output": str(output), "model": str(folder), "volume": result.describe(),
                    "withheld_check": withheld})
    else:
        from ..selfcheck import describe_check
        from ..store import read_card

        _echo_estimate(read_card(folder))
        typer.echo(f"wrote {folder} and {output}: {result.describe()}")
        if withheld is not None:
            typer.echo(describe_check(withheld))
