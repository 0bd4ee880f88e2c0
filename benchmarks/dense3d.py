"""3D dense networks benchmark (issue 5, paper 004): mDCSRN, mDCSRN-GAN, against interpolation.

Two tasks, each trained on one half of an isotropic volume and scored on the other half:

- ``colin``: Colin27 T1 (1 mm) with paper 004's degradation, k-space truncation 2x2 in two
  axes (here z and y, the degraded planes are the sagittal 'yz' planes), which halves the grid
  there (2 x 2 x 1 mm). Split along x (the undegraded axis): left hemisphere for training, right
  for scoring. Scores on the most degraded planes (yz) inside a head mask (reference > 10,
  dilated 3 voxels) so the empty background does not inflate PSNR.
- ``flyem``: FlyEM FIB-SEM (10 nm) made anisotropic along z x4 (Gaussian profile, FWHM =
  section spacing, then taking slices); split along y; scores on the axial planes (xz, yz).

Inference: 64^3 cores with an 8-voxel margin (see PATCH, MARGIN). Per task: nearest and cubic interpolation, mDCSRN b4u4k12 and b8u4k12 trained with L1 for the
same iteration budget, and mDCSRN-GAN (b4u4k12, WGAN-GP started from the L1 model). Each model
is reconstructed from the test half's low-resolution volume with exact 3D patch inference;
inference seconds are per test volume. Sharpness (isovox.evaluate.sharpness, normalised
gradient energy, no reference) of the reference, cubic, L1 and GAN outputs on the scored planes.

    .venv/bin/python benchmarks/dense3d.py colin --iterations 800
    .venv/bin/python benchmarks/dense3d.py flyem --iterations 800
    .venv/bin/python benchmarks/dense3d.py table
    .venv/bin/python benchmarks/dense3d.py figure          # GAN losses of the colin run (PNG)

Writes benchmarks/results/dense3d/<task>.json (and the trained models under a temporary folder,
deleted afterwards). Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from isovox import io
from isovox.evaluate import sharpness
from isovox.jsontext import strict_json
from isovox.models import create_model
from isovox.models.dense3d import count_parameters
from isovox.pairs3d import degrade_axes
from isovox.reconstruction import reconstruct
from isovox.reconstruction.volumetric import reconstruct_with_model3d
from isovox.store import load_model
from isovox.training import train

from harness import (COLIN27, FLYEM, RESULTS, ROOT, Stopwatch, markdown_table, number, plane_scores, read_json,
                     save_figure, save_result, timed)

TASK_RESULTS = RESULTS / "dense3d"                 # one JSON a task (or --out name)
TASKS = {
    "colin": dict(path=COLIN27, recipe="kspace", axes=(0, 1), factor=2, split_axis=2,
                  planes=("yz",), mask=True),
    "flyem": dict(path=FLYEM, recipe="gaussian", axes=(0,), factor=4,
                  split_axis=1, planes=("xz", "yz"), mask=False),
}
# Inference in 64^3 cores with an 8-voxel margin (paper 004: 70^3, margin 3): the exact margin
# (the receptive radius, 17 for b4u4k12, 33 for b8u4k12) costs 3.6x / 8.4x the compute and, for
# b8u4k12, ~5 GB per pass on CPU; the difference it makes is measured by the tests, not here.
PATCH, MARGIN = 64, 8
MODELS = [("mdcsrn-b4u4k12 (L1)", "b4u4k12", False), ("mdcsrn-b8u4k12 (L1)", "b8u4k12", False),
          ("mdcsrn-b4u4k12-GAN", "b4u4k12", True)]


def halves(volume, axis: int):
    n = volume.shape[axis]
    stop = list(volume.shape)
    stop[axis] = n // 2
    start = [0, 0, 0]
    start[axis] = n - n // 2
    return volume.crop((0, 0, 0), stop), volume.crop(start, volume.shape)


def scores(reference, result, planes, mask) -> dict:
    """PSNR / SSIM / NRMSE per scored plane family, and the sharpness there."""
    reference = reference.crop((0, 0, 0), result.shape)      # the interpolation grid may be one shorter
    table = plane_scores(reference, result, planes, mask=mask, metrics=("psnr", "ssim", "nrmse"))
    sharp = sharpness(result, planes, mask=mask)
    return {p: {**table[p], "sharpness": sharp[p]} for p in planes}


def run_task(name: str, iterations: int, gan_iterations: int, patch: int, batch: int, seed: int,
             models: list[str], gan_settings: dict | None = None, out_name: str | None = None) -> None:
    task = TASKS[name]
    volume = io.read(task["path"])
    train_half, test_half = halves(volume, task["split_axis"])
    lowres = degrade_axes(test_half, task["recipe"], task["axes"], task["factor"])
    reference = test_half.replace(data=test_half.numpy().astype(np.float32))
    mask = None
    if task["mask"]:
        mask = ndi.binary_dilation(reference.data > 10, iterations=3)
    rows = []

    def record(method, result, seconds, extra=None):
        crop_mask = None if mask is None else mask[tuple(slice(0, n) for n in result.shape)]
        rows.append({"method": method, "scores": scores(reference, result, task["planes"], crop_mask),
                     "inference_seconds": seconds, **(extra or {})})
        print(strict_json(rows[-1], indent=None), flush=True)

    for method in ("nearest", "cubic"):
        result, seconds = timed(reconstruct, lowres, method, target_spacing=volume.spacing, dtype="float32")
        record(method, result, seconds)
    with tempfile.TemporaryDirectory() as scratch:
        folders = {}
        for label, preset, gan in [m for m in MODELS if m[0] in models]:
            out = Path(scratch) / label
            options = dict(arch="mdcsrn", preset=preset, factor=task["factor"], axes=task["axes"],
                           recipe=task["recipe"], patch_size=patch, batch_size=batch, seed=seed, device="cpu")
            if gan:
                options.update(init_from=str(folders[preset]), gan=True, gan_iterations=gan_iterations,
                               **(gan_settings or {}))
            else:
                options.update(iterations=iterations)
            _, train_seconds = timed(train, None, out, method="supervised3d", highres=[train_half], **options)
            folders.setdefault(preset, out)
            with Stopwatch() as inference:
                network, card = load_model(out)
                result = reconstruct_with_model3d(lowres, network, card, device="cpu", dtype="float32",
                                                  patch=PATCH, margin=MARGIN, progress=False)
            params = count_parameters(create_model("mdcsrn", preset=preset))
            record(label, result, inference.seconds, {"parameters": params, "train_seconds": train_seconds,
                                            "training": {k: card.training.get(k) for k in
                                                         ("iterations", "best_validation_psnr", "input_validation_psnr")},
                                            "gan": {k: card.training.get("gan", {}).get(k)
                                                    for k in ("final_terms", "terms")}})
    ref = {"method": "reference (HR)", "scores": {p: {"sharpness": v} for p, v in
                                                  sharpness(reference, task["planes"], mask=mask).items()}}
    rows.append(ref)
    payload = {"task": name, **task,
               "iterations": iterations, "gan_iterations": gan_iterations, "patch": patch, "batch": batch,
               "seed": seed, "gan_settings": gan_settings or {}, "rows": rows,
               "command": f"benchmarks/dense3d.py {name} --iterations {iterations} --gan-iterations "
                          f"{gan_iterations} --patch {patch} --batch {batch} --models "
                          + " ".join(f"'{m}'" for m in models)
                          + "".join(f" --gan-set {k}={v}" for k, v in (gan_settings or {}).items())
                          + (f" --out {out_name}" if out_name else "")}
    save_result(f"dense3d/{out_name or name}", payload)


def score_cell(scores: dict) -> str:
    """'PSNR / SSIM / NRMSE / sharpness' of one plane family ('-' where there is no reference)."""
    return " / ".join([number(scores.get("psnr"), 2),
                       *(number(scores.get(key), 4) for key in ("ssim", "nrmse", "sharpness"))])


def print_table() -> None:
    for path in sorted(TASK_RESULTS.glob("*.json")):
        payload = read_json(path)
        planes = payload["planes"] if isinstance(payload["planes"], list) else [payload["planes"]]
        print(f"\n{payload['task']}: {payload['command']}\n")
        rows = [[row["method"], f"{row['parameters']:,}" if row.get("parameters") else "-",
                 f"{row['train_seconds']:.0f}" if row.get("train_seconds") else "-",
                 number(row.get("inference_seconds"), 1), *(score_cell(row["scores"][p]) for p in planes)]
                for row in payload["rows"]]
        header = ["method", "params", "train s", "infer s", *(f"{p} PSNR / SSIM / NRMSE / sharpness" for p in planes)]
        print(markdown_table(header, rows, align="lrrr"))


def gan_figure(task: str, path: Path) -> None:
    """Critic and generator losses of the GAN phase over its iterations (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    payload = read_json(TASK_RESULTS / f"{task}.json")
    row = next(r for r in payload["rows"] if r["method"].endswith("GAN"))
    terms = row["gan"]["terms"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for name in ("critic", "wasserstein"):
        axes[0].plot(terms[name], label=name)
    axes[0].set_title("critic: loss with penalty, Wasserstein estimate")
    for name in ("l1", "adversarial"):
        axes[1].plot(terms[name], label=name)
    axes[1].set_title("generator: L1 and -D(SR)")
    for ax in axes:
        ax.set_xlabel("logged step (every k-th generator iteration)")
        ax.legend()
    fig.suptitle(f"mDCSRN-GAN training, {task}")
    fig.tight_layout()
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=[*TASKS, "table", "figure"])
    parser.add_argument("--iterations", type=int, default=800)
    parser.add_argument("--gan-iterations", type=int, default=200)
    parser.add_argument("--patch", type=int, default=20)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=[m[0] for m in MODELS], choices=[m[0] for m in MODELS],
                        help="which networks to train (default: all)")
    parser.add_argument("--gan-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a GAN-phase setting of Supervised3DConfig (number), e.g. critic_warmup=1500")
    parser.add_argument("--out", help="results file name (default: the task's)")
    args = parser.parse_args()
    gan_settings = {key: float(value) if "." in value or "e" in value else int(value)
                    for key, value in (item.split("=", 1) for item in args.gan_set)}
    os.environ.setdefault("ISOVOX_PROGRESS", "0")
    if args.task == "table":
        print_table()
    elif args.task == "figure":
        gan_figure("colin", ROOT / "docs" / "figures" / "mdcsrn_gan_losses.png")
    else:
        run_task(args.task, args.iterations, args.gan_iterations, args.patch, args.batch, args.seed, args.models,
                 gan_settings, args.out)


if __name__ == "__main__":
    main()
