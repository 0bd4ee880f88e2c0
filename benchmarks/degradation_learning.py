"""Degradation-learning benchmark (issue 4, paper 000 Tables 1-3 analogues), step by step.

FlyEM FIB-SEM (250^3, 10 nm) made anisotropic by a degradation no method is told: Gaussian
slice profile of FWHM 1.5 x the section spacing (60 nm), then taking every 4th slice (40 nm), then
Gaussian noise of sigma 1 % of the data range (``simulate``, seed 0). Every model trains on the
x < 125 half of the anisotropic volume only; every score is on the held-out x >= 125 half.

    python benchmarks/degradation_learning.py learn            # stage one + DRCNet (ours); Table 3
    python benchmarks/degradation_learning.py arm --arch drcnet --mode take    # take/gaussian/ours/ideal
    python benchmarks/degradation_learning.py cubic
    python benchmarks/degradation_learning.py segment          # Table 2: VOI of every reconstruction
    python benchmarks/degradation_learning.py sstem            # ISBI ssTEM xz figure

The recipe's default G_hl (the blur profile with learned noise), as in docs/benchmarks.md:

    python benchmarks/degradation_learning.py learn --g-hl profile --cycle-iterations 1500 --tag _profile
    python benchmarks/degradation_learning.py arm --arch edsr --mode ours --tag _profile
    python benchmarks/degradation_learning.py segment ours_profile_drcnet ours_profile_edsr
    python benchmarks/degradation_learning.py sstem --g-hl profile --cycle-iterations 1500

(``--g-hl blocks``, the default here, is the paper's G_hl, the earlier rows ``ours`` and ``ours_eta1``.)
    python benchmarks/degradation_learning.py table            # markdown tables of everything so far

Arms of Table 1 (same stage-two budget for all: ``--iterations``): 'take' and 'gaussian' (FWHM =
section spacing, the usual assumption) are the self-supervised recipe under a wrong assumption;
'ideal' is the self-supervised recipe told the true degradation (profile and noise); 'ours' is
method 'degradation-learning' (its stage one is extra and is reported separately). Results:
benchmarks/results/degradation_learning_*.json. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from isovox import io
from isovox.evaluate import plane_figure, segmentation_agreement
from isovox.reconstruction import reconstruct
from isovox.simulation import simulate
from isovox.store import read_card
from isovox.training.recipes.degradation_learning import degrade_volume, train_degradation_learning
from isovox.training.recipes.selfsup import train_selfsup

from harness import (AXIAL, FLYEM, FLYEM_LABELS, ISBI_SSTEM, RESULTS, ROOT, Stopwatch, markdown_table, plane_scores,
                     psnr_ssim, read_json, result_path, save_result, timed)

WORK = Path(os.environ.get("ISOVOX_BENCH_WORK", "/tmp/isovox-degradation-learning"))
FACTOR, FWHM, NOISE, SPLIT = 4, 60.0, 0.01, 125
# Small networks and patches for a shared 2-core CPU; the same for every arm. Stage one: a small
# G_lh (it only serves the cycle) and a linear G_hl (residual blocks without ReLU), chosen from
# 400-iteration pilots (Table 3 on the held-out half: linear 34.8 dB, with ReLU 34.5 dB).
PATCH, BATCH = 48, 8
CYCLE = dict(cycle_model_kwargs={"n_feats": 16, "n_blocks": 2}, g_hl="g_hl", g_hl_kwargs={"linear": True})
# --g-hl profile (the recipe's default G_hl): it can only blur (positive row profile) and add learned noise
G_HL = {"blocks": CYCLE, "profile": dict(cycle_model_kwargs=CYCLE["cycle_model_kwargs"], g_hl="g_hl_profile")}


def save(name: str, record: dict) -> None:
    save_result(f"degradation_learning_{name}", record, echo=True)


def parts():
    """(training part, held-out low-res, held-out ground truth, held-out labels)."""
    truth = io.read(FLYEM)
    sim = simulate(truth, FACTOR, axis=0, recipe="gaussian", thickness=FWHM, noise=NOISE, seed=0)
    lowres, gt = sim.lowres, sim.ground_truth
    z = lowres.shape[0]
    train = lowres.crop((0, 0, 0), (z, 250, SPLIT))
    held = lowres.crop((0, 0, SPLIT), (z, 250, 250))
    labels = io.read(FLYEM_LABELS, spacing=(10.0, 10.0, 10.0), unit="nm").numpy()[:gt.shape[0], :, SPLIT:]
    return train, held, gt.crop((0, 0, SPLIT), gt.shape), labels, truth.crop((0, 0, SPLIT), (250, 250, 250))


def reconstruct_and_score(name: str, folder: Path, held, gt, extra: dict) -> None:
    result, infer = timed(reconstruct, held, model=folder, device="cpu")
    io.write(result, WORK / f"{name}.tif", overwrite=True)
    card = read_card(folder)
    save(name, {"arm": name, **extra, "train_seconds_stage_two": card.training["minutes"] * 60,
                "iterations": card.training["iterations"], "infer_seconds": infer,
                "stage_one": card.training.get("degradation_learning"),
                "best_validation_psnr": card.training["best_validation_psnr"],
                "scores": plane_scores(gt, result)})


def run_learn(iterations: int, cycle_iterations: int, seed: int, weight_cycle: float, tag: str,
              g_hl: str = "blocks") -> None:
    """Stage one + DRCNet on the learned pairs ('ours'), and Table 3 for its G_hl."""
    train, held, gt, _, truth = parts()
    folder = WORK / f"ours{tag}_drcnet"
    _, total = timed(train_degradation_learning, train, folder, overwrite=True, arch="drcnet", iterations=iterations,
                     cycle_iterations=cycle_iterations, patch_size=PATCH, batch_size=BATCH,
                     seed=seed, device="cpu", weight_cycle=weight_cycle, **G_HL[g_hl])
    reconstruct_and_score(f"ours{tag}_drcnet", folder, held, gt, {"arch": "drcnet", "mode": f"ours{tag}",
                                                                    "train_seconds_total": total})
    # Table 3: the held-out ground truth degraded by G_hl vs the true low-res volume, against the
    # assumptions; 'true profile, no noise' is the ceiling a noise-free degradation can reach.
    candidates = {"take": simulate(truth, FACTOR, axis=0, recipe="take").lowres,
                  "gaussian (FWHM = spacing)": simulate(truth, FACTOR, axis=0, recipe="gaussian").lowres,
                  "ours (learned G_hl)": degrade_volume(truth, folder, device="cpu"),
                  "true profile, no noise": simulate(truth, FACTOR, axis=0, recipe="gaussian",
                                                     thickness=FWHM).lowres}
    save(f"table3{tag}", {"reference": "true degraded low-res volume, held-out half (63 x 250 x 125 at 40 x 10 x 10 nm)",
                    "scores": {name: plane_scores(held, vol) for name, vol in candidates.items()}})


def run_arm(arch: str, mode: str, iterations: int, seed: int, tag: str) -> None:
    train, held, gt, _, _ = parts()
    mode = f"ours{tag}" if mode == "ours" else mode
    folder, name = WORK / f"{mode}_{arch}", f"{mode}_{arch}"
    common = dict(arch=arch, iterations=iterations, patch_size=PATCH, batch_size=BATCH, seed=seed, device="cpu")
    with Stopwatch() as training:
        if mode.startswith("ours"):   # another backbone on the learned degradation of `learn`
            train_degradation_learning(train, folder, overwrite=True, degradation_from=str(WORK / f"{mode}_drcnet"),
                                       **common)
        elif mode == "ideal":         # told the truth: profile FWHM 60 nm and the noise, on every sample
            train_selfsup(train, folder, overwrite=True, recipe="gaussian", fwhm=FWHM, noise=(NOISE, NOISE),
                          augment_probability=1.0, **common)
        else:                         # 'take' or 'gaussian' (FWHM = section spacing)
            train_selfsup(train, folder, overwrite=True, recipe=mode, **common)
    reconstruct_and_score(name, folder, held, gt, {"arch": arch, "mode": mode,
                                                   "train_seconds_total": training.seconds})


def run_cubic() -> None:
    _, held, gt, _, _ = parts()
    result = reconstruct(held, "cubic")
    io.write(result, WORK / "cubic.tif", overwrite=True)
    save("cubic", {"arm": "cubic", "mode": "cubic", "scores": plane_scores(gt, result)})


def segment(volume: np.ndarray, threshold: float) -> np.ndarray:
    """The one fixed segmentation: seeded watershed on a smoothed membrane map.

    Membranes are dark in FIB-SEM: the smoothed intensity (Gaussian, sigma 2 voxels) is the
    inverted membrane map. Cell interiors are voxels above ``threshold`` (the same value for every
    input: Otsu's threshold of the smoothed ground truth); seeds are the connected parts of the
    interiors farther than 4 voxels from any membrane; the watershed of the membrane map from
    those seeds labels every voxel.
    """
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    smooth = ndi.gaussian_filter(volume.astype(np.float32), 2.0)
    distance = ndi.distance_transform_edt(smooth > threshold)
    seeds, _ = ndi.label(distance > 4)
    return watershed(-smooth, seeds).astype(np.uint32)


def run_segment(names: list[str]) -> None:
    """VOI of every reconstruction in the work folder (or of ``names``, added to the table)."""
    from skimage.filters import threshold_otsu
    from scipy import ndimage as ndi

    _, _, gt, labels, _ = parts()
    threshold = float(threshold_otsu(ndi.gaussian_filter(gt.numpy().astype(np.float32), 2.0)))
    previous = read_json(result_path("degradation_learning_table2"))
    scores = previous["scores"] if names and previous else {}
    inputs = {"ground truth intensities": gt.numpy()} if not names else {}
    inputs.update({p.stem: p for p in sorted(WORK.glob("*.tif")) if not names or p.stem in names})
    for name, item in inputs.items():
        values = segmentation_agreement(labels, segment(item if isinstance(item, np.ndarray) else io.read(item).numpy(),
                                                        threshold))
        scores[name] = {m: values[m] for m in ("voi", "voi_split", "voi_merge", "adapted_rand_error")}
        print(name, scores[name]["voi"], flush=True)
    save("table2", {"procedure": segment.__doc__.strip(), "threshold": threshold, "scores": scores})


def run_sstem(iterations: int, cycle_iterations: int, seed: int, weight_cycle: float, figure: Path,
              g_hl: str = "blocks") -> None:
    """Learned degradation vs the Gaussian assumption on real ssTEM; a y-crop is reconstructed."""
    volume = io.read(ISBI_SSTEM)                                          # 30 x 512 x 512 at 50 x 4 x 4 nm
    common = dict(arch="drcnet", iterations=iterations, patch_size=64, batch_size=BATCH, seed=seed,
                  device="cpu")            # 64: five 50 nm sections per patch at x12.5
    timings = {}
    _, timings["ours"] = timed(train_degradation_learning, volume, WORK / "sstem_ours", overwrite=True,
                               cycle_iterations=cycle_iterations, weight_cycle=weight_cycle, **common, **G_HL[g_hl])
    _, timings["gaussian"] = timed(train_selfsup, volume, WORK / "sstem_gaussian", overwrite=True, recipe="gaussian",
                                   **common)
    crop = volume.crop((0, 224, 0), (30, 288, 512))                  # 64 y planes, full x: xz figure
    panels = {"cubic": reconstruct(crop, "cubic"),
              "self-supervised, Gaussian assumption": reconstruct(crop, model=WORK / "sstem_gaussian", device="cpu"),
              "degradation learning (ours)": reconstruct(crop, model=WORK / "sstem_ours", device="cpu")}
    figure.parent.mkdir(parents=True, exist_ok=True)
    plane_figure(panels, figure, plane="xz", title="ISBI 2012 ssTEM, 50 nm sections -> 4 nm (xz plane)")
    save("sstem", {"volume": volume.describe(), "reconstructed": crop.describe(), "train_seconds": timings,
                   "iterations": iterations, "cycle_iterations": cycle_iterations, "figure": str(figure),
                   "stage_one": read_card(WORK / "sstem_ours").training["degradation_learning"]})


def print_tables() -> None:
    axial_header = [f"{plane} PSNR / SSIM" for plane in AXIAL]
    for path in sorted(RESULTS.glob("degradation_learning_table3*.json")):
        rows = [[name, *(psnr_ssim(s[p]) for p in AXIAL)] for name, s in read_json(path)["scores"].items()]
        print(f"\n{path.name}\n" + markdown_table(["degradation", *axial_header], rows))
    rows = []
    for path in sorted(RESULTS.glob("degradation_learning_*_*.json")):
        row = read_json(path)
        if "mode" in row:
            rows.append([row["mode"], row.get("arch", "-"), row.get("iterations", "-"),
                         f"{row.get('train_seconds_stage_two', 0):.0f}", *(psnr_ssim(row["scores"][p]) for p in AXIAL)])
    if cubic := read_json(result_path("degradation_learning_cubic")):
        rows.append(["cubic", "-", "-", 0, *(psnr_ssim(cubic["scores"][p]) for p in AXIAL)])
    print("\n" + markdown_table(["arm", "backbone", "iterations", "train s (stage two)", *axial_header], rows,
                                 align="llrrll"))
    if table2 := read_json(result_path("degradation_learning_table2")):
        rows = [[name, *(f"{s[m]:.3f}" for m in ("voi", "voi_split", "voi_merge", "adapted_rand_error"))]
                for name, s in table2["scores"].items()]
        print("\n" + markdown_table(["input", "VOI", "split", "merge", "ARE"], rows, align="lrrrr"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("learn", "arm", "sstem"):
        p = sub.add_parser(name)
        p.add_argument("--iterations", type=int, default=300)
        p.add_argument("--cycle-iterations", type=int, default=400)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--weight-cycle", type=float, default=10.0)
        p.add_argument("--tag", default="", help="suffix naming a stage-one variant")
        p.add_argument("--g-hl", choices=tuple(G_HL), default="blocks",
                       help="stage one's G_hl: the paper's residual blocks or isovox's blur profile + noise")
        if name == "arm":
            p.add_argument("--arch", default="drcnet")
            p.add_argument("--mode", choices=("take", "gaussian", "ours", "ideal"), required=True)
        if name == "sstem":
            p.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "degradation_learning_sstem_xz.png")
    for name in ("cubic", "segment", "table"):
        p = sub.add_parser(name)
        if name == "segment":
            p.add_argument("names", nargs="*", help="reconstructions to add (default: all, afresh)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    WORK.mkdir(parents=True, exist_ok=True)
    if args.command == "learn":
        run_learn(args.iterations, args.cycle_iterations, args.seed, args.weight_cycle, args.tag, args.g_hl)
    elif args.command == "arm":
        run_arm(args.arch, args.mode, args.iterations, args.seed, args.tag)
    elif args.command == "cubic":
        run_cubic()
    elif args.command == "segment":
        run_segment(args.names)
    elif args.command == "sstem":
        run_sstem(args.iterations, args.cycle_iterations, args.seed, args.weight_cycle, args.figure, args.g_hl)
    else:
        print_tables()


if __name__ == "__main__":
    main()
