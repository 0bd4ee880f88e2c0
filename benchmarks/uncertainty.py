"""Is the TTA uncertainty informative? (issue 17) Per-patch uncertainty against per-patch error.

FlyEM FIB-SEM (250^3, 10 nm) made anisotropic x4 with ``simulate`` (Gaussian profile, FWHM =
section spacing, then taking slices), the default self-supervised model trained on the low-res
volume alone for a fixed number of iterations (seed 0; the same run for every invocation), then:

- ``reconstruct`` plain and ``reconstruct_with_uncertainty`` (TTA: 4 mirrored variants of every
  plane, both axial plane families): PSNR / SSIM of both on the axial planes against the truth,
  so the table says what TTA does to the quality;
- every axial plane (xz and yz) cut into non-overlapping PATCH x PATCH patches: the mean
  uncertainty and the mean absolute error of the TTA output in each, and their Spearman rank
  correlation over all patches (the issue asks >= 0.5). The acquired slices are predicted too
  (``keep_acquired`` is off), so every voxel counts.

    .venv/bin/python benchmarks/uncertainty.py [--iterations 300] [--patch 16]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

import isovox
from harness import FLYEM, Stopwatch, markdown_table, plane_scores, save_result, write_text, result_path

FACTOR = 4.0


def patch_means(volume: np.ndarray, patch: int) -> np.ndarray:
    """Mean of every non-overlapping ``patch x patch`` patch of the xz and yz planes (z rows)."""
    means = []
    for family in (volume, np.swapaxes(volume, 1, 2)):            # (z, y, x): xz planes at fixed y; yz at x
        planes = np.moveaxis(family, 1, 0)                         # (plane, z, columns)
        n, rows, cols = planes.shape
        rows, cols = rows // patch * patch, cols // patch * patch
        tiles = planes[:, :rows, :cols].reshape(n, rows // patch, patch, cols // patch, patch)
        means.append(tiles.mean(axis=(2, 4), dtype=np.float64).ravel())
    return np.concatenate(means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--patch", type=int, default=16)
    parser.add_argument("--model", type=Path, default=Path(tempfile.gettempdir()) / "isovox-uncertainty-model",
                        help="model folder: reused when it exists, else trained there")
    args = parser.parse_args()
    sim = isovox.simulate(isovox.read(FLYEM), FACTOR, axis=0, recipe="gaussian")
    truth = sim.ground_truth.numpy().astype(np.float32)
    model = args.model
    if not (model / "config.json").is_file():
        isovox.train(sim.lowres, model, iterations=args.iterations, seed=0, device="cpu")
    opened = isovox.open_model(model, device="cpu")
    with Stopwatch() as plain_time:
        plain = opened.reconstruct(sim.lowres, dtype="float32")
    with Stopwatch() as tta_time:
        tta, spread = opened.reconstruct_with_uncertainty(sim.lowres, dtype="float32")
    region = tuple(slice(0, n) for n in truth.shape)
    error = np.abs(tta.numpy()[region] - truth)
    uncertainty = spread.numpy()[region]
    rho, _ = stats.spearmanr(patch_means(uncertainty, args.patch), patch_means(error, args.patch))
    pearson = float(np.corrcoef(uncertainty.ravel(), error.ravel())[0, 1])
    record = {"factor": FACTOR, "iterations": args.iterations, "patch": args.patch,
              "spearman_patch": float(rho), "pearson_voxel": pearson,
              "mean_uncertainty": float(uncertainty.mean()), "mean_abs_error": float(error.mean()),
              "plain": {"scores": plane_scores(sim.ground_truth, plain, mean=True), "seconds": plain_time.seconds},
              "tta": {"scores": plane_scores(sim.ground_truth, tta, mean=True), "seconds": tta_time.seconds}}
    save_result("uncertainty", record, echo=True)
    rows = [[name, f"{record[name]['scores']['mean']['psnr']:.3f}", f"{record[name]['scores']['mean']['ssim']:.4f}",
             f"{record[name]['seconds']:.0f}"] for name in ("plain", "tta")]
    table = markdown_table(["run", "PSNR (xz, yz mean)", "SSIM", "seconds"], rows)
    text = (f"{table}\n\nSpearman (per {args.patch}x{args.patch} patch, mean uncertainty vs mean |error|): "
            f"{rho:.3f}; voxelwise Pearson {pearson:.3f}\n")
    write_text(result_path("uncertainty", ".md"), text)
    print(text)


if __name__ == "__main__":
    main()
