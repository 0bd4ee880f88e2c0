"""A run that checks itself on real data: the withheld-section score against linear interpolation.

There is no ground truth for a user's stack, but every other acquired section can be withheld:
the same recipe is trained on the remaining sections (double spacing, the same physical slice
profile, which is why the acquisition estimate is in physical units), reconstructs the withheld
positions, and is scored there against the real sections, beside linear interpolation of the
same kept sections. It is the check frame-interpolation papers use, and the only honest number
isovox can give on real data: a model that does not beat linear here should not be trusted over
linear at the native factor either, and the report says so plainly.

Grid and scoring: the kept stack is reconstructed onto the finest lateral spacing (rounded so
that withheld section k lands exactly on an output section, :func:`withheld_check_grid`), as
the model's real job does, and each withheld section is scored as an image (PSNR, SSIM; the
dtype's range for integers). A withheld section found defective (:mod:`isovox.defects`: blank,
saturated, ...) is not a truth and is left out; the sections next to a defect are scored (the
kept defect is bridged by :mod:`isovox.gaps` first). To stay cheap on large volumes the check runs
on a central lateral window (``crop``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..simulation import simulate
from ..volume import Volume, lateral_spacing, lowres_axis

__all__ = ["withheld_section_check", "central_window", "same_acquisition"]

#: Lateral window of the check, pixels (the demo's window: minutes on 2 CPU cores).
CHECK_CROP = 320


def central_window(volume: Volume, crop: int | None) -> Volume:
    """The central ``crop`` x ``crop`` lateral window, every section (the volume itself if None)."""
    if crop is None:
        return volume
    axis = lowres_axis(volume.spacing)
    start, stop = [0, 0, 0], list(volume.shape)
    for a in range(3):
        if a != axis and volume.shape[a] > crop:
            start[a] = (volume.shape[a] - crop) // 2
            stop[a] = start[a] + crop
    window = volume.crop(start, stop)
    return window.replace(data=np.ascontiguousarray(window.numpy()))


def same_acquisition(card: Any) -> dict:
    """The training options that make the check's model see the acquisition ``card``'s model was
    trained for: its recipe and thickness when they were estimated from the data (recipe 'auto').

    Why: the estimate is in physical units, so the sections keep their thickness when every other
    one is withheld. Re-estimating on the kept stack (double spacing) is less reliable (thin
    sections alias more; on CREMI it read a 31 nm FWHM at 40 nm spacing and 62 nm at 80 nm), and
    the check would then score a different model from the one the user got. Empty when the user
    gave the recipe (the same options are passed to the check anyway) or for other methods.
    """
    degradation = getattr(card, "degradation", None) or {}
    if not degradation.get("estimated_acquisition"):
        return {}
    return {"recipe": degradation["recipe"], "thickness": degradation.get("thickness")}


def withheld_check_grid(volume: Volume) -> tuple[int, float, int]:
    """(low-res axis, output spacing, n): the check reconstructs the kept stack (spacing 2 s) onto
    spacing s / n, the finest lateral spacing rounded so that withheld section k lands exactly on
    output index k * n."""
    axis = lowres_axis(volume.spacing)
    spacing = volume.spacing[axis]
    steps = max(1, int(round(spacing / lateral_spacing(volume.spacing, axis))))
    return axis, spacing / steps, steps


def withheld_section_check(volume: Volume, *, method: str = "selfsup", crop: int | None = CHECK_CROP,
                           workdir: str | Path | None = None, **train_options: Any) -> dict:
    """Train ``method`` on every other section of ``volume`` and score it on the withheld ones.

    ``train_options`` are the training call's (budget, arch, recipe, ...). Returns plain numbers:
    mean PSNR and SSIM over the withheld sections of isovox and of linear interpolation, the gain
    in dB, whether isovox beats linear (in PSNR and not worse in SSIM), and the scored sections.
    """
    from ..defects import detect_defects
    from ..reconstruction import reconstruct
    from . import train

    window = central_window(volume, crop)
    axis, target, steps = withheld_check_grid(window)
    kept = simulate(window, 2.0, axis=axis, recipe="take").lowres
    defective = set(detect_defects(window, axis).indices) if window.shape[axis] >= 8 else set()
    scored = [k for k in range(1, 2 * (kept.shape[axis] - 1), 2) if k not in defective]
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        folder = train(kept, Path(scratch) / "check_model", method=method,
                       **_target_option(method, kept.spacing[axis], target), **train_options)
        predicted = reconstruct(kept, model=folder, target_spacing=target)
    linear = reconstruct(kept, "linear", target_spacing=target)
    truth = window.numpy()
    ours = section_scores(truth, predicted.numpy(), axis, scored, steps)
    baseline = section_scores(truth, linear.numpy(), axis, scored, steps)
    gain = ours["psnr"] - baseline["psnr"]
    return {"method": method, "isovox_psnr": ours["psnr"], "linear_psnr": baseline["psnr"],
            "isovox_ssim": ours["ssim"], "linear_ssim": baseline["ssim"], "gain_db": gain,
            "beats_linear": bool(gain > 0 and ours["ssim"] >= baseline["ssim"]),
            "scored_sections": scored, "defective_sections": sorted(defective),
            "window": list(window.shape), "output_spacing": target}


def section_scores(truth: np.ndarray, predicted: np.ndarray, axis: int, sections: list[int], steps: int) -> dict:
    """Mean PSNR / SSIM of predicted output sections k * steps against real sections k."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    span = _data_range(truth)
    psnr, ssim = [], []
    for k in sections:
        real = np.take(truth, k, axis=axis).astype(np.float64)
        guess = np.take(predicted, k * steps, axis=axis).astype(np.float64)
        psnr.append(peak_signal_noise_ratio(real, guess, data_range=span))
        ssim.append(structural_similarity(real, guess, data_range=span))
    return {"psnr": float(np.mean(psnr)), "ssim": float(np.mean(ssim))}


def _data_range(data: np.ndarray) -> float:
    """The dtype's range for integers (255 for uint8), else the data's own."""
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        return float(info.max - info.min)
    return float(np.ptp(data)) or 1.0


def describe_check(check: dict) -> str:
    """One or two plain lines for the terminal."""
    line = (f"withheld real sections: isovox {check['isovox_psnr']:.2f} dB / SSIM {check['isovox_ssim']:.3f}, "
            f"linear {check['linear_psnr']:.2f} dB / {check['linear_ssim']:.3f} ({check['gain_db']:+.2f} dB)")
    if not check["beats_linear"]:
        line += ("\nisovox does NOT beat linear interpolation on this volume's withheld sections: "
                 "prefer linear, or train longer / tell the acquisition (--recipe, --fwhm)")
    return line


def _target_option(method: str, kept_spacing: float, target: float) -> dict:
    """The output grid as each recipe takes it: a target spacing, a factor (vae-two-stage), or
    nothing at training (arbitrary-scale takes it at reconstruction)."""
    if method == "arbitrary-scale":
        return {}
    if method == "vae-two-stage":
        return {"factor": kept_spacing / target}
    return {"target_spacing": target}
