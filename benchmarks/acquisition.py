"""Estimate the acquisition of the project's real and simulated volumes; print a table.

Run: nice -n 10 .venv/bin/python benchmarks/acquisition.py [--json out.json]

``--json`` writes ``{"rows": [...], "machine": {...}}``, one row per volume: its name, the true
profile where it is known, the seconds of the estimate and every field of the estimate.
"""
import argparse
from pathlib import Path

from isovox import io
from isovox.acquisition import estimate_acquisition
from isovox.datasets import fetch_sample
from isovox.simulation import simulate

from harness import COLIN27, FLYEM, ISBI_SSTEM, machine_info, timed, write_json

#: (factor, recipe, thickness, noise) of the FlyEM simulations
FLYEM_CASES = [(4, "gaussian", 60, None), (4, "box", 20, None), (4, "gaussian", None, None),
               (4, "gaussian", 60, 0.01), (4, "box", 20, 0.01), (4, "gaussian", None, 0.01), (4, "take", None, None),
               (8, "gaussian", 40, None), (8, "gaussian", 60, None), (8, "box", 20, None), (8, "gaussian", None, None)]


def cases():
    flyem = io.read(FLYEM)
    for factor, recipe, thickness, noise in FLYEM_CASES:
        truth = f"{recipe} {thickness or (10 * factor if recipe != 'take' else '')}".strip()
        name = f"FlyEM x{factor} ({10 * factor} nm){' +1% noise' if noise else ''}"
        yield name, truth, simulate(flyem, factor, axis="z", recipe=recipe, thickness=thickness, noise=noise).lowres
    cremi = io.read(fetch_sample(), spacing=(40, 4, 4), unit="nm")
    yield "CREMI native (40 nm)", "?", cremi
    yield "CREMI every other section (80 nm)", "same as native", cremi.on_new_grid(cremi.numpy()[::2], scale=(2, 1, 1))
    yield "ISBI 2012 (50 nm)", "?", io.read(ISBI_SSTEM)
    colin = io.read(COLIN27)
    for axis in ("z", "x"):
        for fwhm in (2, 4):
            yield f"Colin27 x4 along {axis} (4 mm)", f"gaussian {fwhm}", simulate(colin, 4, axis=axis, recipe="gaussian", thickness=fwhm).lowres


def estimate_row(name: str, truth: str, volume) -> dict:
    """Estimate one volume's acquisition, print its line of the table, return its JSON row."""
    estimate, seconds = timed(estimate_acquisition, volume)
    chosen = "take" if estimate.recipe == "take" else f"{estimate.recipe} {estimate.thickness:.1f}"
    low, high = estimate.width_range
    print(f"{name:36s} {truth:16s} {chosen:16s} {estimate.fwhm:6.1f} {estimate.box_width:6.1f} "
          f"{f'{low:.0f}-{high:.0f}':>12s} {estimate.power_ratio:5.2f} {estimate.noise_sigma:6.3f} "
          f"{estimate.flicker['offset']:5.3f}/{estimate.flicker['contrast']:5.3f} "
          f"{estimate.misalignment['jitter']:6.1f} {seconds:5.1f}", flush=True)
    return {"volume": name, "truth": truth, "seconds": seconds, **estimate.to_dict()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every row and the machine here")
    args = parser.parse_args()
    print(f"{'volume':36s} {'truth':16s} {'estimate':16s} {'FWHM':>6s} {'box':>6s} {'range':>12s} "
          f"{'ratio':>5s} {'noise':>6s} {'flicker':>11s} {'jitter':>6s} {'s':>5s}")
    rows = [estimate_row(name, truth, volume) for name, truth, volume in cases()]
    if args.json:
        write_json(args.json, {"rows": rows, "machine": machine_info()}, indent=1)


if __name__ == "__main__":
    main()
