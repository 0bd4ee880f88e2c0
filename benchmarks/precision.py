"""bf16 against fp32 on the CPU, simulated and real (issue 16): quality first, then the default.

Reduced precision may become the CPU default only where it costs no measurable quality: PSNR
within 0.05 dB of fp32 on the simulated FlyEM x4 benchmark *and* on withheld real sections. One
model per data set (default drcnet, fixed iterations, seed 0), reconstructed twice, fp32 and
bf16 (autocast), timed in the same run:

- FlyEM x4 (Gaussian FWHM = 40 nm): axial-plane PSNR against the ground truth (the model of
  benchmarks/uncertainty.py when it exists);
- CREMI and ISBI, central 320 x 320 windows: every other section withheld, the model trained on
  the rest, PSNR on the withheld real sections (:mod:`isovox.training.withheld`'s scoring).

    .venv/bin/python benchmarks/precision.py [--iterations 300]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import isovox
from harness import FLYEM, ISBI_SSTEM, Stopwatch, markdown_table, plane_scores, result_path, save_result, write_text
from isovox.datasets import DEFAULT_SAMPLE, SAMPLES
from isovox.training.withheld import central_window, section_scores, withheld_check_grid
from isovox.simulation import simulate

PRECISIONS = ("fp32", "bf16")


def trained(lowres, folder: Path, iterations: int, **options) -> Path:
    if not (folder / "config.json").is_file():
        isovox.train(lowres, folder, iterations=iterations, seed=0, device="cpu", **options)
    return folder


def both_precisions(volume, folder: Path, **options) -> dict:
    model = isovox.open_model(folder, device="cpu")
    runs = {}
    for precision in PRECISIONS:
        with Stopwatch() as watch:
            result = model.reconstruct(volume, precision=precision, progress=False, **options)
        runs[precision] = (result, watch.seconds)
    return runs


def flyem(models: Path, iterations: int) -> dict:
    sim = simulate(isovox.read(FLYEM), 4.0, axis=0, recipe="gaussian")
    folder = trained(sim.lowres, models / "isovox-uncertainty-model", iterations)
    runs = both_precisions(sim.lowres, folder)
    return {p: {"psnr": plane_scores(sim.ground_truth, r, mean=True)["mean"]["psnr"], "seconds": s}
            for p, (r, s) in runs.items()}


def withheld(name: str, volume, models: Path, iterations: int) -> dict:
    window = central_window(volume, 320)
    axis, target, steps = withheld_check_grid(window)
    kept = simulate(window, 2.0, axis=axis, recipe="take").lowres
    folder = trained(kept, models / f"isovox-precision-{name.lower()}", iterations, target_spacing=target)
    runs = both_precisions(kept, folder, target_spacing=target)
    sections = list(range(1, 2 * (kept.shape[axis] - 1), 2))
    return {p: {"psnr": section_scores(window.numpy(), r.numpy(), axis, sections, steps)["psnr"], "seconds": s}
            for p, (r, s) in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    sample = SAMPLES[DEFAULT_SAMPLE]
    rows = {"FlyEM x4 (simulated)": flyem(args.models, args.iterations),
            "CREMI withheld sections": withheld("CREMI", isovox.read(isovox.fetch_sample(), spacing=sample.spacing,
                                                                     unit=sample.unit), args.models, args.iterations),
            "ISBI withheld sections": withheld("ISBI", isovox.read(ISBI_SSTEM), args.models, args.iterations)}
    save_result("precision", {"iterations": args.iterations, "rows": rows})
    table = markdown_table(["data", "fp32 PSNR", "bf16 PSNR", "bf16 - fp32", "fp32 s", "bf16 s"],
                           [[name, f"{r['fp32']['psnr']:.3f}", f"{r['bf16']['psnr']:.3f}",
                             f"{r['bf16']['psnr'] - r['fp32']['psnr']:+.3f}", f"{r['fp32']['seconds']:.1f}",
                             f"{r['bf16']['seconds']:.1f}"] for name, r in rows.items()])
    write_text(result_path("precision", ".md"), table + "\n")
    print(table)


if __name__ == "__main__":
    main()
