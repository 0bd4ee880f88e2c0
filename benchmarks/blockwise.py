"""Blockwise benchmark (issue 8): memory, throughput against the conv roofline, fault tolerance.

Run from the repository root (takes 15-30 minutes on 2 shared cores):

    nice -n 5 .venv/bin/python benchmarks/blockwise.py [--parts memory,roofline,throughput,fault]
        [--scratch /tmp/isovox-blockwise] [--json benchmarks/results/blockwise.json]

Data: the FlyEM FIB-SEM cube (250^3 uint8, 10 nm, ../shared/data) made anisotropic x4 along z
(:func:`isovox.simulate`, Gaussian profile: 63 x 250 x 250 at 40 x 10 x 10 nm).

1. memory: the low-res volume tiled 1x, 2x2x2 (8x) and 3x3x3 (27x) into Zarr inputs,
   reconstructed with cubic to Zarr (blocks of 64 and 128, 2 thread workers), each in a fresh
   process that reports its peak resident memory (``VmHWM`` of /proc/self/status).
2. roofline: achieved FLOP/s of one large 3x3 convolution (32 -> 32 channels, 1024^2) with 1 and
   2 torch threads, and the FLOPs per output voxel of the model (every Conv2d, both plane
   families of mean fusion); roofline voxels/s = FLOP/s / FLOPs per voxel.
3. throughput: output voxels/s of a small DRCNet (16 features, 2 blocks; trained 60 iterations,
   self-supervised) and of cubic, on a 24-slice crop (93 x 250 x 250 output), block 128:
   in memory (``isovox.reconstruct``), 1 and 2 local thread workers, 2 local processes, and a
   cluster started as a user would (``dask scheduler`` and ``dask worker --nworkers 2
   --nthreads 1`` processes) reached through its scheduler address.
4. fault: the same model run, block 64, on that cluster; one worker process is killed by its pid
   once the first block is done (the scheduler re-runs its tasks; the nanny restarts it); and on
   2 local processes, where killing a pool process fails the run and a rerun resumes. Each result
   is compared voxel by voxel with the uninterrupted run.

Every timed run happens in a child process (``child`` sub-command) so imports and peak memory are
its own. Prints markdown tables and writes JSON. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from harness import (FLYEM, Stopwatch, best_seconds, machine_info, markdown_table, read_json, result_path,
                     write_json)

PYTHON = sys.executable
DASK = str(Path(sys.executable).with_name("dask"))
MODEL_KWARGS = dict(n_feats=16, n_blocks=2)


# --- the child: one timed run ---------------------------------------------------------------------

def child(args: argparse.Namespace) -> None:
    from isovox.blockwise import blockwise_status, reconstruct_blockwise

    if args.torch_threads:                    # torch only where a model runs: it is 300 MB of RSS
        import torch

        torch.set_num_threads(args.torch_threads)
    before = blockwise_status(args.output)
    # the peak is this child process's own, imports included (a fresh process: nothing to reset)
    with Stopwatch() as watch:
        if args.in_memory:
            import isovox

            volume = isovox.read(args.input)
            result = isovox.reconstruct(volume, args.method, model=args.model, device="cpu")
            isovox.write(result, args.output, overwrite=True)
        else:
            result = reconstruct_blockwise(args.input, args.output, method=args.method, model=args.model,
                                           block_size=args.block, workers=args.workers, processes=args.processes,
                                           scheduler=args.scheduler, device="cpu", progress=False)
    print(json.dumps({"seconds": watch.seconds, "voxels": int(np.prod(result.shape)),
                      "voxels_per_s": float(np.prod(result.shape)) / watch.seconds,
                      "peak_rss_mb": watch.peak_rss_mb,
                      "blocks_done_before": before.get("done", 0)}))


def run_child(input_path, output, *, method="cubic", model=None, block=128, workers=None, processes=False,
              scheduler=None, in_memory=False, torch_threads=None, check=True) -> dict | None:
    command = [PYTHON, __file__, "child", str(input_path), str(output), "--method", method, "--block", str(block)]
    for flag, value in (("--model", model), ("--workers", workers), ("--scheduler", scheduler),
                        ("--torch-threads", torch_threads)):
        if value is not None:
            command += [flag, str(value)]
    command += ["--processes"] * processes + ["--in-memory"] * in_memory
    if check:                                 # a fresh run: no output, no work folder to resume
        shutil.rmtree(output, ignore_errors=True)
        shutil.rmtree(Path(output).parent / f".{Path(output).name}.isovox-blockwise", ignore_errors=True)
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "ISOVOX_PROGRESS": "0"})
    if done.returncode != 0:
        if check:
            raise RuntimeError(f"child failed: {' '.join(command)}\n{done.stderr[-3000:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- data -----------------------------------------------------------------------------------------

def prepare(scratch: Path) -> dict:
    """Low-res FlyEM, its tilings as Zarr inputs, the throughput crop, and the trained model."""
    import isovox
    from isovox.simulation import simulate

    paths = {"model": scratch / "drcnet16x2", "crop": scratch / "crop24.zarr"}
    lowres = None
    for n in (1, 2, 3):
        paths[f"tiled{n}"] = scratch / f"tiled{n}.zarr"
    if all(p.exists() for p in paths.values()):
        return paths
    lowres = simulate(isovox.read(FLYEM), 4.0, axis=0, recipe="gaussian").lowres
    for n in (1, 2, 3):
        isovox.write(lowres.replace(data=np.tile(lowres.numpy(), (n, n, n))), paths[f"tiled{n}"], overwrite=True)
    isovox.write(lowres.crop((0, 0, 0), (24, 250, 250)), paths["crop"], overwrite=True)
    if not paths["model"].exists():
        import torch

        torch.set_num_threads(2)
        isovox.train(lowres, paths["model"], method="selfsup", iterations=60, model_kwargs=MODEL_KWARGS,
                     batch_size=4, validation_fraction=0, device="cpu")
    return paths


# --- parts ----------------------------------------------------------------------------------------

def memory(paths: dict, scratch: Path) -> list[dict]:
    rows = []
    for block in (64, 128):
        for n in (1, 2, 3):
            result = run_child(paths[f"tiled{n}"], scratch / "memory_out.zarr", block=block, workers=2)
            rows.append({"tiling": f"{n ** 3}x", "block": block, **result})
            print(f"memory {n ** 3}x, block {block}: {result}", flush=True)
    shutil.rmtree(scratch / "memory_out.zarr", ignore_errors=True)
    return rows


def conv_flops_per_voxel(model_folder: Path) -> float:
    """Multiply-adds x 2 of every Conv2d per output pixel, times the two fused plane families."""
    import torch

    from isovox.store import load_model

    model, _ = load_model(model_folder)
    per_pixel = sum(2 * m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1] / m.groups
                    for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    return 2 * per_pixel


def roofline(model_folder: Path) -> dict:
    import torch

    conv = torch.nn.Conv2d(32, 32, 3, padding=1).eval()
    x = torch.randn(1, 32, 1024, 1024)
    flops = 2 * 32 * 32 * 9 * 1024 * 1024
    result = {"flops_per_voxel": conv_flops_per_voxel(model_folder)}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            conv(x)                                   # warm-up
            seconds = best_seconds(lambda: conv(x), 3)
        result[f"gflops_{threads}_threads"] = flops / seconds / 1e9
        result[f"roofline_voxels_per_s_{threads}_threads"] = flops / seconds / result["flops_per_voxel"]
    print(f"roofline: {result}", flush=True)
    return result


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes, as a user would start them."""

    def __init__(self, scratch: Path, workers: int = 2) -> None:
        self.file = scratch / "scheduler.json"
        self.file.unlink(missing_ok=True)
        env = {**os.environ, "ISOVOX_PROGRESS": "0"}
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=scratch)
        self.scheduler = subprocess.Popen([DASK, "scheduler", "--scheduler-file", str(self.file),
                                           "--port", "0", "--dashboard-address", ":0"], **quiet)
        self.workers = subprocess.Popen([DASK, "worker", "--scheduler-file", str(self.file), "--nworkers",
                                         str(workers), "--nthreads", "1", "--memory-limit", "0",
                                         "--dashboard-address", ":0"], **quiet)
        from distributed import Client

        while not self.file.exists():
            time.sleep(0.2)
        time.sleep(0.5)
        self.address = json.loads(self.file.read_text())["address"]
        self.client = Client(self.address)
        self.client.wait_for_workers(workers, timeout=120)

    def worker_pids(self) -> list[int]:
        return list(self.client.run(os.getpid).values())

    def close(self) -> None:
        self.client.close()
        for process in (self.workers, self.scheduler):
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def throughput(paths: dict, scratch: Path) -> list[dict]:
    rows = []
    cluster = Cluster(scratch)
    try:
        for method, model in (("cubic", None), ("drcnet", paths["model"])):
            label = dict(method="cubic", model=model)
            configs = [("in memory", dict(in_memory=True, torch_threads=2)),
                       ("1 thread worker", dict(workers=1)),
                       ("2 thread workers", dict(workers=2)),
                       ("2 process workers", dict(workers=2, processes=True)),
                       ("cluster, 2 workers", dict(scheduler=cluster.address))]
            for name, options in configs:
                out = scratch / f"throughput_{method}_{name.replace(' ', '_').replace(',', '')}.zarr"
                result = run_child(paths["crop"], out, block=128, **label, **options)
                rows.append({"method": method, "execution": name, **result})
                print(f"throughput {method} {name}: {result}", flush=True)
    finally:
        cluster.close()
    return rows


def _wait_for_markers(output: Path, process: subprocess.Popen, count: int = 1) -> int:
    done = output.parent / f".{output.name}.isovox-blockwise" / "done"
    while process.poll() is None:
        if done.is_dir() and len(list(done.iterdir())) >= count:
            return len(list(done.iterdir()))
        time.sleep(0.1)
    return -1


def _child_command(input_path, output, model, **options) -> list[str]:
    command = [PYTHON, __file__, "child", str(input_path), str(output), "--model", str(model), "--block", "64"]
    for flag, value in options.items():
        command += [f"--{flag}"] if value is True else [f"--{flag}", str(value)]
    return command


def _compare(a: Path, b: Path) -> int:
    import isovox

    return int(np.abs(isovox.read(a).numpy().astype(int) - isovox.read(b).numpy().astype(int)).max())


def fault(paths: dict, scratch: Path) -> dict:
    import psutil

    env = {**os.environ, "ISOVOX_PROGRESS": "0"}
    report = {}
    reference = scratch / "fault_reference.zarr"
    cluster = Cluster(scratch)
    try:
        run_child(paths["crop"], reference, model=paths["model"], block=64, scheduler=cluster.address)
        output = scratch / "fault_cluster.zarr"
        shutil.rmtree(output, ignore_errors=True)
        process = subprocess.Popen(_child_command(paths["crop"], output, paths["model"], scheduler=cluster.address),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        seen = _wait_for_markers(output, process)
        victim = cluster.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = process.communicate()
        report["cluster"] = {"killed_pid": victim, "blocks_done_at_kill": seen, "exit_code": process.returncode,
                             "max_abs_difference": _compare(output, reference) if process.returncode == 0 else None,
                             "result": json.loads(stdout.strip().splitlines()[-1]) if process.returncode == 0 else stderr[-2000:]}
        print(f"fault cluster: {report['cluster']}", flush=True)
    finally:
        cluster.close()

    output = scratch / "fault_local.zarr"
    shutil.rmtree(output, ignore_errors=True)
    shutil.rmtree(output.parent / f".{output.name}.isovox-blockwise", ignore_errors=True)
    command = _child_command(paths["crop"], output, paths["model"], workers=2, processes=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = _wait_for_markers(output, process)
    pool = [p for p in psutil.Process(process.pid).children(recursive=True)
            if "resource_tracker" not in " ".join(p.cmdline())]
    victim = pool[0].pid
    os.kill(victim, signal.SIGKILL)
    _, stderr = process.communicate()
    first = {"killed_pid": victim, "blocks_done_at_kill": seen, "exit_code": process.returncode,
             "error": stderr.strip().splitlines()[-1] if stderr.strip() else ""}
    rerun = subprocess.run(command, capture_output=True, text=True, env=env)
    second = json.loads(rerun.stdout.strip().splitlines()[-1]) if rerun.returncode == 0 else rerun.stderr[-2000:]
    report["local_processes"] = {"first_run": first, "rerun_exit_code": rerun.returncode, "rerun": second,
                                 "max_abs_difference": _compare(output, reference) if rerun.returncode == 0 else None}
    print(f"fault local processes: {report['local_processes']}", flush=True)
    return report


# --- report ---------------------------------------------------------------------------------------

def print_tables(report: dict) -> None:
    if "memory" in report:
        rows = [[f"FlyEM {row['tiling']}", row["block"], f"{row['voxels'] / 1e6:.1f} M", f"{row['peak_rss_mb']:.0f}",
                 f"{row['seconds']:.1f}", f"{row['voxels_per_s'] / 1e6:.2f}"] for row in report["memory"]]
        print("\n" + markdown_table(["input (x4 along z, tiled)", "block", "output voxels", "peak RSS (MB)", "seconds",
                                     "Mvoxel/s"], rows, align="lrrrrr"))
        for block in sorted({row["block"] for row in report["memory"]}):
            peaks = [row["peak_rss_mb"] for row in report["memory"] if row["block"] == block]
            print(f"block {block}: peak RSS spread {100 * (max(peaks) / min(peaks) - 1):.1f} % (max / min - 1)")
    if "roofline" in report:
        r = report["roofline"]
        print(f"\nconv roofline: {r['gflops_1_threads']:.1f} GFLOP/s (1 thread), {r['gflops_2_threads']:.1f} "
              f"GFLOP/s (2 threads); DRCNet 16x2, both plane families: {r['flops_per_voxel'] / 1e3:.1f} kFLOP "
              f"per output voxel -> roofline {r['roofline_voxels_per_s_1_threads'] / 1e3:.0f} / "
              f"{r['roofline_voxels_per_s_2_threads'] / 1e3:.0f} kvoxel/s (1 / 2 threads)")
    if "throughput" in report:
        r = report.get("roofline", {})
        # the best conv rate measured on this machine (2 threads can lose to 1 when cores are shared)
        roof = max(r.get("roofline_voxels_per_s_1_threads", 0), r.get("roofline_voxels_per_s_2_threads", 0)) or None
        rows = [[row["method"], row["execution"], f"{row['seconds']:.1f}", f"{row['voxels_per_s'] / 1e3:.0f}",
                 f"{100 * row['voxels_per_s'] / roof:.0f} %" if roof and row["method"] != "cubic" else "-"]
                for row in report["throughput"]]
        print("\n" + markdown_table(["method", "execution", "seconds", "kvoxel/s", "% of conv roofline"], rows,
                                     align="llrrr"))
    if "fault" in report:
        print(f"\nfault: {json.dumps(report['fault'], indent=1)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("child")
    run.add_argument("input")
    run.add_argument("output")
    run.add_argument("--method", default="cubic")
    run.add_argument("--model", default=None)
    run.add_argument("--block", type=int, default=128)
    run.add_argument("--workers", type=int, default=None)
    run.add_argument("--processes", action="store_true")
    run.add_argument("--scheduler", default=None)
    run.add_argument("--in-memory", action="store_true")
    run.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--parts", default="memory,roofline,throughput,fault")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/isovox-blockwise"))
    parser.add_argument("--json", type=Path, default=result_path("blockwise"))
    args = parser.parse_args()
    if args.command == "child":
        return child(args)
    args.scratch.mkdir(parents=True, exist_ok=True)
    paths = prepare(args.scratch)
    parts = args.parts.split(",")
    report = read_json(args.json, default={})
    report.update({"machine": machine_info(),
                   "data": "FlyEM 250^3 at 10 nm, x4 along z (63 x 250 x 250 at 40 x 10 x 10 nm)"})
    parts_run = {"memory": lambda: memory(paths, args.scratch), "roofline": lambda: roofline(paths["model"]),
                 "throughput": lambda: throughput(paths, args.scratch), "fault": lambda: fault(paths, args.scratch)}
    for name, run_part in parts_run.items():
        if name in parts:
            report[name] = run_part()
            write_json(args.json, report)                                      # keep what is done
    print_tables(report)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
