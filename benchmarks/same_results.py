"""Same results before and after a refactor: every training method, small and deterministic.

A refactor must not change what isovox computes. The quality benchmarks train for minutes of wall
time, so two runs differ by their iteration counts; this script instead trains every method for a
fixed, small number of iterations (seed 0, one torch thread: bit-reproducible on one CPU) on a
FlyEM crop made anisotropic x4, reconstructs the withheld half, and prints the PSNR against the
truth and a digest of the output voxels. It uses only the public API that every isovox version
since the model folders has, so the same file runs against an older checkout::

    git worktree add /tmp/isovox-before <rev>
    PYTHONPATH=/tmp/isovox-before/src python benchmarks/same_results.py --out before.json
    python benchmarks/same_results.py --out after.json --compare before.json

Equal digests mean the same voxels; the PSNR says how far apart they are where they differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import isovox
from harness import FLYEM, machine_info, write_json

CROP = (slice(0, 96), slice(0, 96), slice(0, 128))     # z, y, x voxels of the 10 nm FlyEM cube
COMMON = dict(seed=0, device="cpu", overwrite=True)
# Each method at a size that trains in seconds; everything not named keeps the recipe's default.
METHODS = {
    "selfsup": dict(iterations=40, patch_size=32, batch_size=4, recipe="gaussian"),
    "arbitrary-scale": dict(iterations=20, patch_size=32, batch_size=2, model_kwargs={"n_feats": 8, "n_blocks": 1}),
    "degradation-learning": dict(iterations=20, cycle_iterations=20, patch_size=32, batch_size=2),
    "vae-two-stage": dict(stage2_iterations=10, warmup_iterations=10, adversarial_iterations=10,
                          compact_iterations=10, patch_size=16, batch_size=2),
    "supervised3d": dict(iterations=20, patch_size=16, batch_size=2, factor=4, axes="z",
                         model_kwargs={"blocks": 1, "units": 2, "growth": 4}),
}


def data() -> tuple:
    """(training half, low-res test half, its truth): split along x, each made anisotropic x4."""
    volume = isovox.read(FLYEM)
    volume = volume.replace(data=np.ascontiguousarray(volume.numpy()[CROP]))
    half = volume.shape[2] // 2
    train_part = volume.replace(data=np.ascontiguousarray(volume.numpy()[:, :, :half]))
    test_part = volume.replace(data=np.ascontiguousarray(volume.numpy()[:, :, half:]))
    train_sim = isovox.simulate(train_part, 4, axis="z", recipe="gaussian")
    test_sim = isovox.simulate(test_part, 4, axis="z", recipe="gaussian")
    return train_part, train_sim.lowres, test_sim.lowres, test_sim.ground_truth


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def run_method(name: str, folder: Path, train_hr, train_lr, test_lr, truth) -> dict:
    started = time.perf_counter()
    options = dict(METHODS[name], **COMMON)
    if name == "supervised3d":
        isovox.train(None, folder, method=name, highres=[train_hr], **options)
    else:
        isovox.train(train_lr, folder, method=name, **options)
    result = isovox.reconstruct(test_lr, model=folder, device="cpu", dtype="float32")
    reference = truth.numpy().astype(np.float32)
    predicted = result.numpy()[tuple(slice(0, n) for n in reference.shape)]
    mse = float(np.mean((predicted - reference) ** 2))
    return {"psnr": round(10 * np.log10(255.0 ** 2 / mse), 4), "digest": digest(result.numpy()),
            "shape": list(result.shape), "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="an earlier --out file: say which methods differ")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    train_hr, train_lr, test_lr, truth = data()
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.methods:
            rows[name] = run_method(name, Path(scratch) / name, train_hr, train_lr, test_lr, truth)
            print(name, rows[name], flush=True)
    write_json(args.out, {"version": isovox.__version__, "machine": machine_info(), "methods": rows})
    if args.compare:
        before = json.loads(args.compare.read_text())["methods"]
        for name, row in rows.items():
            old = before.get(name)
            verdict = "missing before" if old is None else (
                "same voxels" if old["digest"] == row["digest"] else f"differs: {old['psnr']} -> {row['psnr']} dB")
            print(f"{name}: {verdict}")


if __name__ == "__main__":
    main()
