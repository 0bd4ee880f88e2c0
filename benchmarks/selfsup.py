"""Self-supervised reconstruction benchmark (issue 3), one model per invocation.

FlyEM FIB-SEM (250^3, 10 nm) made anisotropic with `simulate` (Gaussian slice profile, FWHM =
section spacing, then taking slices) at x4 or x8. A network is trained ONLY on the simulated
anisotropic volume (method 'selfsup'), or, for the 'oracle' upper bound, on true axial planes of
the ground truth paired with the interpolated low-res planes (method 'paired2d'), for the same
CPU time. Scores: mean PSNR/SSIM over the axial planes (xz, yz) against the ground truth, border 4.

    .venv/bin/python benchmarks/selfsup.py baselines --factor 4
    .venv/bin/python benchmarks/selfsup.py train --factor 4 --arch drcnet --minutes 8
    .venv/bin/python benchmarks/selfsup.py train --factor 4 --arch drcnet --minutes 8 --oracle
    .venv/bin/python benchmarks/selfsup.py sstem --arch drcnet --minutes 8
    .venv/bin/python benchmarks/selfsup.py throughput       # inference voxels/s of every 2D backbone
    .venv/bin/python benchmarks/selfsup.py table            # markdown table of every result so far

Each run writes benchmarks/results/selfsup/<name>.json. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from isovox import io
from isovox.evaluate import plane_figure
from isovox.models.dense3d import count_parameters
from isovox.reconstruction import reconstruct
from isovox.simulation import simulate
from isovox.store import read_card
from isovox.training import train

from harness import (AXIAL, FLYEM, ISBI_SSTEM, RESULTS, markdown_table, plane_scores, psnr_ssim,
                     read_json, save_result, timed)

RUNS = RESULTS / "selfsup"                 # one JSON a run


def simulated(factor: float):
    return simulate(io.read(FLYEM), factor, axis=0, recipe="gaussian")


def save(name: str, record: dict) -> None:
    save_result(f"selfsup/{name}", record, echo=True)


def run_baselines(factor: float) -> None:
    sim = simulated(factor)
    for method in ("linear", "cubic"):
        result, seconds = timed(reconstruct, sim.lowres, method)
        save(f"x{factor:g}_{method}", {"factor": factor, "method": method, "train_minutes": 0,
                                        "infer_seconds": seconds, "scores": plane_scores(sim.ground_truth, result)})


def run_training(factor: float, arch: str, minutes: float, oracle: bool, seed: int) -> None:
    sim = simulated(factor)
    mode = "oracle" if oracle else "selfsup"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        supervision = dict(method="paired2d", ground_truth=sim.ground_truth) if oracle else dict(method="selfsup")
        _, train_seconds = timed(train, sim.lowres, folder, arch=arch, minutes=minutes, iterations=None, seed=seed,
                                 **supervision)
        card = read_card(folder)
        result, infer_seconds = timed(reconstruct, sim.lowres, model=folder)
    voxels = int(np.prod(result.shape))
    save(f"x{factor:g}_{arch}_{mode}", {
        "factor": factor, "method": f"{arch} ({mode})", "arch": arch, "mode": mode, "seed": seed,
        "train_minutes": minutes, "train_seconds": train_seconds, "iterations": card.training.get("iterations"),
        "infer_seconds": infer_seconds, "infer_voxels_per_s": voxels / infer_seconds,
        "training": card.training, "scores": plane_scores(sim.ground_truth, result)})


def run_sstem(arch: str, minutes: float, seed: int, figure: Path) -> None:
    volume = io.read(ISBI_SSTEM)                              # 30 x 512 x 512 at 50 x 4 x 4 nm
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "model"
        train(volume, folder, method="selfsup", arch=arch, minutes=minutes, iterations=None, seed=seed)
        learned, infer_seconds = timed(reconstruct, volume, model=folder)
        card = read_card(folder)
    cubic = reconstruct(volume, "cubic")
    figure.parent.mkdir(parents=True, exist_ok=True)
    plane_figure({"cubic": cubic, f"isovox selfsup ({arch})": learned}, figure, plane="xz",
                 title="ISBI 2012 ssTEM, 50 nm sections -> 4 nm isotropic (xz plane)")
    save(f"sstem_{arch}", {"volume": volume.describe(), "output": learned.describe(), "arch": arch,
                           "train_minutes": minutes, "iterations": card.training.get("iterations"),
                           "infer_seconds": infer_seconds, "figure": str(figure)})


def run_throughput(size: int, repeats: int) -> None:
    """Output voxels/s of slice-wise inference for every 2D backbone (default size, random
    weights: speed does not depend on training), on a FlyEM crop at x4."""
    from isovox.models import create_model, list_models
    from isovox.reconstruction.slicewise import reconstruct_with_model
    from isovox.store import ModelCard

    sim = simulated(4.0)
    lowres = sim.lowres.crop((0, 0, 0), (sim.lowres.shape[0], size, size))
    rows = {}
    for name in list_models("2d"):
        model = create_model(name)
        card = ModelCard(method="benchmark", architecture=model.build_config, factor=4.0,
                         lowres_spacing=40.0, target_spacing=10.0, unit="nm",
                         normalisation={"low": 0.0, "high": 255.0})
        runs = [timed(reconstruct_with_model, lowres, model, card, progress=False) for _ in range(repeats)]
        result, seconds = min(runs, key=lambda run: run[1])
        voxels = int(np.prod(result.shape))
        rows[name] = {"seconds": seconds, "voxels_per_s": voxels / seconds,
                      "parameters": count_parameters(model), "output_shape": list(result.shape)}
        print(f"{name:<8} {seconds:7.2f} s  {voxels / seconds / 1e6:6.3f} Mvoxel/s", flush=True)
    save(f"throughput_{size}", {"input": lowres.describe(), "models": rows})


def print_table() -> None:
    runs = [read_json(p) for p in sorted(RUNS.glob("x*.json"))]
    rows = [[f"x{run['factor']:g}", run["method"], f"{run.get('train_minutes', 0):g}", run.get("iterations") or "-",
             *(psnr_ssim(run["scores"][p]) for p in AXIAL), f"{run['infer_seconds']:.1f}"]
            for run in sorted(runs, key=lambda r: (r["factor"], r["scores"]["xz"]["psnr"] or 0.0))]
    print(markdown_table(["factor", "method", "train min", "iterations", "xz PSNR / SSIM", "yz PSNR / SSIM", "infer s"],
                         rows, align="llrrllr"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    base = sub.add_parser("baselines")
    base.add_argument("--factor", type=float, default=4.0)
    learn = sub.add_parser("train")
    learn.add_argument("--factor", type=float, default=4.0)
    learn.add_argument("--arch", default="drcnet")
    learn.add_argument("--minutes", type=float, default=8.0)
    learn.add_argument("--oracle", action="store_true")
    learn.add_argument("--seed", type=int, default=0)
    real = sub.add_parser("sstem")
    real.add_argument("--arch", default="drcnet")
    real.add_argument("--minutes", type=float, default=8.0)
    real.add_argument("--seed", type=int, default=0)
    real.add_argument("--figure", type=Path, default=Path("docs/figures/sstem_xz.png"))
    speed = sub.add_parser("throughput")
    speed.add_argument("--size", type=int, default=128)
    speed.add_argument("--repeats", type=int, default=2)
    sub.add_parser("table")
    args = parser.parse_args()
    if args.command == "baselines":
        run_baselines(args.factor)
    elif args.command == "train":
        run_training(args.factor, args.arch, args.minutes, args.oracle, args.seed)
    elif args.command == "throughput":
        run_throughput(args.size, args.repeats)
    elif args.command == "sstem":
        run_sstem(args.arch, args.minutes, args.seed, args.figure)
    else:
        print_table()


if __name__ == "__main__":
    main()
