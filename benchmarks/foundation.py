"""Foundation benchmark (issue 2): I/O throughput per format, interpolation speed and quality.

Run from the repository root:

    .venv/bin/python benchmarks/foundation.py [--repeats 3] [--json benchmarks/results/foundation.json]

On the FlyEM FIB-SEM cube (250^3 uint8, 10 nm isotropic, ../shared/data):
1. write and read throughput (MB/s of voxel data, best of --repeats) for every format;
2. reconstruction speed (output voxels/s) of each interpolation method at factor 4;
3. quality: simulate x4 and x6.5 (Gaussian profile + taking slices), reconstruct with each
   method, per-plane PSNR/SSIM against the ground truth.
Prints tables and writes JSON. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from isovox import io
from isovox.reconstruction import INTERPOLATION_METHODS, reconstruct
from isovox.simulation import simulate

from harness import FLYEM, best_seconds, compare_plain, describe_machine, machine_info, result_path, write_json

FORMATS = {"tiff": "v.tif", "ome-tiff": "v.ome.tif", "nifti": "v.nii", "nifti-gz": "v.nii.gz",
           "hdf5": "v.h5", "ome-zarr": "v.ome.zarr", "mrc": "v.mrc"}


def io_throughput(volume, repeats: int) -> dict:
    megabytes = volume.numpy().nbytes / 1e6
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, filename in FORMATS.items():
            path = Path(scratch) / filename
            write_s = best_seconds(lambda: io.write(volume, path, overwrite=True), repeats)
            read_s = best_seconds(lambda: io.read(path), repeats)
            results[name] = {"write_MBps": megabytes / write_s, "read_MBps": megabytes / read_s,
                             "write_s": write_s, "read_s": read_s}
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
    return results


def interpolation_speed(volume, repeats: int) -> dict:
    lowres = simulate(volume, 4.0, axis=0, recipe="gaussian").lowres
    results = {}
    for method in INTERPOLATION_METHODS:
        shape = reconstruct(lowres, method).shape               # also the warm-up
        seconds = best_seconds(lambda: reconstruct(lowres, method), repeats)
        results[method] = {"seconds": seconds, "voxels_per_s": int(np.prod(shape)) / seconds,
                           "output_shape": list(shape)}
    return results


def interpolation_quality(volume, factors=(4.0, 6.5)) -> dict:
    results = {}
    for factor in factors:
        sim = simulate(volume, factor, axis=0, recipe="gaussian")
        results[f"x{factor:g}"] = {
            method: compare_plain(sim.ground_truth, reconstruct(sim.lowres, method,
                                                                target_spacing=sim.ground_truth.spacing))
            for method in INTERPOLATION_METHODS}
    return results


def print_tables(report: dict) -> None:
    print(f"\nI/O on FlyEM 250^3 uint8 ({describe_machine(report['machine'])})")
    print(f"{'format':<10} {'write MB/s':>11} {'read MB/s':>10}")
    for name, row in report["io"].items():
        print(f"{name:<10} {row['write_MBps']:>11.1f} {row['read_MBps']:>10.1f}")
    print("\nreconstruction speed, x4 along z (63 -> 249 slices of 250 x 250)")
    print(f"{'method':<10} {'seconds':>8} {'Mvoxel/s':>9}")
    for name, row in report["speed"].items():
        print(f"{name:<10} {row['seconds']:>8.3f} {row['voxels_per_s'] / 1e6:>9.1f}")
    for factor, rows in report["quality"].items():
        print(f"\nquality {factor}, Gaussian profile + take (PSNR dB / SSIM, border 4)")
        print(f"{'method':<10} {'xy':>15} {'xz':>15} {'yz':>15}")
        for method, scores in rows.items():
            cells = [f"{scores[p]['psnr']:6.2f} / {scores[p]['ssim']:.3f}" for p in ("xy", "xz", "yz")]
            print(f"{method:<10} " + " ".join(f"{c:>15}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=result_path("foundation"))
    args = parser.parse_args()
    volume = io.read(FLYEM)
    report = {"machine": machine_info(), "volume": volume.describe(),
              "io": io_throughput(volume, args.repeats),
              "speed": interpolation_speed(volume, args.repeats),
              "quality": interpolation_quality(volume)}
    print_tables(report)
    write_json(args.json, report)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
