"""Estimate the acquisition of the project's real and simulated volumes; print a table.

Run: nice -n 10 .venv/bin/python benchmarks/acquisition.py [--json out.json]
"""
import json
from pathlib import Path
import sys
import time

from isovox import io
from isovox.acquisition import estimate_acquisition
from isovox.datasets import fetch_sample
from isovox.simulation import simulate

DATA = str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data")


def cases():
    flyem = io.read(f"{DATA}/flyem_fibsem_sample2_250cube_10nm.tif")
    for factor, recipe, thickness, noise in [
            (4, "gaussian", 60, None), (4, "box", 20, None), (4, "gaussian", None, None),
            (4, "gaussian", 60, 0.01), (4, "box", 20, 0.01), (4, "gaussian", None, 0.01), (4, "take", None, None),
            (8, "gaussian", 40, None), (8, "gaussian", 60, None), (8, "box", 20, None), (8, "gaussian", None, None)]:
        truth = f"{recipe} {thickness or (10 * factor if recipe != 'take' else '')}".strip()
        name = f"FlyEM x{factor} ({10 * factor} nm){' +1% noise' if noise else ''}"
        yield name, truth, simulate(flyem, factor, axis="z", recipe=recipe, thickness=thickness, noise=noise).lowres
    cremi = io.read(fetch_sample(), spacing=(40, 4, 4), unit="nm")
    yield "CREMI native (40 nm)", "?", cremi
    yield "CREMI every other section (80 nm)", "same as native", cremi.on_new_grid(cremi.numpy()[::2], scale=(2, 1, 1))
    yield "ISBI 2012 (50 nm)", "?", io.read(f"{DATA}/isbi2012_sstem_30x512x512_4x4x50nm.tif")
    colin = io.read(f"{DATA}/colin27_t1_1mm.nii.gz")
    for axis in ("z", "x"):
        for fwhm in (2, 4):
            yield f"Colin27 x4 along {axis} (4 mm)", f"gaussian {fwhm}", simulate(colin, 4, axis=axis, recipe="gaussian", thickness=fwhm).lowres


def main():
    rows = []
    print(f"{'volume':36s} {'truth':16s} {'estimate':16s} {'FWHM':>6s} {'box':>6s} {'range':>12s} "
          f"{'ratio':>5s} {'noise':>6s} {'flicker':>11s} {'jitter':>6s} {'s':>5s}")
    for name, truth, volume in cases():
        start = time.perf_counter()
        estimate = estimate_acquisition(volume)
        seconds = time.perf_counter() - start
        chosen = "take" if estimate.recipe == "take" else f"{estimate.recipe} {estimate.thickness:.1f}"
        low, high = estimate.width_range
        print(f"{name:36s} {truth:16s} {chosen:16s} {estimate.fwhm:6.1f} {estimate.box_width:6.1f} "
              f"{f'{low:.0f}-{high:.0f}':>12s} {estimate.power_ratio:5.2f} {estimate.noise_sigma:6.3f} "
              f"{estimate.flicker['offset']:5.3f}/{estimate.flicker['contrast']:5.3f} "
              f"{estimate.misalignment['jitter']:6.1f} {seconds:5.1f}", flush=True)
        rows.append({"volume": name, "truth": truth, "seconds": seconds, **estimate.to_dict()})
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
