"""Arbitrary-scale benchmark (issue 6): one Meta-SRGAN for every factor (paper 002).

FlyEM (a central 250 x 128 x 128 crop of the 10 nm cube, to keep CPU time modest): one model is
trained once, self-supervised, on the lateral planes of the x4 simulation (scales 1.1-4.0); each
factor f in 2, 2.5, 3, 3.3, 4, 5, 6 is then simulated from the isotropic crop (`simulate`, Gaussian
profile, FWHM = section spacing) and reconstructed at that factor with the same model folder.
Scores: PSNR/SSIM over the axial planes (xz, yz) against the ground truth, vs cubic, and at 2
and 4 vs a fixed-factor self-supervised DRCNet trained with the same iteration budget.

Colin27 (paper 002's 2D task, x2 in both in-plane axes, axial slices, 'cubic' degradation,
maximal-information crop): bicubic vs Meta-SRGAN vs SRGAN (fixed x2), trained on slices z 10-94,
scored on slices z 100-119 inside each slice's information box; parameter counts.

    nice -n 5 .venv/bin/python benchmarks/arbitrary_scale.py train-meta --iterations 1000
    nice -n 5 .venv/bin/python benchmarks/arbitrary_scale.py train-fixed --factor 2 --iterations 1000
    nice -n 5 .venv/bin/python benchmarks/arbitrary_scale.py train-fixed --factor 4 --iterations 1000
    nice -n 5 .venv/bin/python benchmarks/arbitrary_scale.py flyem       # evaluate, figure, JSON
    nice -n 5 .venv/bin/python benchmarks/arbitrary_scale.py fixed-scores --factor 4   # a late fixed model
    nice -n 5 .venv/bin/python benchmarks/arbitrary_scale.py colin --iterations 600
    .venv/bin/python benchmarks/arbitrary_scale.py table

Model folders go to $ISOVOX_BENCH_MODELS (default /tmp/isovox-arbitrary-models), results to
benchmarks/results/arbitrary_scale_*.json. Wall times were measured on a shared 2-core machine
under contention (iteration budgets make the quality numbers independent of that). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from isovox import io
from isovox.degrade.recipes import recipe_ops
from isovox.evaluate import plane_figure
from isovox.models.dense3d import count_parameters
from isovox.reconstruction import reconstruct
from isovox.reconstruction.arbitrary import reconstruct_arbitrary
from isovox.resample import apply_along_axis, resampling_matrix
from isovox.simulation import simulate
from isovox.store import load_model, read_card
from isovox.training import train
from isovox.training.recipes.arbitrary_scale import train_arbitrary_scale
from isovox.volume import Volume, input_positions

from harness import (AXIAL, COLIN27, FLYEM, ROOT, markdown_table, plane_scores, psnr_ssim, read_json, result_path,
                     save_result, section_scores, timed, write_json)

MODELS = Path(os.environ.get("ISOVOX_BENCH_MODELS", "/tmp/isovox-arbitrary-models"))
FACTORS = (2.0, 2.5, 3.0, 3.3, 4.0, 5.0, 6.0)


def flyem_crop() -> Volume:
    return io.read(FLYEM).crop((0, 61, 61), (250, 189, 189))


def simulated(factor: float):
    return simulate(flyem_crop(), factor, axis=0, recipe="gaussian")


def save(name: str, record: dict) -> None:
    save_result(f"arbitrary_scale_{name}", record, echo=True)


def axial_scores(truth: Volume, result: Volume) -> dict:
    """PSNR / SSIM on the xz and yz planes and their mean."""
    return plane_scores(truth, result, AXIAL, mean=True)


# --- FlyEM ------------------------------------------------------------------------------------

def run_train_meta(iterations: int, seed: int) -> None:
    MODELS.mkdir(parents=True, exist_ok=True)
    folder = MODELS / "flyem_meta"
    _, seconds = timed(train_arbitrary_scale, simulated(4.0).lowres, folder, iterations=iterations, seed=seed,
                       overwrite=True, validation_scales=(2.0, 3.0, 4.0))
    save("flyem_train_meta", {"iterations": iterations, "train_seconds": seconds, "card": json.loads(read_card(folder).to_json())})


def run_train_fixed(factor: float, iterations: int, seed: int) -> None:
    MODELS.mkdir(parents=True, exist_ok=True)
    folder = MODELS / f"flyem_drcnet_x{factor:g}"
    _, seconds = timed(train, simulated(factor).lowres, folder, method="selfsup", arch="drcnet",
                       iterations=iterations, seed=seed, overwrite=True)
    save(f"flyem_train_drcnet_x{factor:g}", {"factor": factor, "iterations": iterations, "train_seconds": seconds})


def run_flyem(figure: Path) -> None:
    meta = MODELS / "flyem_meta"
    rows, panels = [], {}
    for factor in FACTORS:
        sim = simulated(factor)
        cubic, cubic_s = timed(reconstruct, sim.lowres, "cubic")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            learned, meta_s = timed(reconstruct_arbitrary, sim.lowres, meta, progress=False)
        row = {"factor": factor, "in_trained_range": not caught, "cubic": axial_scores(sim.ground_truth, cubic),
               "meta_srgan": axial_scores(sim.ground_truth, learned), "meta_infer_seconds": meta_s,
               "cubic_seconds": cubic_s, "shape": list(learned.shape)}
        fixed = MODELS / f"flyem_drcnet_x{factor:g}"
        if fixed.exists():
            result, fixed_s = timed(reconstruct, sim.lowres, model=fixed)
            row["drcnet_fixed"] = axial_scores(sim.ground_truth, result)
            row["drcnet_infer_seconds"] = fixed_s
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("factor", "cubic", "meta_srgan")}), flush=True)
        if factor == 2.0:
            panels["ground truth"] = sim.ground_truth
        if factor in (2.0, 3.3, 4.0, 6.0):
            panels[f"Meta-SRGAN x{factor:g}"] = learned
        if factor == 4.0:
            panels["cubic x4"] = cubic
    figure.parent.mkdir(parents=True, exist_ok=True)
    plane_figure(panels, figure, plane="xz", title="FlyEM xz plane: one Meta-SRGAN model at every factor")
    card = read_card(meta)
    save("flyem", {"crop": "z 0-250, y 61-189, x 61-189 of the 10 nm cube", "factors": rows,
                   "meta_training": {k: card.training.get(k) for k in ("iterations", "minutes", "loss", "held_out")},
                   "meta_parameters": count_parameters(load_model(meta)[0]),
                   "figure": str(figure.relative_to(ROOT))})


def run_fixed_scores(factor: float) -> None:
    """Score a fixed-factor model trained after `flyem` ran, into arbitrary_scale_flyem.json."""
    path = result_path("arbitrary_scale_flyem")
    record = read_json(path)
    sim = simulated(factor)
    result, seconds = timed(reconstruct, sim.lowres, model=MODELS / f"flyem_drcnet_x{factor:g}")
    for row in record["factors"]:
        if row["factor"] == factor:
            row["drcnet_fixed"], row["drcnet_infer_seconds"] = axial_scores(sim.ground_truth, result), seconds
    write_json(path, record)
    print(json.dumps([r for r in record["factors"] if r["factor"] == factor], indent=2))


# --- Colin27, 2D x2 ---------------------------------------------------------------------------

def downscale_2d(slices: np.ndarray, spacing: float) -> np.ndarray:
    volume = Volume(slices, (1.0, spacing, spacing), "mm")
    for axis in (1, 2):
        volume = recipe_ops("cubic", axis, 2.0, spacing).apply(volume)
    return volume.numpy()


def bicubic_2d(lowres: np.ndarray) -> np.ndarray:
    out = lowres
    for axis in (1, 2):
        n = out.shape[axis]
        out = apply_along_axis(out, resampling_matrix(n, input_positions(n, 2.0), "cubic"), axis)
    return out


def information_box(image: np.ndarray, threshold: float) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero((image > threshold).any(1)), np.flatnonzero((image > threshold).any(0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def run_colin(iterations: int, seed: int) -> None:
    MODELS.mkdir(parents=True, exist_ok=True)
    volume = io.read(COLIN27)
    train_part, test = volume.crop((10, 0, 0), (95, 217, 181)), volume.numpy()[100:120].astype(np.float32)
    common = dict(axis="z", both_axes=True, recipe="cubic", crop="max-information", iterations=iterations,
                  seed=seed, adversarial_weight=0.001, overwrite=True, validation_scales=(2.0,))
    folders = {"Meta-SRGAN": MODELS / "colin_meta", "SRGAN x2": MODELS / "colin_srgan"}
    seconds = {}
    _, seconds["Meta-SRGAN"] = timed(train_arbitrary_scale, train_part, folders["Meta-SRGAN"], **common)
    _, seconds["SRGAN x2"] = timed(train_arbitrary_scale, train_part, folders["SRGAN x2"], arch="srgan",
                                   model_kwargs={"scale": 2, "col_scale": 2}, **common)
    card = read_card(folders["Meta-SRGAN"])
    truth = card.normalisation.apply(test)
    lowres = downscale_2d(truth, 1.0)
    rows, cols = (lowres.shape[1] - 1) * 2 + 1, (lowres.shape[2] - 1) * 2 + 1
    truth = truth[:, :rows, :cols]
    predictions = {"bicubic": bicubic_2d(lowres)}
    for name, folder in folders.items():
        net, _ = load_model(folder)
        with torch.no_grad():
            x = torch.from_numpy(lowres[:, None])
            y = net(x, (2.0, 2.0)) if name == "Meta-SRGAN" else net(x)[:, :, :rows, :cols]
        predictions[name] = y[:, 0].numpy()
    results = {}
    for name, images in predictions.items():
        boxes = [information_box(gt, card.degradation.get("crop_threshold", 0.1)) for gt in truth]
        scores = [section_scores(gt[box], image[box], data_range=1.0)[0]
                  for gt, image, box in zip(truth, images, boxes)]
        psnr, ssim = [s["psnr"] for s in scores], [s["ssim"] for s in scores]
        results[name] = {"psnr_mean": float(np.mean(psnr)), "psnr_std": float(np.std(psnr)),
                         "ssim_mean": float(np.mean(ssim)), "ssim_std": float(np.std(ssim))}
        if name in folders:
            results[name]["parameters"] = count_parameters(load_model(folders[name])[0])
            results[name]["train_seconds"] = seconds[name]
    save("colin27", {"task": "x2 in-plane, axial slices z 100-119, maximal-information crop",
                     "training": "slices z 10-94, L1 + 0.001 adversarial (no VGG weights here)",
                     "iterations": iterations, "results": results})


def print_table() -> None:
    rows = []
    for row in read_json(result_path("arbitrary_scale_flyem"))["factors"]:
        mark = "" if row["in_trained_range"] else " (outside 1.1-4)"
        rows.append([f"x{row['factor']:g}{mark}", *(psnr_ssim(row[k]["mean"]) if k in row else "-"
                                                      for k in ("cubic", "meta_srgan", "drcnet_fixed"))])
    print(markdown_table(["factor", "cubic PSNR / SSIM", "Meta-SRGAN PSNR / SSIM", "fixed DRCNet PSNR / SSIM"], rows))
    colin = read_json(result_path("arbitrary_scale_colin27"))
    if colin:
        rows = [[name, f"{r['psnr_mean']:.2f} ± {r['psnr_std']:.2f}", f"{r['ssim_mean']:.4f} ± {r['ssim_std']:.4f}",
                 r.get("parameters", "-")] for name, r in colin["results"].items()]
        print("\n" + markdown_table(["Colin27 x2", "PSNR (dB)", "SSIM", "parameters"], rows))


def main() -> None:
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("train-meta", "train-fixed", "colin"):
        p = sub.add_parser(name)
        p.add_argument("--iterations", type=int, default=1000)
        p.add_argument("--seed", type=int, default=0)
        if name == "train-fixed":
            p.add_argument("--factor", type=float, default=4.0)
    sub.add_parser("flyem").add_argument("--figure", type=Path, default=ROOT / "docs/figures/arbitrary_scale_xz.png")
    sub.add_parser("fixed-scores").add_argument("--factor", type=float, default=4.0)
    sub.add_parser("table")
    args = parser.parse_args()
    if args.command == "train-meta":
        run_train_meta(args.iterations, args.seed)
    elif args.command == "train-fixed":
        run_train_fixed(args.factor, args.iterations, args.seed)
    elif args.command == "flyem":
        run_flyem(args.figure)
    elif args.command == "fixed-scores":
        run_fixed_scores(args.factor)
    elif args.command == "colin":
        run_colin(args.iterations, args.seed)
    else:
        print_table()


if __name__ == "__main__":
    main()
