"""VAE two-stage reconstruction benchmark (issue 7, paper 003), one dataset per invocation.

An isotropic volume is split into a training part and a held-out part along an axis other than
the slice axis; both are made into thick-slice acquisitions x4 by taking every 4th slice
(``simulate`` recipe 'take', paper 003 sec. 2.3). On the held-out part, scored against the
ground truth on the through-plane planes (the two families that contain the slice axis;
PSNR/SSIM, border 4):

- linear and cubic interpolation;
- VAE-only up-sampling (stage I alone): the paper's rule (every slice decoded) and isovox's
  'residual' synthesis (acquired slices kept, the decoder's misfit carried over with cubic);
- proposed: :func:`train_vae_two_stage` on the *low-resolution* training part only (VAE, then a
  3D generator on the synthesized volumes, with the in-plane axes' pairs, the recipe's default),
  applied to the held-out low-resolution part;
- proposed with the paper's pairs only (slice axis; ``stage2_pairs='slice'``), on the same VAE;
- (``pairs`` command) proposed with ``stage2_pairs='in-plane'`` on the same VAE, one more row;
- oracle: the same 3D generator and budget trained on the *true* HR training part
  (:func:`train_supervised3d`, recipe 'take').

Paper 003 Fig. 9: latent distances d1, d2, d3 on the held-out ground truth for the VAE trained
with L_comp and for one trained identically but with eta = 0 in the last phase.

    nice -n 5 .venv/bin/python benchmarks/vae_two_stage.py colin27 --patch 16 --stage2 1000
    nice -n 5 .venv/bin/python benchmarks/vae_two_stage.py flyem --no-ablation --patch 16 --stage2 1000
    nice -n 5 .venv/bin/python benchmarks/vae_two_stage.py pairs --dataset flyem --pairs in-plane --patch 16 --stage2 1000
    .venv/bin/python benchmarks/vae_two_stage.py figure     # docs/figures/vae_two_stage.png
    .venv/bin/python benchmarks/vae_two_stage.py table

Writes benchmarks/results/vae_two_stage_<dataset>.json; keeps the planes the figure needs in
--cache (outside the repository). Iteration budgets, not minutes: wall times are as measured on
a shared CPU and vary with the load. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi

from isovox import io
from isovox.evaluate import to_json
from isovox.latent import latent_distances, synthesize_volume
from isovox.intensity import Normalisation
from isovox.reconstruction import reconstruct
from isovox.simulation import simulate
from isovox.store import read_card
from isovox.training.recipes.supervised3d import train_supervised3d
from isovox.training.recipes.vae_two_stage import (VAETwoStageConfig, load_stage1_vae, train_stage1,
                                                   train_vae_two_stage)
from isovox.volume import AXIS_NAMES, planes_containing

from harness import (DATA, RESULTS, ROOT, markdown_table, number, plane_scores, psnr_ssim, read_json, result_path,
                     save_figure, save_result, timed, write_json)

FIGURE = ROOT / "docs" / "figures" / "vae_two_stage.png"
FACTOR = 4
# slice axis, split axis and index, optional crop: the held-out part is [split:] along split_axis
DATASETS = {
    "colin27": {"file": "colin27_t1_1mm.nii.gz", "axis": 2, "split_axis": 1, "split": 144, "crop": None,
                "title": "Colin27 T1, 1 mm, sagittal 4 mm slices (x)"},
    "flyem": {"file": "flyem_fibsem_sample2_250cube_10nm.tif", "axis": 0, "split_axis": 1, "split": 170,
              "crop": None, "title": "FlyEM FIB-SEM, 10 nm, 40 nm sections (z)"},
}


def parts(name: str):
    """(train simulation, held-out simulation) of the dataset, x4 'take' along its slice axis."""
    spec = DATASETS[name]
    volume = io.read(DATA / spec["file"])
    stop = list(volume.shape)
    start = [0, 0, 0]
    start[spec["split_axis"]] = spec["split"]
    train_stop = list(volume.shape)
    train_stop[spec["split_axis"]] = spec["split"]
    train = simulate(volume.crop((0, 0, 0), train_stop), FACTOR, axis=spec["axis"], recipe="take")
    held = simulate(volume.crop(start, stop), FACTOR, axis=spec["axis"], recipe="take")
    return train, held


def foreground(truth) -> np.ndarray | None:
    """Colin27: the head (voxels above 4 % of the maximum, holes and gaps filled), else None.

    Without it the many all-zero planes above the head are scored as exact (infinite PSNR, left
    out of the mean) for interpolation but as 60-90 dB for a network that leaves 0.01 of noise
    there, which inflates a network's mean plane PSNR by 2 dB or more with no visible change.
    """
    data = truth.numpy().astype(np.float32)
    if data.min() > 0.04 * data.max():            # no background to leave out (FlyEM)
        return None
    head = ndi.binary_closing(data > 0.04 * data.max(), iterations=3)
    return ndi.binary_fill_holes(head)


def scores(truth, result, axis: int, mask: np.ndarray | None) -> dict:
    """Through-plane PSNR / SSIM per family and their mean; volume PSNR over the counted voxels."""
    table = plane_scores(truth, result, planes_containing(axis), mask=mask, mean=True, volume=True)
    table["volume_psnr"] = table.pop("volume")["psnr"]
    return table


def hr_planes(volume, axis: int, norm: dict) -> np.ndarray:
    return norm.apply(np.moveaxis(volume.numpy(), axis, 0))


def run_dataset(name: str, config: VAETwoStageConfig, ablation: bool, cache: Path) -> None:
    spec = DATASETS[name]
    axis = spec["axis"]
    train, held = parts(name)
    truth, lowres = held.ground_truth, held.lowres
    mask = foreground(truth)
    work = cache / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    record = {"dataset": name, "file": spec["file"], "factor": FACTOR, "slice_axis": AXIS_NAMES[axis],
              "split": {"axis": AXIS_NAMES[spec["split_axis"]], "held_out_from": spec["split"]},
              "train_lowres": train.lowres.describe(), "held_out_lowres": lowres.describe(),
              "held_out_truth": truth.describe(),
              "scored_voxels": "all" if mask is None else f"head mask, {mask.mean():.1%} of the volume",
              "config": json.loads(to_json(vars(config))), "methods": {}}
    outputs = {}

    for method in ("linear", "cubic"):
        outputs[method], seconds = timed(reconstruct, lowres, method, dtype="float32")
        record["methods"][method] = {"scores": scores(truth, outputs[method], axis, mask), "infer_seconds": seconds}
        print(name, method, record["methods"][method]["scores"]["mean"], flush=True)

    folder, train_seconds = timed(train_vae_two_stage, train.lowres, work / "proposed", config)
    card = read_card(folder)
    outputs["proposed"], seconds = timed(reconstruct, lowres, model=folder, dtype="float32")
    record["methods"]["proposed"] = {"scores": scores(truth, outputs["proposed"], axis, mask),
                                     "train_seconds": train_seconds, "infer_seconds": seconds,
                                     "stage1": card.training.get("stage1"),
                                     "stage2": {k: card.training.get(k) for k in
                                                ("iterations", "minutes", "best_validation_psnr",
                                                 "input_validation_psnr", "final_loss")}}
    print(name, "proposed", record["methods"]["proposed"]["scores"]["mean"], flush=True)

    # The paper's stage II (pairs along the slice axis only), on the same VAE.
    paper = VAETwoStageConfig(**{**vars(config), "stage2_pairs": "slice", "vae_from": str(folder)})
    paper_folder, train_seconds = timed(train_vae_two_stage, train.lowres, work / "proposed-paper-pairs", paper)
    result, seconds = timed(reconstruct, lowres, model=paper_folder, dtype="float32")
    record["methods"]["proposed, slice-axis pairs only (paper)"] = {
        "scores": scores(truth, result, axis, mask), "train_seconds": train_seconds, "infer_seconds": seconds}
    print(name, "proposed (paper pairs)", record["methods"]["proposed, slice-axis pairs only (paper)"]["scores"]["mean"],
          flush=True)

    vae, info = load_stage1_vae(folder)
    norm = Normalisation.measure(lowres)           # a new volume is normalised with its own range
    for mode in ("decoded", "residual"):
        outputs[f"vae-{mode}"], seconds = timed(synthesize_volume, vae, lowres, FACTOR, axis, norm, mode=mode)
        record["methods"][f"vae-only ({mode})"] = {"scores": scores(truth, outputs[f"vae-{mode}"], axis, mask),
                                                  "infer_seconds": seconds}
        print(name, "vae", mode, record["methods"][f"vae-only ({mode})"]["scores"]["mean"], flush=True)
    planes = hr_planes(truth, axis, norm)
    record["latent_distances"] = {"with_comp": latent_distances(vae, planes, FACTOR)}

    if ablation:
        no_comp = VAETwoStageConfig(**{**vars(config), "compact_weights": (*config.compact_weights[:3], 0.0)})
        train_norm = Normalisation.measure(train.lowres, config.percentiles)
        (plain, summary), seconds = timed(train_stage1, [train.lowres], [axis], [train_norm], no_comp,
                                          work / "no-comp", True)
        record["latent_distances"]["without_comp"] = latent_distances(plain, planes, FACTOR)
        result = synthesize_volume(plain, lowres, FACTOR, axis, norm, mode="decoded")
        record["methods"]["vae-only (decoded), no L_comp"] = {"scores": scores(truth, result, axis, mask),
                                                             "train_seconds": seconds}
    print(name, json.dumps(record["latent_distances"], indent=1), flush=True)

    oracle_dir, seconds = oracle(name, config, train.ground_truth, axis, cache)
    outputs["oracle"], infer = timed(reconstruct, lowres, model=oracle_dir, dtype="float32")
    record["methods"]["oracle"] = {"scores": scores(truth, outputs["oracle"], axis, mask), "train_seconds": seconds,
                                   "infer_seconds": infer}
    print(name, "oracle", record["methods"]["oracle"]["scores"]["mean"], flush=True)

    means = {m: v["scores"]["mean"] for m, v in record["methods"].items()}
    record["gaps_db"] = {"proposed_minus_cubic": means["proposed"]["psnr"] - means["cubic"]["psnr"],
                         "oracle_minus_proposed": means["oracle"]["psnr"] - means["proposed"]["psnr"]}
    save_result(f"vae_two_stage_{name}", record)
    save_figure_planes(cache / f"{name}_planes.npz", truth, outputs, axis)
    print(json.dumps(record["gaps_db"], indent=2))


def oracle(name: str, config: VAETwoStageConfig, truth, axis: int, cache: Path) -> tuple[Path, float]:
    """The 3D generator of stage II trained on the true HR training part: (its folder, train seconds).

    The oracle does not depend on stage I: its model folder is kept per budget and reused.
    """
    folder = cache / f"{name}-oracle-{config.arch}-{config.preset}-{config.stage2_iterations}-{config.patch_size}"
    if folder.is_dir():
        return folder, read_card(folder).training.get("minutes", 0) * 60
    overrides = dict(arch=config.arch, preset=config.preset, factor=FACTOR, axes=axis, recipe="take",
                     iterations=config.stage2_iterations, seed=config.seed, device=config.device)
    if config.patch_size is not None:
        overrides["patch_size"] = config.patch_size
    _, seconds = timed(train_supervised3d, truth, folder, **overrides)
    return folder, seconds


def add_pairs_row(name: str, config: VAETwoStageConfig, cache: Path) -> None:
    """One more stage II (``config.stage2_pairs``) on the VAE of an earlier run, added to its record."""
    spec = DATASETS[name]
    train, held = parts(name)
    truth, lowres = held.ground_truth, held.lowres
    path = result_path(f"vae_two_stage_{name}")
    record = read_json(path)
    variant = VAETwoStageConfig(**{**vars(config), "vae_from": str(cache / name / "proposed")})
    folder, train_seconds = timed(train_vae_two_stage, train.lowres, cache / name / f"pairs-{config.stage2_pairs}",
                                  variant, overwrite=True)
    result, seconds = timed(reconstruct, lowres, model=folder, dtype="float32")
    label = f"proposed, {config.stage2_pairs} pairs only"
    record["methods"][label] = {"scores": scores(truth, result, spec["axis"], foreground(truth)),
                                "train_seconds": train_seconds, "infer_seconds": seconds,
                                "config": json.loads(to_json(vars(variant)))}
    print(name, label, record["methods"][label]["scores"]["mean"], flush=True)
    write_json(path, record)
    planes = cache / f"{name}_planes.npz"
    if config.stage2_pairs == VAETwoStageConfig().stage2_pairs and planes.is_file():   # the recipe's default
        saved = dict(np.load(planes))
        saved["proposed"] = np.moveaxis(np.take(result.numpy(), saved["picks"], axis=spec["axis"]), spec["axis"], 0)
        np.savez_compressed(planes, **saved)
        print(f"the figure's 'proposed' row is now this run ({planes})")


def save_figure_planes(path: Path, truth, outputs: dict, axis: int) -> None:
    """Five consecutive acquisition planes (acquired, 3 in-between, acquired) near the middle."""
    n = truth.shape[axis]
    first = (n // 2) // FACTOR * FACTOR
    picks = np.arange(first, first + FACTOR + 1)
    arrays = {"truth": np.take(truth.numpy(), picks, axis=axis)}
    for key in ("cubic", "vae-decoded", "proposed", "oracle"):
        arrays[key] = np.take(outputs[key].numpy(), picks, axis=axis)
    np.savez_compressed(path, axis=axis, picks=picks, **{k: np.moveaxis(v, axis, 0) for k, v in arrays.items()})


def make_figure(cache: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in DATASETS if (cache / f"{n}_planes.npz").is_file()]
    rows = [("truth", "ground truth"), ("cubic", "cubic"), ("vae-decoded", "VAE in-between (stage I)"),
            ("proposed", "proposed (VAE -> 3D)"), ("oracle", "oracle 3D")]
    planes = {name: np.load(cache / f"{name}_planes.npz") for name in names}
    # each row as tall as its planes are at the column width (plus room for the labels)
    aspects = [min(1.3, max(0.35, planes[n]["truth"].shape[1] / planes[n]["truth"].shape[2])) for n in names]
    heights = [aspect + 0.3 for aspect in aspects for _ in rows]
    width = 2.1
    fig, axes = plt.subplots(len(rows) * len(names), FACTOR + 1, figsize=(width * (FACTOR + 1), width * sum(heights)),
                             squeeze=False, gridspec_kw={"height_ratios": heights})
    for d, name in enumerate(names):
        data = planes[name]
        low, high = np.percentile(data["truth"], (0.5, 99.5))
        for r, (key, label) in enumerate(rows):
            for c in range(FACTOR + 1):
                ax = axes[d * len(rows) + r, c]
                ax.imshow(data[key][c], cmap="gray", vmin=low, vmax=high)
                ax.set_xticks([])
                ax.set_yticks([])
                acquired = c in (0, FACTOR)
                for side in ax.spines.values():
                    side.set_edgecolor("tab:green" if acquired else "0.6")
                    side.set_linewidth(2.5 if acquired else 0.5)
                if c == 0:
                    ax.set_ylabel(label, fontsize=8)
                if r == 0:
                    kind = "acquired" if acquired else f"xi = {c}/{FACTOR}"
                    ax.set_title(f"{DATASETS[name]['title'] if c == 0 else ''}\n{kind}" if c == 0 else kind,
                                 fontsize=8, loc="left" if c == 0 else "center")
    fig.tight_layout()
    save_figure(fig, FIGURE)


def print_table() -> None:
    for path in sorted(RESULTS.glob("vae_two_stage_*.json")):
        record = read_json(path)
        families = [f for f in record["methods"]["cubic"]["scores"] if f not in ("mean", "volume_psnr")]
        print(f"\n{record['dataset']} x{record['factor']} (slices along {record['slice_axis']}, held out "
              f"{record['split']['axis']} >= {record['split']['held_out_from']})")
        print(f"scored: {record.get('scored_voxels', 'all')}")
        rows = [[method, *(psnr_ssim(row["scores"][f]) for f in families), number(row["scores"].get("volume_psnr"), 2),
                 number(row.get("train_seconds"), 0), number(row.get("infer_seconds"), 1)]
                for method, row in record["methods"].items()]
        header = ["method", *(f"{f} PSNR / SSIM" for f in families), "volume PSNR", "train s", "infer s"]
        print(markdown_table(header, rows, align="l" * (1 + len(families)) + "rrr"))
        for variant, values in record["latent_distances"].items():
            parts_ = [f"{d} {values[d]['mean']:.3f} +- {values[d]['sd']:.3f}" for d in ("d1", "d2", "d3")]
            print(f"latent distances {variant}: " + ", ".join(parts_) + f" (mean |mu| {values['code_norm']:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=[*DATASETS, "pairs", "figure", "table"])
    parser.add_argument("--dataset", choices=list(DATASETS), help="pairs: the dataset whose run to extend")
    parser.add_argument("--pairs", default="in-plane", help="pairs: stage2_pairs of the extra row")
    parser.add_argument("--stage1", type=int, nargs=3, metavar=("WARMUP", "ADVERSARIAL", "COMPACT"))
    parser.add_argument("--stage2", type=int, help="stage-II (and oracle) iterations")
    parser.add_argument("--synthesis", choices=("residual", "decoded"))
    parser.add_argument("--arch", help="stage-II (and oracle) generator, default the recipe's")
    parser.add_argument("--patch", type=int, help="stage-II (and oracle) patch size, default the 3D recipe's")
    parser.add_argument("--no-ablation", action="store_true", help="skip the VAE without L_comp")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/isovox-vae-two-stage"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "figure":
        return make_figure(args.cache)
    if args.command == "table":
        return print_table()
    changes = {"device": "cpu"}
    if args.stage1:
        changes.update(zip(("warmup_iterations", "adversarial_iterations", "compact_iterations"), args.stage1))
    if args.stage2:
        changes["stage2_iterations"] = args.stage2
    if args.synthesis:
        changes["synthesis"] = args.synthesis
    if args.arch:
        changes["arch"] = args.arch
    if args.patch:
        changes["patch_size"] = args.patch
    if args.command == "pairs":
        return add_pairs_row(args.dataset, VAETwoStageConfig(**changes, stage2_pairs=args.pairs), args.cache)
    run_dataset(args.command, VAETwoStageConfig(**changes), not args.no_ablation, args.cache)


if __name__ == "__main__":
    main()
