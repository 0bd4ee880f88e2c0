"""Withheld-real-section benchmark: score reconstructions on real data, no ground truth needed.

The check
---------
A real anisotropic stack has no isotropic truth, but it has real sections. Withhold every other
one (keep sections 0, 2, 4, ...; withhold 1, 3, 5, ...): the kept stack has twice the section
spacing. Reconstruct the kept stack with each method onto a grid on which every withheld section
falls exactly on an output slice, and score the prediction there against the real section it
never saw. This is a harder problem than the real one (twice the gap), so the numbers rank
methods on real data; they are not the quality at the real factor.

Grid arithmetic (the convention of :mod:`isovox.volume`)
--------------------------------------------------------
Resampling by ``factor = spacing_in / spacing_out`` puts input slice ``k`` on output index
``k * factor``, and there are ``floor((n_in - 1) * factor) + 1`` output slices. Kept slice ``j`` is
original section ``2j``, so original section ``i`` sits at kept position ``i / 2`` and at output
index ``i * factor / 2``, where ``factor = 2 * section spacing / target spacing``. A withheld
(odd) section lands on an integer output index only when ``factor`` is even; the script asserts
it. The target spacing is the lateral spacing of each dataset:

- ``cremi-x4``: the CREMI ssTEM crop (25 x 625 x 625 at 40 x 4 x 4 nm) binned 5 x 5 laterally to
  125 x 125 at 20 nm; kept stack at 80 nm, factor 4, withheld section 2j+1 -> output 4j+2.
- ``cremi-native``: the same crop at 4 nm (central ``--crop`` window); factor 20, 2j+1 -> 20j+10.
- ``isbi-x8``: ISBI 2012 ssTEM (30 x 512 x 512 at 50 x 4 x 4 nm). 50 / 4 is not an integer, so
  the central 500 x 500 (2000 nm) is area-downsampled to 160 x 160 at 12.5 nm; kept stack at
  100 nm, factor 8, 2j+1 -> 8j+4. Section 29 lies past the last kept section (28): a
  reconstruction does not extrapolate, so it is not scored.

Missing sections
----------------
Real stacks have missing or blank sections (CREMI section 14 is all zeros). A withheld section
that is itself blank (standard deviation below ``BLANK_FRACTION`` of the stack's) is not scored.
The others are scored in two groups: 'near' (an original neighbour, i - 1 or i + 1, is blank, so
the prediction leans on a blank kept section) and 'away' (the rest); 'all' is both together.
Each score is the mean over sections of the per-section PSNR (data range 255: every source here
is uint8) and SSIM (scikit-image defaults) on the whole lateral section.

Methods
-------
Interpolation (``linear``, ``cubic``, ...) and training recipes through the public API, as a
user runs them: ``isovox.train(kept, folder, method=..., minutes=M, ...)`` then
``isovox.reconstruct(kept, model=folder, target_spacing=...)``. A method is a spec string,
``NAME[:KEY=VALUE,...]`` with JSON values (e.g. ``selfsup:arch=a2i``,
``selfsup:recipe=box,fwhm=40``); the settings go to the recipe's config unchanged, after the
defaults below, so they can override them. Budgets (``--minutes M``): 'selfsup' and
'arbitrary-scale' train for M minutes; 'degradation-learning' gives M / 2 to each stage;
'vae-two-stage' has iteration budgets only, its recipe defaults unless the spec sets them.

    nice -n 10 .venv/bin/python benchmarks/real_sections.py --methods linear cubic
    nice -n 10 .venv/bin/python benchmarks/real_sections.py --datasets cremi-x4 --methods selfsup --minutes 5

Results: benchmarks/results/real_sections[_TAG].json; rows are merged per dataset and method, so
several invocations build one table. Not a test: nothing here asserts quality.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import isovox
from isovox.reconstruction import INTERPOLATION_METHODS
from isovox.training import TRAIN_METHODS
from isovox.volume import Volume, lowres_axis, output_length, resampling_factor

from harness import (Stopwatch, machine_info, markdown_table, number, read_json, result_path, section_scores, timed,
                     write_json)
from real_sections_data import DATASETS, Dataset

DATA_RANGE = 255.0            # every source stack here is uint8
BLANK_FRACTION = 0.05         # a section whose std is below 5% of the stack's is missing/blank
GROUPS = ("away", "near", "all")


# --- withholding and the output grid (pure helpers, tested in tests/benchmarks/test_real_sections_benchmark.py)

@dataclass(frozen=True)
class WithheldSplit:
    kept: Volume                  # sections 0, 2, 4, ... at twice the section spacing
    target_spacing: float         # output spacing along z
    factor: float                 # kept spacing / target spacing
    sections: np.ndarray          # withheld (odd) original indices inside the kept span
    output_indices: np.ndarray    # where each of them lands on the output grid


def withhold_every_other(volume: Volume, target_spacing: float) -> WithheldSplit:
    """Keep the even sections; map each odd one inside the kept span to its output slice."""
    assert lowres_axis(volume.spacing) == 0, f"sections must be stacked along z, spacing {volume.spacing}"
    kept = volume.on_new_grid(np.ascontiguousarray(volume.data[::2]), scale=(2, 1, 1))
    factor = resampling_factor(kept.spacing[0], target_spacing)
    n_out = output_length(kept.shape[0], factor)
    sections = np.arange(1, volume.shape[0], 2)
    positions = sections * factor / 2                      # kept position i / 2, times factor
    indices = np.rint(positions).astype(int)
    assert np.allclose(positions, indices, atol=1e-6), \
        f"factor {factor:g} puts withheld sections between output slices ({positions[:3]} ...)"
    inside = indices < n_out                                # no extrapolation past the last kept one
    return WithheldSplit(kept, float(target_spacing), factor, sections[inside], indices[inside])


def blank_sections(volume: Volume, fraction: float = BLANK_FRACTION) -> np.ndarray:
    """Boolean per section: near-constant (std below ``fraction`` of the whole stack's)."""
    data = np.asarray(volume.data, dtype=np.float64)
    section_std = data.reshape(data.shape[0], -1).std(axis=1)
    return section_std <= fraction * data.std()


def section_groups(sections: np.ndarray, blank: np.ndarray) -> dict[str, np.ndarray]:
    """Positions in ``sections`` to score: 'near' a blank neighbour, 'away' from one, 'all'.

    Blank sections themselves are left out of every group.
    """
    scored = ~blank[sections]
    before = blank[np.maximum(sections - 1, 0)]
    after = blank[np.minimum(sections + 1, len(blank) - 1)]
    near = scored & (before | after)
    return {"away": np.flatnonzero(scored & ~near), "near": np.flatnonzero(near),
            "all": np.flatnonzero(scored)}


def summarise(scores: dict[int, dict], groups: dict[str, np.ndarray]) -> dict:
    """Mean PSNR / SSIM per group (None for an empty group) and the number of sections.

    ``scores`` maps a position in the split's ``sections`` to that section's scores.
    """
    summary = {}
    for name, members in groups.items():
        picked = [scores[i] for i in members]
        summary[name] = {"n": len(picked),
                         "psnr": float(np.mean([s["psnr"] for s in picked])) if picked else None,
                         "ssim": float(np.mean([s["ssim"] for s in picked])) if picked else None}
    return summary


# --- methods ------------------------------------------------------------------------------------

# Training methods that learn from the anisotropic stack alone (paired2d and supervised3d need
# isotropic truth, which real data lacks).
TRAINABLE = tuple(m for m in TRAIN_METHODS if m not in ("paired2d", "supervised3d"))


def parse_method_spec(spec: str) -> tuple[str, dict]:
    """``'NAME[:KEY=VALUE,...]'`` -> (NAME, settings); values read as JSON, else kept as text.

    A comma splits settings only where a ``KEY=`` follows, so JSON lists (``[1, 99]``) survive.
    """
    name, _, rest = spec.partition(":")
    settings = {}
    for pair in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", rest) if rest.strip() else []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"method spec {spec!r}: expected KEY=VALUE, got {pair!r}")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value.strip()
    name = name.strip()
    if name not in INTERPOLATION_METHODS and name not in TRAINABLE:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(INTERPOLATION_METHODS + TRAINABLE)}")
    if name in INTERPOLATION_METHODS and settings:
        raise ValueError(f"interpolation {name!r} takes no settings, got {settings}")
    return name, settings


def budget_options(method: str, minutes: float) -> dict:
    """The training budget of ``method`` for ``--minutes`` (see the module docstring)."""
    if method == "vae-two-stage":
        return {}                                           # iterations only: recipe defaults
    if method == "degradation-learning":                    # two stages share the minutes
        return {"cycle_minutes": minutes / 2, "cycle_iterations": None,
                "minutes": minutes / 2, "iterations": None}
    return {"minutes": minutes, "iterations": None}        # as `isovox train/run --minutes M`


def grid_options(method: str, split: WithheldSplit) -> dict:
    """What tells a recipe the output grid: a model is trained for one factor (or any)."""
    if method in ("selfsup", "degradation-learning"):
        return {"target_spacing": split.target_spacing}
    if method == "vae-two-stage":
        return {"factor": split.factor}
    return {}                                               # arbitrary-scale: any factor


def training_options(method: str, settings: dict, split: WithheldSplit, minutes: float, seed: int,
                     device: str) -> dict:
    return {**budget_options(method, minutes), **grid_options(method, split), "seed": seed, "device": device,
            **settings}


TRAINING_SUMMARY_KEYS = ("iterations", "minutes", "best_validation_psnr", "input_validation_psnr")


def run_method(spec: str, split: WithheldSplit, minutes: float, seed: int, device: str) -> tuple[Volume, dict]:
    """Reconstruct ``split.kept`` with one method; returns the output and timings / settings."""
    method, settings = parse_method_spec(spec)
    if method in INTERPOLATION_METHODS:
        output, seconds = timed(isovox.reconstruct, split.kept, method, target_spacing=split.target_spacing)
        return output, {"kind": "interpolation", "reconstruct_seconds": seconds}
    from isovox.store import read_card

    options = training_options(method, settings, split, minutes, seed, device)
    with tempfile.TemporaryDirectory(prefix="real_sections_") as scratch:
        folder = Path(scratch) / "model"
        with Stopwatch() as watch:
            isovox.train(split.kept, folder, method=method, **options)
        # CPU seconds count every thread of this process, so they can exceed the wall seconds
        record = {"kind": "training", "options": options, "train_cpu_seconds": watch.cpu_seconds,
                  "train_wall_seconds": watch.seconds}
        card = read_card(folder)
        training = card.training
        # recipe 'auto': what was estimated, which candidates competed, what was trained for
        if (card.degradation or {}).get("estimated_acquisition"):
            estimate = card.degradation["estimated_acquisition"]
            record["acquisition"] = {k: estimate.get(k) for k in ("recipe", "thickness", "choice", "trained_for")}
        output, record["reconstruct_seconds"] = timed(isovox.reconstruct, split.kept, model=folder,
                                                      target_spacing=split.target_spacing, device=device)
    record["training"] = {k: training[k] for k in TRAINING_SUMMARY_KEYS if k in training}
    return output, record


def score_method(volume: Volume, split: WithheldSplit, groups: dict, output: Volume) -> dict:
    """Scores of one reconstruction at the withheld sections, after checking its grid."""
    expected = output_length(split.kept.shape[0], split.factor)
    assert output.shape[0] == expected and np.isclose(output.spacing[0], split.target_spacing), \
        f"output {output.describe()} is not on the expected grid ({expected} slices at {split.target_spacing:g})"
    assert np.allclose(output.origin, split.kept.origin), "output origin moved: index mapping would be off"
    scored = groups["all"]
    truth = np.asarray(volume.data)[split.sections[scored]]
    predicted = np.asarray(output.data)[split.output_indices[scored]]
    scores = dict(zip(scored, section_scores(truth, predicted, DATA_RANGE)))
    per_section = [{"section": int(split.sections[i]), "output_index": int(split.output_indices[i]),
                    "group": "near" if i in groups["near"] else "away", **scores[i]} for i in scored]
    return {"scores": summarise(scores, groups), "per_section": per_section}


# --- results ------------------------------------------------------------------------------------

def dataset_record(dataset: Dataset, volume: Volume, split: WithheldSplit, blank: np.ndarray,
                   groups: dict) -> dict:
    return {"description": dataset.description, "input": volume.describe(), "kept": split.kept.describe(),
            "target_spacing": split.target_spacing, "factor": split.factor,
            "blank_sections": np.flatnonzero(blank).tolist(),
            "scored_sections": {g: split.sections[groups[g]].tolist() for g in ("away", "near")},
            "output_indices": dict(zip(map(str, split.sections.tolist()), split.output_indices.tolist()))}


def load_results(path: Path) -> dict:
    return read_json(path, default={"datasets": {}})


def merge_rows(results: dict, name: str, record: dict, rows: dict) -> dict:
    """Put ``rows`` under dataset ``name``; rows measured on a different input are dropped."""
    stored = results["datasets"].get(name, {})
    kept_rows = stored.get("rows", {}) if stored.get("input") == record["input"] else {}
    if stored and not kept_rows and stored.get("rows"):
        print(f"note: {name} input changed ({stored.get('input')} -> {record['input']}); earlier rows dropped")
    results["datasets"][name] = {**record, "rows": {**kept_rows, **rows}}
    return results


def _versus(row: dict, reference: dict | None, group: str) -> float | None:
    ours, base = row["scores"][group]["psnr"], reference and reference["scores"][group]["psnr"]
    return None if ours is None or base is None else ours - base


TABLE_HEADER = ["method", "PSNR away", "PSNR near", "PSNR all", "vs linear dB (away / all)", "SSIM away", "SSIM near",
                "SSIM all", "train s (CPU / wall)", "reconstruct s"]


def table_row(spec: str, row: dict, reference: dict | None) -> list[str]:
    """The cells of one method's row of :func:`format_table`."""
    if "error" in row:
        return [spec, f"failed: {row['error']}", *[""] * (len(TABLE_HEADER) - 2)]
    scores = row["scores"]
    psnr = [number(scores[g]["psnr"], 2) for g in GROUPS]
    ssim = [number(scores[g]["ssim"], 4) for g in GROUPS]
    versus = " / ".join(number(_versus(row, reference, g), 2, signed=True) for g in ("away", "all"))
    train = (f"{row['train_cpu_seconds']:.0f} / {row['train_wall_seconds']:.0f}"
             if row["kind"] == "training" else "-")
    return [spec, *psnr, versus, *ssim, train, f"{row['reconstruct_seconds']:.1f}"]


def format_table(name: str, record: dict) -> str:
    """Markdown table of every row of one dataset, linear first (the reference)."""
    rows = record["rows"]
    reference = rows.get("linear")

    def order(item):
        psnr = item[1].get("scores", {}).get("away", {}).get("psnr")
        return (item[0] != "linear", psnr is None, -(psnr or 0.0))

    scored = record["scored_sections"]
    table_rows = [table_row(spec, row, reference) for spec, row in sorted(rows.items(), key=order)]
    table = markdown_table(TABLE_HEADER, table_rows, align="l" + "r" * (len(TABLE_HEADER) - 1))
    return "\n".join([f"### {name}: {record['description']}",
                      f"input {record['input']}; kept {record['kept']}; factor {record['factor']:g}; "
                      f"scored withheld sections: {len(scored['away'])} away, {len(scored['near'])} near "
                      f"{scored['near']}; blank sections {record['blank_sections']}", "", table])


# --- running ------------------------------------------------------------------------------------

def measure(spec: str, volume: Volume, split: WithheldSplit, groups: dict, args: argparse.Namespace) -> dict:
    """One row: reconstruct with ``spec``, score it, stamp it. A refused setting is a failed row."""
    stamp = {"method": spec, "seed": args.seed, "machine": machine_info()}    # rows of several runs: each its own
    try:
        output, record = run_method(spec, split, args.minutes, args.seed, args.device)
    except isovox.IsovoxError as error:                   # e.g. a setting the recipe does not know
        print(f"{spec}: failed: {error}")
        return {**stamp, "error": str(error)}
    if record["kind"] == "training":
        stamp["budget_minutes"] = args.minutes
    return {**stamp, **record, **score_method(volume, split, groups, output)}


def run_dataset(dataset: Dataset, specs: list[str], args: argparse.Namespace, path: Path) -> None:
    volume = dataset.load(args.crop)
    target_spacing = min(volume.spacing[1:])                # isotropic at the lateral spacing
    split = withhold_every_other(volume, target_spacing)
    blank = blank_sections(volume)
    groups = section_groups(split.sections, blank)
    record = dataset_record(dataset, volume, split, blank, groups)
    print(f"{dataset.name}: {volume.describe()} -> kept {split.kept.describe()}, factor {split.factor:g}", flush=True)
    for spec in specs:
        row = measure(spec, volume, split, groups, args)
        # written after every method, so a long run keeps what it measured
        write_json(path, merge_rows(load_results(path), dataset.name, record, {spec: row}))
    print()
    print(format_table(dataset.name, load_results(path)["datasets"][dataset.name]))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=["linear", "cubic"],
                        help="interpolation names or NAME[:KEY=VALUE,...] training specs (JSON values)")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per method (see docstring)")
    parser.add_argument("--crop", type=int, default=320, help="lateral window of cremi-native, pixels")
    parser.add_argument("--tag", default="", help="results file suffix: real_sections_TAG.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] for training methods")
    args = parser.parse_args()
    for spec in args.methods:                               # refuse a bad spec before any work
        try:
            parse_method_spec(spec)
        except ValueError as error:
            parser.error(str(error))
    path = result_path(f"real_sections_{args.tag}" if args.tag else "real_sections")
    for name in args.datasets:
        run_dataset(DATASETS[name], args.methods, args, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
