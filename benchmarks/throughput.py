"""Throughput of the default path of each reconstruction kind, against the device's conv roofline.

Cases (``--cases``, comma-separated; default all):

==========================  ==================================================================
slicewise-drcnet            ``isovox.reconstruct(lowres, model=dir)``, selfsup, default backbone
slicewise-rcan              the same, ``arch='rcan'``
slicewise-a2i               the same, ``arch='a2i'`` (transformer)
3d-mdcsrn                   supervised3d (default generator) trained on the ground truth, factor 4
arbitrary-meta-srgan        'arbitrary-scale' (default network), reconstructed at factor 4
blockwise-drcnet            ``isovox.reconstruct_blockwise(lowres, tmp.zarr, model=dir)`` with
                            the slicewise-drcnet folder, default blocks and workers
==========================  ==================================================================

Method. Data: the FlyEM FIB-SEM cube (250^3 uint8, 10 nm; ``--size N`` crops its first N voxels
along each axis, N >= 64 on the CPU and >= 128 on CUDA, the training patches' size) made
anisotropic x4 along z by ``isovox.simulate(volume, 4, axis='z')``. Each model folder is trained
for ``--train-iterations`` (default 2) iterations on that data: speed does not depend on the
weights, only on the architecture, which is the recipe's default unless the case names one.
Each case and precision then runs in a fresh child process (imports, CUDA context and peak
memory are its own) that calls the reconstruction as a user does, whole:

1. a first call, timed ("first s": includes model loading, CUDA/cuDNN start-up, allocator growth);
2. a second call under :class:`throughput_measure.FlopTally`, which counts the FLOPs of every
   network forward pass of the call, in every thread (Dask workers included), with
   ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, matrix products, attention, the
   CPU attention kernel included; element-wise work and the cubic pre-interpolation are not
   counted). Not timed;
3. ``--repeats`` (default 2) further calls, timed ("s", the best of them).

Peak memory spans the three steps ("peak MB"; the first call allocates what later ones reuse):
on CUDA ``torch.cuda.max_memory_allocated``; on the CPU the rise of the resident set over its
size before the first call (``VmHWM``, reset then through /proc/self/clear_refs; the
resident set includes the model, the input copies and the output).

The roofline is measured in the parent process on the same device: the best throughput of a
3x3 ``Conv2d`` (C -> C, C = 32, 64, 128, both memory formats) on ``--roofline-batch`` images of
256 x 256, in fp32 and under bf16 autocast. A case's share of the roofline compares its GFLOP/s
with the roofline of its precision. On CUDA, "fp32" means torch's defaults (cuDNN convolutions
may use TF32; the JSON records the flags).

``--precision fp32,bf16`` is passed to the reconstruction as ``precision=`` where its signature
has that argument; where it has not, each case runs once at isovox's built-in precision (bf16
autocast on CUDA, fp32 on the CPU), shown as ``default`` with a note. A combination isovox
refuses (arbitrary-scale in bf16) is a ``refused`` row with isovox's reason.

Run from the repository root:

    nice -n 10 .venv/bin/python benchmarks/throughput.py --device cpu --size 64
    .venv/bin/python benchmarks/throughput.py --device cpu --cases slicewise-drcnet,3d-mdcsrn \\
        --json benchmarks/results/throughput_cpu.json --markdown /tmp/throughput.md
    PYTHONPATH=src python3 benchmarks/throughput.py --device cuda --precision fp32,bf16 \\
        --data /path/with/flyem --json $OUT/throughput.json   # or: benchmarks/gpu_check.sh DATA_DIR

Prints the roofline, one markdown row per case (GFLOP for the volume, seconds, GFLOP/s, share of
the roofline, output Mvoxel/s, peak memory), and notes; ``--json`` is rewritten after every case,
so an interrupted run keeps what it measured. blockwise needs zarr and dask: without them the
case is skipped with a note. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from itertools import count
from pathlib import Path

import numpy as np

from harness import DATA, FLYEM, ROOT, Stopwatch, machine_info, timed
from throughput_report import Row, markdown, roofline_line, table_line, write_results

FLYEM_NAME = FLYEM.name
FACTOR = 4
MIN_SIZE = {"cpu": 64, "cuda": 128}   # the training recipes' default lateral patch per device
RESULT_MARK = "THROUGHPUT-RESULT "
PRECISION_NAMES = ("fp32", "bf16", "auto")    # isovox.reconstruct's precision= values

#: model folder name -> isovox.train keywords (no arch: the recipe's default architecture)
MODELS = {
    "drcnet": dict(method="selfsup"),
    "rcan": dict(method="selfsup", arch="rcan"),
    "a2i": dict(method="selfsup", arch="a2i"),
    "mdcsrn": dict(method="supervised3d", factor=FACTOR),
    "meta-srgan": dict(method="arbitrary-scale"),
}
#: case -> (model folder, how it is reconstructed: 'memory' or 'blockwise')
CASES = {
    "slicewise-drcnet": ("drcnet", "memory"),
    "slicewise-rcan": ("rcan", "memory"),
    "slicewise-a2i": ("a2i", "memory"),
    "3d-mdcsrn": ("mdcsrn", "memory"),
    "arbitrary-meta-srgan": ("meta-srgan", "memory"),
    "blockwise-drcnet": ("drcnet", "blockwise"),
}


@dataclass
class Job:
    """What one child process measures."""

    case: str
    model_dir: str
    precision: str              # 'fp32', 'bf16', 'auto', or 'default' (no precision argument passed)
    device: str
    data: str
    size: int
    repeats: int
    scratch: str


# --- data and model folders -----------------------------------------------------------------------

def flyem_x4(data_dir: str | Path, size: int):
    """``isovox.simulate`` x4 along z of the FlyEM cube cropped to its first ``size`` voxels."""
    import isovox

    volume = isovox.read(Path(data_dir) / FLYEM_NAME)
    crop = volume.numpy()[:size, :size, :size]
    return isovox.simulate(volume.replace(data=np.ascontiguousarray(crop)), FACTOR, axis="z")


def train_model(name: str, simulated, folder: Path, iterations: int, device: str) -> None:
    """A model folder of ``MODELS[name]`` trained for a few iterations (weights do not matter)."""
    import isovox

    options = dict(MODELS[name], iterations=iterations, device=device, overwrite=True, resume=False)
    if options["method"] == "supervised3d":
        isovox.train(None, folder, highres=[simulated.ground_truth], **options)
    else:
        isovox.train(simulated.lowres, folder, **options)


# --- the child: one case, one precision -----------------------------------------------------------

def reconstruction(job: Job, lowres):
    """A no-argument callable that runs the case's reconstruction once and returns its Volume."""
    import isovox

    kind = CASES[job.case][1]
    options = dict(model=job.model_dir, device=job.device)
    if job.precision != "default":
        options["precision"] = job.precision
    if kind == "memory":
        return lambda: isovox.reconstruct(lowres, **options)
    outputs = (Path(job.scratch) / f"{job.case}-{job.precision}-{i}.zarr" for i in count())
    return lambda: isovox.reconstruct_blockwise(lowres, next(outputs), **options)


def timed_synchronised(run, device) -> tuple[float, tuple]:
    """Seconds of one ``run()`` (device synchronised at both ends) and its output shape."""
    from throughput_measure import synchronize

    synchronize(device)
    with Stopwatch() as watch:
        output = run()
        synchronize(device)
    return watch.seconds, tuple(output.shape)


def measure(job: Job) -> dict:
    """First call, FLOP-counting call, then the timed repeats with peak memory (module doc)."""
    import torch
    from isovox.store import read_card
    from throughput_measure import FlopTally, PeakMemory

    device = torch.device(job.device)
    run = reconstruction(job, flyem_x4(job.data, job.size).lowres)
    with PeakMemory(device) as memory:
        first_s, shape = timed_synchronised(run, device)
        with FlopTally() as tally:
            run()
        repeat_s = [timed_synchronised(run, device)[0] for _ in range(job.repeats)]
    return dict(arch=read_card(job.model_dir).architecture.get("name", "?"), output_shape=list(shape),
                flops=tally.total, forward_passes=tally.passes, first_s=first_s, repeat_s=repeat_s,
                peak_bytes=memory.bytes, peak_kind=memory.kind, host_rise_bytes=memory.host_rise_bytes)


def child_main(spec: str) -> None:
    """Print ``measure``'s result, or the error that stopped it, as one marked JSON line."""
    from isovox.errors import IsovoxError

    try:
        result = measure(Job(**json.loads(spec)))
    except IsovoxError as error:              # isovox refused the options: a one-line reason
        result = {"refused": str(error)}
    except Exception as error:                # noqa: BLE001 -- reported in the row, not lost
        result = {"error": f"{type(error).__name__}: {error}"}
    print(RESULT_MARK + json.dumps(result), flush=True)


# --- the parent -----------------------------------------------------------------------------------

def run_child(job: Job, timeout: float | None) -> dict:
    """``measure(job)`` in a fresh interpreter; raises RuntimeError with the child's stderr tail."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(asdict(job))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-6:]
    raise RuntimeError(f"exit {done.returncode}: " + " | ".join(tail))


def measure_row(row: Row, job: Job, args, roofline: dict) -> None:
    """Fill ``row`` from a child run of ``job``: its figures, or why there are none."""
    try:
        result = run_child(job, args.case_timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        row.status, row.note = "failed", str(error)
        return
    if "refused" in result or "error" in result:
        row.status = "refused" if "refused" in result else "failed"
        row.note = result.get("refused") or result["error"]
        return
    fill_row(row, result, roofline, args.device)


def fill_row(row: Row, result: dict, roofline: dict, device: str) -> Row:
    """The derived figures of a row from a child's raw result."""
    row.arch, row.output_shape = result["arch"], result["output_shape"]
    row.forward_passes, row.first_s, row.repeat_s = result["forward_passes"], result["first_s"], result["repeat_s"]
    row.seconds = min(row.repeat_s)
    row.gflop = result["flops"] / 1e9
    row.gflops = row.gflop / row.seconds
    row.roofline_share = row.gflops / roofline[roofline_precision(row.precision, device)]["gflops"]
    row.mvoxel_s = float(np.prod(row.output_shape)) / row.seconds / 1e6
    row.peak_mb, row.peak_kind = result["peak_bytes"] / 2**20, result["peak_kind"]
    row.host_rise_mb = result["host_rise_bytes"] / 2**20
    return row


def roofline_precision(precision: str, device: str) -> str:
    """The roofline a row is compared with: its own precision, or isovox's built-in one."""
    if precision in ("fp32", "bf16"):
        return precision
    return "bf16" if device.startswith("cuda") else "fp32"   # 'auto' and 'default' alike


def precisions_for(case: str, wanted: list[str]) -> tuple[list[str], str]:
    """The precisions to run ``case`` at and a note: 'default' once where no precision argument."""
    import isovox

    function = isovox.reconstruct_blockwise if CASES[case][1] == "blockwise" else isovox.reconstruct
    if "precision" in inspect.signature(function).parameters:
        return wanted, ""
    return ["default"], (f"{function.__name__} has no precision argument: run at isovox's built-in "
                         "precision (bf16 autocast on CUDA, fp32 on the CPU)")


def missing_modules(case: str) -> list[str]:
    """The modules ``case`` needs that do not import here (blockwise: zarr and dask)."""
    return [name for name in (("zarr", "dask") if CASES[case][1] == "blockwise" else ()) if not importable(name)]


def importable(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


def environment(device: str) -> dict:
    """:func:`harness.machine_info`, the device measured and, on CUDA, its name and the TF32 flags."""
    import torch

    info = {**machine_info(), "device": device}
    if device.startswith("cuda"):
        info.update(gpu=torch.cuda.get_device_name(torch.device(device)),
                    cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                    matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32)
    return info


def train_needed(cases: list[str], simulated, models_dir: Path, args) -> dict[str, str]:
    """Train the model folders the runnable cases need; model name -> error for those that failed."""
    failed = {}
    for name in dict.fromkeys(CASES[case][0] for case in cases if not missing_modules(case)):
        try:
            _, seconds = timed(train_model, name, simulated, models_dir / name, args.train_iterations, args.device)
            print(f"trained {name} in {seconds:.1f} s", flush=True)
        except Exception as error:            # noqa: BLE001 -- one failed model must not stop the others
            failed[name] = f"training failed: {type(error).__name__}: {error}"
            print(f"{name}: {failed[name]}", flush=True)
    release_cuda_cache()
    return failed


def release_cuda_cache() -> None:
    """Hand the parent's cached CUDA blocks back, so the children have the device to themselves."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_cases(args, roofline: dict, report) -> list[Row]:
    """Every case at every precision, one child each; ``report(rows)`` after each row."""
    simulated = flyem_x4(args.data, args.size)
    print(f"FlyEM x{FACTOR}: low-res {simulated.lowres.shape} -> ground truth {simulated.ground_truth.shape}",
          flush=True)
    models_dir, scratch = args.workdir / "models", args.workdir / "scratch"
    models_dir.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(exist_ok=True)
    failed_models = train_needed(args.cases, simulated, models_dir, args)
    rows: list[Row] = []
    for case in args.cases:
        model = CASES[case][0]
        precisions, note = precisions_for(case, args.precision)
        for precision in precisions:
            row, missing = Row(case, precision, note=note), missing_modules(case)
            if missing:
                row.status, row.note = "skipped", f"needs {', '.join(missing)} (not installed)"
            elif model in failed_models:
                row.status, row.note = "failed", failed_models[model]
            else:
                job = Job(case, str(models_dir / model), precision, args.device, str(args.data), args.size,
                          args.repeats, str(scratch))
                measure_row(row, job, args, roofline)
            rows.append(row)
            print(table_line(row), flush=True)
            report(rows)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--precision", default="fp32", help="comma-separated: " + ", ".join(PRECISION_NAMES))
    parser.add_argument("--size", type=int, default=250, help="crop of the 250^3 FlyEM cube (each axis)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"folder holding {FLYEM_NAME}")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls after the first (best is reported)")
    parser.add_argument("--train-iterations", type=int, default=2)
    parser.add_argument("--roofline-batch", type=int, default=None, help="default 16 on CUDA, 1 on the CPU")
    parser.add_argument("--case-timeout", type=float, default=None, help="seconds per child process")
    parser.add_argument("--workdir", type=Path, default=None, help="model folders and outputs (default: temp)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.precision = [p.strip() for p in args.precision.split(",") if p.strip()]
    unknown = [c for c in args.cases if c not in CASES] + [p for p in args.precision if p not in PRECISION_NAMES]
    if unknown or args.repeats < 1:
        parser.error(f"unknown case or precision: {', '.join(unknown)}" if unknown else "--repeats must be >= 1")
    smallest = MIN_SIZE["cuda" if args.device.startswith("cuda") else "cpu"]
    if args.size < smallest:
        parser.error(f"--size must be at least {smallest} on {args.device} (the training patches' lateral size)")
    if not (args.data / FLYEM_NAME).is_file():
        parser.error(f"{FLYEM_NAME} not found in {args.data} (give --data)")
    args.roofline_batch = args.roofline_batch or (16 if args.device.startswith("cuda") else 1)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    from throughput_measure import conv_roofline

    info = environment(args.device)
    roofline = conv_roofline(torch.device(args.device), args.roofline_batch)
    print(roofline_line(roofline, args.roofline_batch), flush=True)
    temporary = args.workdir is None
    args.workdir = Path(tempfile.mkdtemp(prefix="isovox-throughput-")) if temporary else args.workdir
    try:
        rows = run_cases(args, roofline, lambda rows: write_results(rows, roofline, info, args, FACTOR))
    finally:
        if temporary:
            shutil.rmtree(args.workdir, ignore_errors=True)
    print("\n" + markdown(rows, roofline, info, args, FACTOR))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child_main(sys.argv[2])
    else:
        main()
