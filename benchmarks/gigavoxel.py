"""Gigavoxel benchmark (issue 16, scale): a ~1e9-voxel isotropic output reconstructed blockwise.

What it measures: wall time, output voxels/s and resident memory over time of
``isovox reconstruct INPUT.zarr -o OUTPUT.zarr --model MODEL --block-size 128`` (the same
:func:`isovox.blockwise.reconstruct_blockwise` call with the CLI's defaults: local thread workers,
one per core, device and precision 'auto', defect detection on, the automatic OME-Zarr pyramid),
and whether its output equals in-memory :func:`isovox.reconstruct` on a crop. Run from the
repository root; the full measurement (about 1.0e9 output voxels, 1001 x 1000 x 1000):

    nice -n 5 .venv/bin/python benchmarks/gigavoxel.py --gigavoxels 1.0

and a trial at a small size that must not touch ``benchmarks/results``:

    ISOVOX_BENCH_RESULTS=/tmp/isovox-gigavoxel/results .venv/bin/python benchmarks/gigavoxel.py --gigavoxels 0.01

Steps (the first two cached under ``--work``, default /tmp/isovox-gigavoxel):

1. Input: the FlyEM cube (250^3 at 10 nm) made anisotropic x4 along z (:func:`isovox.simulate`,
   Gaussian slice profile of FWHM 40 nm: 63 x 250 x 250 at 40 x 10 x 10 nm), tiled by mirroring
   (``..., 61, 62, 61, ...``: no sharp seam and no repeated section, which the defect detector
   would flag as a duplicate) to the shape whose x4 output along z is a near cube of
   ``--gigavoxels`` x 1e9 voxels, and written as OME-Zarr (isovox's 64^3 chunks) by dask, a few
   chunks at a time: the whole input is never in memory.
2. Model: the default recipe (``isovox.train(method='selfsup')``, default settings, seed 0,
   ``--iterations`` 300) trained on a central 63 x 256 x 256 crop of that input (``--model DIR``
   uses a given model folder instead; the speed does not depend on the weights).
3. Run: the blockwise reconstruction in a fresh child process (its memory is its own: no input
   building or training in it). A thread of this process samples the child's resident memory
   (its children included; psutil, else /proc) and the blocks done every second.
4. Equality: a region of the output around block corners (``--check-size`` voxels per axis)
   against ``isovox.reconstruct`` of an input crop that covers the region plus the network's
   halo plus ``--check-margin`` more output voxels on every side, so the crop's own borders
   cannot reach the region: equal voxel for voxel if blocks are exact.

Reports output voxels, wall time (of the call; 'blocks' until the last block's marker, 'finish'
the pyramid and the move into place), output voxels/s, peak resident memory (sampled, and the
child's ``VmHWM``), the resident memory when 10 / 25 / 50 / 75 / 90 % of the blocks were done
(flat: no growth with progress; see :data:`memory_sampling.PROGRESS_POINTS`), the time extrapolated to 1e9
voxels, and the equality result. Writes
``gigavoxel.json`` and ``gigavoxel.png`` (memory over time) through the harness and prints a
markdown table. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from harness import FLYEM, Stopwatch, load_average, markdown_table, result_path, save_result
from memory_sampling import Sampler, memory_summary, plot_memory

FACTOR = 4
SLICE_FWHM_NM = 40.0
TRAIN_CROP = (63, 256, 256)                  # about one FlyEM tile of the low-res input
WRITE_CHUNKS = (64, 256, 256)                # input generated a few zarr chunks (64^3) per task
GIGA = 1e9


# --- the input ------------------------------------------------------------------------------------

def input_shape(gigavoxels: float) -> tuple[int, int, int]:
    """The low-res (z, y, x) shape whose x4 output along z is a near cube of ``gigavoxels`` x 1e9
    voxels (1.0: 251 x 1000 x 1000 -> 1001 x 1000 x 1000)."""
    side = (gigavoxels * GIGA) ** (1 / 3)
    lateral = int(round(side))
    return int(round((side - 1) / FACTOR)) + 1, lateral, lateral


def output_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    return FACTOR * (shape[0] - 1) + 1, shape[1], shape[2]


def mirrored_indices(start: int, stop: int, length: int) -> np.ndarray:
    """Source indices of positions ``[start, stop)`` of an axis of ``length`` samples tiled by
    mirroring about its end samples, which are not repeated (numpy's 'reflect')."""
    period = 2 * (length - 1)
    folded = np.arange(start, stop) % period
    return np.where(folded < length, folded, period - folded)


def tiled_chunk(source: np.ndarray, block_info: dict | None = None) -> np.ndarray:
    """One chunk of the mirrored tiling of ``source`` (dask ``map_blocks``: where from block_info)."""
    where = block_info[None]["array-location"]
    return source[np.ix_(*(mirrored_indices(a, b, n) for (a, b), n in zip(where, source.shape)))]


def build_input(work: Path, shape: tuple[int, int, int]) -> Path:
    """The tiled low-res OME-Zarr of ``shape`` under ``work`` (made once; written atomically)."""
    path = work / f"input_{'x'.join(map(str, shape))}.zarr"
    if path.exists():
        return path
    import dask.array as da

    import isovox
    from isovox.simulation import simulate

    flyem = isovox.read(FLYEM)
    assert flyem.unit == "nm", flyem.unit          # the slice profile below is in nm
    lowres = simulate(flyem, FACTOR, axis=0, recipe="gaussian", thickness=SLICE_FWHM_NM).lowres
    chunks = da.core.normalize_chunks(WRITE_CHUNKS, shape)
    tiles = da.map_blocks(partial(tiled_chunk, lowres.numpy()), chunks=chunks, dtype=lowres.dtype,
                          meta=np.empty((0, 0, 0), lowres.dtype))
    with Stopwatch() as watch:
        isovox.write(lowres.replace(data=tiles), path, levels=1)
    print(f"built {path} ({watch.seconds:.0f} s)", flush=True)
    return path


def central_crop(volume, size: tuple[int, int, int]):
    start = [max(0, (n - s) // 2) for n, s in zip(volume.shape, size)]
    stop = [min(n, a + s) for n, a, s in zip(volume.shape, start, size)]
    return volume.crop(start, stop)


def train_model(work: Path, input_path: Path, iterations: int) -> Path:
    """The default model trained on the input's central crop (made once)."""
    folder = work / f"{input_path.stem}-selfsup-{iterations}it"
    if (folder / "config.json").is_file():
        return folder
    import isovox

    crop = central_crop(isovox.read(input_path, lazy=True), TRAIN_CROP)
    with Stopwatch() as watch:
        isovox.train(crop.replace(data=crop.numpy()), folder, method="selfsup", iterations=iterations, seed=0,
                     device="cpu")
    print(f"trained {folder} ({watch.seconds:.0f} s)", flush=True)
    return folder


# --- the run: a child process, sampled from here ------------------------------------------------------

def child(args: argparse.Namespace) -> None:
    """``isovox reconstruct INPUT -o OUTPUT --model MODEL --block-size N [--workers W]``, as the API call."""
    from isovox.blockwise import reconstruct_blockwise

    started = time.time()                       # wall clock: the sampling parent compares it with its own
    with Stopwatch() as watch:
        result = reconstruct_blockwise(args.input, args.output, model=args.model, block_size=args.block_size,
                                       workers=args.workers, progress=False)
    print(json.dumps({"seconds": watch.seconds, "cpu_seconds": watch.cpu_seconds, "vmhwm_mb": watch.peak_rss_mb,
                      "started": started, "output_shape": list(result.shape)}))


def run_blockwise(input_path: Path, output: Path, model: Path, block_size: int, workers: int | None) -> dict:
    """A fresh blockwise run in a child process, sampled every second; its report and samples."""
    from isovox.blockwise.records import work_folder_of

    shutil.rmtree(output, ignore_errors=True)                  # a fresh run: nothing to resume
    shutil.rmtree(work_folder_of(output), ignore_errors=True)
    command = [sys.executable, __file__, "child", str(input_path), str(output), str(model),
               "--block-size", str(block_size)] + (["--workers", str(workers)] if workers else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "ISOVOX_PROGRESS": "0"})
    sampler = Sampler(process.pid, output)
    sampler.start()
    stdout, stderr = process.communicate()
    sampler.stopped.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"blockwise child failed ({process.returncode}): {' '.join(command)}\n{stderr[-3000:]}")
    report = json.loads(stdout.strip().splitlines()[-1])
    # seconds from the process's start (imports) to the reconstruction call's start
    report["call_starts_at"] = round(report.pop("started") - sampler.started, 2)
    return {**report, "blocks": sampler.total_blocks, "samples": sampler.samples}


def straddling_range(length: int, block: int, size: int) -> tuple[int, int]:
    """``[a, b)`` of ``size`` voxels (clipped) centred on the block boundary nearest the middle,
    so the region crosses seams between blocks."""
    boundary = int(round(length / 2 / block)) * block
    start = max(0, min(boundary - size // 2, length - size))
    return start, min(length, start + size)


def equality_check(input_path: Path, output_path: Path, model_folder: Path, block_size: int, size: int,
                   margin: int) -> dict:
    import isovox
    from isovox.blockwise.plan import make_plan

    source = isovox.read(input_path, lazy=True)
    output = isovox.read(output_path, lazy=True)
    model = isovox.open_model(model_folder, device="cpu")
    grid = model.grid(source)
    reach = model.reach(grid)
    plan = make_plan(source.shape, grid.factors, block_size, kernel_radius=reach.kernel_radius, halo=reach.halo,
                     multiple=reach.multiple)
    ranges = [straddling_range(n, block_size, size) for n in output.shape]
    # the crop reaches `margin` output voxels beyond what the region needs: its own borders stay out
    regions = [axis.region(max(0, a - margin), min(axis.n_out, b + margin)) for axis, (a, b) in zip(plan.axes, ranges)]
    offsets = [axis.output_index(k0) for axis, (k0, _) in zip(plan.axes, regions)]
    crop = source.crop([k0 for k0, _ in regions], [k1 for _, k1 in regions])
    with Stopwatch() as watch:
        reference = isovox.reconstruct(crop.replace(data=crop.numpy()), model=model_folder)   # the CLI's defaults
    expected = reference.numpy()[tuple(slice(a - o, b - o) for (a, b), o in zip(ranges, offsets))]
    got = np.asarray(output.data[tuple(slice(a, b) for a, b in ranges)])
    difference = np.abs(expected.astype(np.float64) - got.astype(np.float64))
    world_expected = np.add(reference.origin, np.multiply([a - o for (a, _), o in zip(ranges, offsets)],
                                                         reference.spacing))
    world_got = np.add(output.origin, np.multiply([a for a, _ in ranges], output.spacing))
    return {"output_region": [list(r) for r in ranges], "input_crop": [list(r) for r in regions],
            "halo": list(reach.halo), "margin": margin, "in_memory_seconds": watch.seconds,
            "voxels": int(difference.size), "max_abs_difference": float(difference.max()),
            "voxels_differing": int(np.count_nonzero(difference)), "dtype": str(got.dtype),
            "same_spacing": bool(np.allclose(reference.spacing, output.spacing, rtol=1e-12)),
            "same_position": bool(np.allclose(world_expected, world_got, rtol=1e-12, atol=1e-9))}


# --- report ---------------------------------------------------------------------------------------

def summary_table(record: dict) -> str:
    run, memory, check = record["run"], record["memory"], record["equality"]
    whole = lambda value: "-" if value is None else f"{value:.0f}"        # noqa: E731
    at = memory["rss_mb_at_blocks_done"]
    rows = [
        ["output (z x y x x)", f"{' x '.join(map(str, run['output_shape']))} = "
                               f"{record['output_voxels'] / GIGA:.3f} Gvoxel"],
        ["blocks (size, workers)", f"{run['blocks']} ({record['block_size']}, {record['workers'] or 'one per core'})"],
        ["wall seconds (call = blocks + finish)", f"{run['seconds']:.1f} = {whole(record['blocks_seconds'])} + "
                                                  f"{whole(record['finish_seconds'])}"],
        ["output Mvoxel/s", f"{record['voxels_per_s'] / 1e6:.3f}"],
        ["extrapolated to 1 Gvoxel", f"{record['seconds_per_gigavoxel'] / 60:.1f} min"],
        ["peak resident MB (sampled / VmHWM)", f"{whole(memory['peak_sampled_mb'])} / {whole(run['vmhwm_mb'])}"],
        ["resident MB at " + " / ".join(at) + " of blocks", " / ".join(whole(value) for value in at.values())],
        ["equal to in-memory on a crop", f"max |difference| {check['max_abs_difference']:g}, "
                                         f"{check['voxels_differing']} of {check['voxels']} voxels differ"],
    ]
    return markdown_table(["gigavoxel benchmark", "value"], rows, align="lr")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("child")
    run.add_argument("input")
    run.add_argument("output")
    run.add_argument("model")
    run.add_argument("--block-size", type=int, required=True)
    run.add_argument("--workers", type=int, default=None)
    parser.add_argument("--gigavoxels", type=float, default=1.0, help="output size in 1e9 voxels")
    parser.add_argument("--work", type=Path, default=Path("/tmp/isovox-gigavoxel"))
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--model", type=Path, default=None,
                        help="use this model folder instead of training one (e.g. the one a smaller run trained)")
    parser.add_argument("--block-size", type=int, default=128, help="as isovox reconstruct --block-size")
    parser.add_argument("--workers", type=int, default=None, help="default: one per core, as the CLI")
    parser.add_argument("--check-size", type=int, default=160, help="output voxels per axis compared")
    parser.add_argument("--check-margin", type=int, default=16, help="output voxels of crop beyond the halo")
    args = parser.parse_args()
    if args.command != "child" and not args.gigavoxels > 0:
        parser.error(f"--gigavoxels must be positive, got {args.gigavoxels}")
    return args


def measure(args: argparse.Namespace) -> dict:
    """Input, model, the sampled blockwise run and the equality check: the result record."""
    import torch

    from isovox.reconstruction.precision import resolve_precision

    args.work.mkdir(parents=True, exist_ok=True)
    load_at_start = load_average()                    # the cores may be shared: say how busy they were
    shape = input_shape(args.gigavoxels)
    input_path = build_input(args.work, shape)
    model = args.model or train_model(args.work, input_path, args.iterations)
    output = args.work / f"output_{'x'.join(map(str, output_shape(shape)))}.zarr"
    print(f"blockwise: {input_path.name} -> {output.name}, block {args.block_size}", flush=True)
    run = run_blockwise(input_path, output, model, args.block_size, args.workers)
    samples = run.pop("samples")
    memory = memory_summary(samples, run["blocks"])

    voxels = int(np.prod(run["output_shape"]))
    # within the call: until the last block's marker was seen (1-s sampling, so at most the call's
    # length), then the pyramid and the move into place
    blocks_seconds = (None if memory["blocks_done_at_seconds"] is None
                      else round(min(run["seconds"], memory["blocks_done_at_seconds"] - run["call_starts_at"]), 1))
    record = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "data": f"FlyEM 250^3 at 10 nm, x{FACTOR} along z (Gaussian FWHM {SLICE_FWHM_NM:g} nm), mirrored tiling",
        "load_average_1min_at_start": load_at_start, "gigavoxels_asked": args.gigavoxels,
        "input_shape": list(shape), "input": str(input_path), "output": str(output), "model": str(model),
        "iterations": None if args.model else args.iterations,
        "block_size": args.block_size, "workers": args.workers,
        "precision": resolve_precision("auto", torch.device("cpu")),
        "output_voxels": voxels, "voxels_per_s": voxels / run["seconds"],
        "seconds_per_gigavoxel": run["seconds"] * GIGA / voxels,
        "blocks_seconds": blocks_seconds,
        "finish_seconds": None if blocks_seconds is None else max(0.0, round(run["seconds"] - blocks_seconds, 1)),
        "run": run, "memory": memory, "equality": None,
        "samples": {key: [sample[key] for sample in samples] for key in ("seconds", "rss_mb", "blocks_done")},
    }
    save_result("gigavoxel", record)                  # kept should the check below fail
    print(f"blockwise done in {run['seconds']:.1f} s; comparing a crop with in-memory", flush=True)
    record["equality"] = equality_check(input_path, output, model, args.block_size, args.check_size,
                                        args.check_margin)
    return record


def main() -> None:
    args = parse_arguments()
    if args.command == "child":
        return child(args)
    record = measure(args)
    save_result("gigavoxel", record)
    shape = record["run"]["output_shape"]
    title = (f"blockwise {' x '.join(map(str, shape))} ({record['output_voxels'] / GIGA:.3f} Gvoxel), "
             f"block {record['block_size']}: resident memory of the run")
    plot_memory(record["samples"], record["run"]["blocks"], title, result_path("gigavoxel", ".png"))
    print("\n" + summary_table(record))
    print(f"\nwrote {result_path('gigavoxel')}")


if __name__ == "__main__":
    main()
