"""Missing sections (issue 15): does losing 5 % of the sections cost any method more than 0.5 dB?

What is measured
----------------
FlyEM FIB-SEM (250^3 at 10 nm; its centred ``--crop`` x ``--crop`` lateral window, default 96,
all 63 sections: reconstructing the whole 250 x 250 with a network takes 1-2 min per stack on two
shared cores, 18 of them would not fit the run's budget) is simulated along z at x4 with
``simulate(..., recipe='gaussian')`` (slice FWHM = the 40 nm section spacing, simulate's default)
and a fixed ``--seed``. Three acquired stacks, one ground truth:

- ``clean``: no section lost;
- ``removed``: ``simulate(..., gaps=0.05)`` loses a random 5 % of the sections (3 of 63, never the
  first or last) and records their indices in its 'drop_sections' op. The user knows which are
  missing: they are given as ``bad_sections`` and detection is off (``detect_defects=False``).
  A removed section can only be represented as a blank one: a :class:`isovox.Volume` has one
  section spacing, so a stack without the section would put every later section at the wrong
  depth. The stack keeps a blank placeholder at each lost index (simulate fills it with 0) and the
  list says it carries nothing;
- ``blanked``: the same stack, no list given, detection on: isovox must find the blank sections.

Methods: interpolation (``linear``, ``cubic``) and every training recipe of the registry
(:data:`isovox.training.TRAIN_METHODS`), through the public API as a user runs them:
``isovox.train(stack, folder, method=..., ...)`` then ``isovox.reconstruct(stack, model=folder,
bad_sections=..., detect_defects=...)``. Every recipe gets the same ``--iterations`` budget (30 by
default: short, so the networks are far from trained; the multi-stage ones split it as the
registry's ``stage_budgets`` does for ``isovox train --iterations``), its other settings at their
defaults, and the same ``--seed``.

- Recipes that learn from the anisotropic stack (selfsup with its default recipe, arbitrary-scale,
  degradation-learning, vae-two-stage, the 3D one) are trained on each variant's own stack: a model
  trained on the gapped stack is what a user would have. Only selfsup's config takes
  ``bad_sections`` / ``detect_defects`` (it skips those lateral planes); the others train on the
  gapped stack as it is, blank placeholders included, and reconstruction bridges the gaps for all.
- Recipes that need isotropic truth (paired2d: the ground-truth pair; supervised3d: the ground
  truth as its reference) are trained once on the clean ground truth and only reconstruct the
  three stacks: their rows show what bridging costs a model that never saw a gap.

Score: mean axial (xz, yz) PSNR and SSIM against the ground truth over the whole volume
(:func:`harness.plane_scores`, i.e. :func:`isovox.evaluate.compare` with its usual 4-voxel border,
the same for every variant); no section near a gap is excluded. Per method: clean, removed,
blanked and removed - clean / blanked - clean in dB; a difference beyond 0.5 dB is flagged.
A recipe trained on each stack differs between the variants in two ways, the model (trained on
other data) and the bridged gaps; 'bridging only' separates the second: the removed stack through
the model trained on the clean one (for the others it is removed - clean).
Which sections are lost is one draw (``--seed``); for linear and cubic, removed - clean is also
measured over ``--interpolation-seeds`` draws (cheap), to tell a typical draw from an unlucky one.

Detector: over ``--detector-seeds`` seeds (no training), ``simulate(gaps=0.05, seed=s)`` on the
whole FlyEM x4 and :func:`isovox.detect_defects` along z; precision and recall are totals over
all seeds, with the seconds the detection took (simulation not counted).

    nice -n 10 .venv/bin/python benchmarks/missing_sections.py            # everything, defaults
    nice -n 10 .venv/bin/python benchmarks/missing_sections.py --methods linear cubic
    nice -n 10 .venv/bin/python benchmarks/missing_sections.py --methods selfsup --iterations 200 \
        --detector-seeds 0 --interpolation-seeds 0

Results: benchmarks/results/missing_sections.json (rows and sweeps of invocations with the same
simulation settings, i.e. crop and seed, are merged into one table; a row records its own budget),
the tables printed. Not a test: nothing here asserts quality.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import isovox
from isovox import io
from isovox.defects import detect_defects
from isovox.simulation import simulate
from isovox.training import TRAIN_METHODS
from isovox.training.recipes.registry import REFERENCES, VOLUME_AND_TRUTH
from isovox.volume import Volume

from harness import (FLYEM, Stopwatch, markdown_table, number, plane_scores, psnr_ssim, read_json, result_path,
                     save_result)

FACTOR = 4.0
GAPS = 0.05
TOLERANCE_DB = 0.5
VARIANTS = ("clean", "removed", "blanked")
INTERPOLATIONS = ("linear", "cubic")
#: recipes that need isotropic truth: trained once on the clean pair, never on a gapped stack
TRUTH_TRAINED = tuple(m for m, r in TRAIN_METHODS.items() if r.inputs in (VOLUME_AND_TRUTH, REFERENCES))
STACK_TRAINED = tuple(m for m in TRAIN_METHODS if m not in TRUTH_TRAINED)
ALL_METHODS = INTERPOLATIONS + STACK_TRAINED + TRUTH_TRAINED


# --- the three stacks (pure helpers, tested in tests/benchmarks/test_missing_sections_benchmark.py)

@dataclass(frozen=True)
class Variant:
    """One acquired stack and what the user tells isovox about its lost sections."""

    name: str
    lowres: Volume
    bad_sections: tuple[int, ...]
    detect: bool

    def defect_options(self) -> dict:
        """The ``bad_sections`` / ``detect_defects`` arguments of reconstruct (and of selfsup)."""
        return {"bad_sections": self.bad_sections, "detect_defects": self.detect}


@dataclass(frozen=True)
class Experiment:
    ground_truth: Volume
    lost: tuple[int, ...]                # the sections simulate blanked
    variants: dict[str, Variant]


def dropped_sections(record: list[dict]) -> tuple[int, ...]:
    """The indices of the 'drop_sections' op of a simulation record (empty without gaps)."""
    return tuple(index for op in record if op["op"] == "drop_sections" for index in op["indices"])


def make_experiment(volume: Volume, factor: float = FACTOR, gaps: float = GAPS, seed: int = 0) -> Experiment:
    """The clean and gapped acquisitions of ``volume`` along z (same seed: same everything else)."""
    clean = simulate(volume, factor, axis=0, recipe="gaussian", seed=seed)
    gapped = simulate(volume, factor, axis=0, recipe="gaussian", seed=seed, gaps=gaps)
    lost = dropped_sections(gapped.record)
    variants = {"clean": Variant("clean", clean.lowres, (), True),
                "removed": Variant("removed", gapped.lowres, lost, False),
                "blanked": Variant("blanked", gapped.lowres, (), True)}
    return Experiment(clean.ground_truth, lost, variants)


def central_crop(volume: Volume, size: int | None) -> Volume:
    """The centred ``size`` x ``size`` lateral window of ``volume`` (all of it for None)."""
    if size is None or size >= min(volume.shape[1:]):
        return volume
    start = [0, *((n - size) // 2 for n in volume.shape[1:])]
    return volume.crop(start, [volume.shape[0], start[1] + size, start[2] + size])


def detection_counts(lost: tuple[int, ...], found: tuple[int, ...]) -> dict:
    """True positives, false positives and false negatives of one stack."""
    lost_set, found_set = set(lost), set(found)
    return {"true_positive": len(lost_set & found_set), "false_positive": len(found_set - lost_set),
            "false_negative": len(lost_set - found_set)}


def precision_recall(counts: dict) -> dict:
    """Precision and recall of summed counts (None where undefined: nothing found / nothing lost)."""
    tp, fp, fn = counts["true_positive"], counts["false_positive"], counts["false_negative"]
    return {"precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None}


def differences(scores: dict) -> dict:
    """removed - clean and blanked - clean of the mean axial PSNR, in dB."""
    clean = scores["clean"]["mean"]["psnr"]
    return {f"{name}-clean": scores[name]["mean"]["psnr"] - clean for name in ("removed", "blanked")}


def outside_tolerance(diffs: dict, tolerance: float = TOLERANCE_DB) -> bool:
    return any(abs(value) > tolerance for value in diffs.values())


# --- training and reconstruction through the public API -------------------------------------------

def training_options(method: str, iterations: int, seed: int, target_spacing: float, device: str,
                     variant: Variant | None) -> dict:
    """``isovox.train`` settings: the budget as ``isovox train --iterations`` sets it, the grid, the
    seed, and the variant's defect list for a recipe whose config takes one."""
    recipe = TRAIN_METHODS[method]
    options = {recipe.renamed.get("iterations", "iterations"): iterations, **recipe.stage_budgets(iterations),
               "seed": seed, "device": device}
    if "target_spacing" in recipe.options:          # a model for one grid: x4 onto the lateral spacing
        options["target_spacing"] = target_spacing
    elif "factor" in recipe.options:
        options["factor"] = FACTOR                  # (arbitrary-scale has neither: any factor)
    fields = {f.name for f in dataclasses.fields(recipe.config_class())}
    if variant is not None and "bad_sections" in fields:
        options.update(variant.defect_options())
    return options


def train_model(method: str, folder: Path, experiment: Experiment, variant: Variant, args: argparse.Namespace) -> dict:
    """Train ``method`` into ``folder`` on ``variant`` (or, for a truth-trained one, the clean pair)."""
    target = experiment.ground_truth.spacing[1]
    truth = experiment.ground_truth
    if method not in TRUTH_TRAINED:
        inputs = {"volume": variant.lowres}
    elif TRAIN_METHODS[method].inputs == VOLUME_AND_TRUTH:
        inputs = {"volume": experiment.variants["clean"].lowres, "ground_truth": truth}
    else:
        inputs = {"volume": None, "highres": [truth]}
    options = training_options(method, args.iterations, args.seed, target, args.device,
                               None if method in TRUTH_TRAINED else variant)
    with Stopwatch() as watch:
        isovox.train(output_dir=folder, method=method, **inputs, **options)
    return {"trained_on": "clean ground truth" if method in TRUTH_TRAINED else variant.name,
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
            "train_seconds": watch.seconds, "train_cpu_seconds": watch.cpu_seconds}


def reconstruct_variant(method: str, variant: Variant, target_spacing: float, model: Path | None,
                        device: str) -> tuple[Volume, float]:
    model_options = {"model": model, "device": device} if model is not None else {"method": method}
    with Stopwatch() as watch:
        output = isovox.reconstruct(variant.lowres, target_spacing=target_spacing, **model_options,
                                    **variant.defect_options())
    return output, watch.seconds


def measure_method(method: str, experiment: Experiment, args: argparse.Namespace) -> dict:
    """One row: every variant reconstructed (trained first where the method learns) and scored."""
    target = experiment.ground_truth.spacing[1]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="missing_sections_") as scratch:
        shared_model = None
        for variant in experiment.variants.values():
            row, folder = {}, None
            if method in TRUTH_TRAINED:
                folder = Path(scratch) / "model"
                if shared_model is None:              # one model for the three stacks
                    shared_model = train_model(method, folder, experiment, variant, args)
                row.update(shared_model)
            elif method not in INTERPOLATIONS:
                folder = Path(scratch) / variant.name
                row.update(train_model(method, folder, experiment, variant, args))
            output, row["reconstruct_seconds"] = reconstruct_variant(method, variant, target, folder, args.device)
            row["scores"] = plane_scores(experiment.ground_truth, output, mean=True)
            rows[variant.name] = row
            print(f"{method} {variant.name}: {psnr_ssim(row['scores']['mean'], 4)}", flush=True)
        if method in STACK_TRAINED:
            # the gapped stack through the model trained on the clean one: what bridging alone costs,
            # apart from training on other data (a short run's model varies with what it saw)
            output, seconds = reconstruct_variant(method, experiment.variants["removed"], target,
                                                  Path(scratch) / "clean", args.device)
            rows["removed, clean model"] = {"reconstruct_seconds": seconds,
                                            "scores": plane_scores(experiment.ground_truth, output, mean=True)}
    diffs = differences({name: rows[name]["scores"] for name in VARIANTS})
    bridged = rows.get("removed, clean model", rows["removed"])["scores"]["mean"]["psnr"]
    diffs["bridging only"] = bridged - rows["clean"]["scores"]["mean"]["psnr"]
    budget = {} if method in INTERPOLATIONS else {"iterations": args.iterations, "device": args.device}
    return {**budget, "variants": rows, "differences_db": diffs,
            "outside_tolerance": outside_tolerance({k: diffs[k] for k in ("removed-clean", "blanked-clean")})}


def interpolation_sweep(volume: Volume, seeds: int, target_spacing: float) -> dict:
    """removed - clean of linear and cubic over ``seeds`` draws of the lost sections: is the
    benchmark's one draw typical? (The clean stack does not depend on the seed: no noise.)"""
    base = make_experiment(volume, gaps=0.0)

    def psnr(method: str, variant: Variant) -> float:
        output, _ = reconstruct_variant(method, variant, target_spacing, None, "cpu")
        return plane_scores(base.ground_truth, output, mean=True)["mean"]["psnr"]

    clean = {method: psnr(method, base.variants["clean"]) for method in INTERPOLATIONS}
    diffs: dict[str, list[float]] = {method: [] for method in INTERPOLATIONS}
    for seed in range(seeds):
        removed = make_experiment(volume, seed=seed).variants["removed"]
        for method in INTERPOLATIONS:
            diffs[method].append(psnr(method, removed) - clean[method])
    return {"seeds": seeds, "methods": {method: {
        "removed-clean": values, "mean": float(np.mean(values)), "min": min(values), "max": max(values),
        "within_tolerance": sum(abs(d) <= TOLERANCE_DB for d in values)} for method, values in diffs.items()}}


def detector_sweep(volume: Volume, seeds: int) -> dict:
    """Blank 5 % of FlyEM x4's sections with each seed and count what detection finds."""
    totals = {"true_positive": 0, "false_positive": 0, "false_negative": 0}
    seconds, exact, lost_count = 0.0, 0, 0
    for seed in range(seeds):
        gapped = simulate(volume, FACTOR, axis=0, recipe="gaussian", seed=seed, gaps=GAPS)
        lost = dropped_sections(gapped.record)
        with Stopwatch() as watch:
            found = detect_defects(gapped.lowres, axis=0).indices
        seconds += watch.seconds
        counts = detection_counts(lost, found)
        totals = {key: totals[key] + counts[key] for key in totals}
        exact += set(lost) == set(found)
        lost_count += len(lost)
    return {"seeds": seeds, "sections_per_stack": int(gapped.lowres.shape[0]), "lost_sections": lost_count,
            **totals, **precision_recall(totals), "stacks_found_exactly": exact,
            "detect_seconds": seconds, "detect_seconds_per_stack": seconds / max(seeds, 1)}


# --- results --------------------------------------------------------------------------------------

def settings_of(args: argparse.Namespace, experiment: Experiment) -> dict:
    """What every method row depends on (the budget is stored per row: interpolation has none)."""
    return {"data": FLYEM.name, "crop": args.crop, "factor": FACTOR, "recipe": "gaussian", "fwhm_nm": 40.0,
            "gaps": GAPS, "seed": args.seed, "lowres": experiment.variants["clean"].lowres.describe(),
            "lost_sections": list(experiment.lost)}


def merged(path: Path, settings: dict, methods: dict | None = None, **sweeps: dict) -> dict:
    """The stored results with these method rows and sweeps added; everything stored with other
    settings is dropped."""
    stored = read_json(path, default={})
    if stored and stored.get("settings") != settings:
        print("note: settings changed since the stored results; earlier results dropped")
        stored = {}
    return {**stored, **sweeps, "settings": settings, "methods": {**stored.get("methods", {}), **(methods or {})}}


TABLE_HEADER = ["method", "trained on", "iterations", "clean PSNR / SSIM", "removed PSNR / SSIM", "blanked PSNR / SSIM",
                "removed - clean dB", "blanked - clean dB", "within 0.5 dB", "bridging only dB", "train s (per stack)"]


def method_row(method: str, row: dict) -> list[str]:
    variants, diffs = row["variants"], row["differences_db"]
    if method in INTERPOLATIONS:
        trained, train = "-", "-"
    elif method in TRUTH_TRAINED:
        trained, train = "clean ground truth", f"{variants['clean']['train_seconds']:.0f} (once)"
    else:
        trained, train = "each stack", " / ".join(f"{variants[v]['train_seconds']:.0f}" for v in VARIANTS)
    return [method, trained, row.get("iterations", "-"),
            *(psnr_ssim(variants[v]["scores"]["mean"], 4) for v in VARIANTS),
            *(number(diffs[f"{v}-clean"], 2, signed=True) for v in ("removed", "blanked")),
            "no" if row["outside_tolerance"] else "yes", number(diffs.get("bridging only"), 2, signed=True), train]


def format_tables(results: dict) -> str:
    order = {m: i for i, m in enumerate(ALL_METHODS)}
    methods = sorted(results["methods"].items(), key=lambda item: order.get(item[0], len(order)))
    settings = results["settings"]
    lines = [f"FlyEM x4 ({settings['lowres']}), lost sections {settings['lost_sections']}; "
             f"seed {settings['seed']}; mean axial (xz, yz) scores against the ground truth", "",
             markdown_table(TABLE_HEADER, [method_row(m, row) for m, row in methods], align="ll" + "r" * 9)]
    sweep = results.get("interpolation_seeds")
    if sweep:
        lines += ["", markdown_table(
            ["interpolation", "draws of the lost sections", "removed - clean dB: mean", "min", "max", "within 0.5 dB"],
            [[method, sweep["seeds"], *(number(row[k], 2, signed=True) for k in ("mean", "min", "max")),
              f"{row['within_tolerance']} / {sweep['seeds']}"] for method, row in sweep["methods"].items()],
            align="l" + "r" * 5)]
    detector = results.get("detector")
    if detector:
        lines += ["", markdown_table(
            ["seeds", "lost sections", "found (true)", "false positives", "precision", "recall",
             "stacks found exactly", "detect s (total / per stack)"],
            [[detector["seeds"], detector["lost_sections"], detector["true_positive"], detector["false_positive"],
              number(detector["precision"], 3), number(detector["recall"], 3),
              f"{detector['stacks_found_exactly']} / {detector['seeds']}",
              f"{detector['detect_seconds']:.1f} / {detector['detect_seconds_per_stack']:.3f}"]], align="r" * 8)]
    return "\n".join(lines)


# --- running --------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(ALL_METHODS), choices=list(ALL_METHODS))
    parser.add_argument("--iterations", type=int, default=30, help="training budget of every recipe")
    parser.add_argument("--crop", type=int, default=96, help="centred lateral window in pixels; 0: all 250")
    parser.add_argument("--seed", type=int, default=0, help="simulation (which sections are lost) and training seed")
    parser.add_argument("--detector-seeds", type=int, default=200, help="stacks of the detector sweep; 0 skips it")
    parser.add_argument("--interpolation-seeds", type=int, default=20,
                        help="draws of the lost sections for linear / cubic removed - clean; 0 skips it")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] for training methods")
    args = parser.parse_args()
    if min(args.iterations, args.detector_seeds + 1, args.interpolation_seeds + 1) < 1 or (args.crop or 16) < 16:
        parser.error("iterations must be >= 1, seeds >= 0 and crop >= 16 pixels")

    volume = io.read(FLYEM)
    cropped = central_crop(volume, args.crop or None)
    experiment = make_experiment(cropped, seed=args.seed)
    settings = settings_of(args, experiment)
    path = result_path("missing_sections")
    print(f"lost sections {list(experiment.lost)} of {experiment.variants['clean'].lowres.shape[0]}", flush=True)
    for method in args.methods:
        row = measure_method(method, experiment, args)
        # saved after every method, so a long run keeps what it measured
        save_result("missing_sections", merged(path, settings, {method: row}))
    if args.interpolation_seeds:
        sweep = interpolation_sweep(cropped, args.interpolation_seeds, experiment.ground_truth.spacing[1])
        save_result("missing_sections", merged(path, settings, interpolation_seeds=sweep))
    if args.detector_seeds:
        save_result("missing_sections", merged(path, settings, detector=detector_sweep(volume, args.detector_seeds)))
    print()
    print(format_tables(read_json(path)))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
