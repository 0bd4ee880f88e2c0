"""Memory of a running job, sampled in the background: resident set size of a process tree over
time, its summary at points of the job's progress, and a plot (used by ``gigavoxel.py``)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np

from harness import save_figure

#: Fractions of the blocks done at which memory is reported. Blocks run roughly z row by z row
#: (the plan's order), and the first and last rows hold the volume's edge blocks, whose regions
#: have other shapes. In the small trials memory stepped up when a new region shape came and
#: stayed flat while shapes repeated; 25 to 75 % covers interior rows only (at 1 Gvoxel, 8 rows of
#: 128-voxel blocks), where only a leak would make it grow.
PROGRESS_POINTS = (0.1, 0.25, 0.5, 0.75, 0.9)


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` and all its descendants (psutil, else /proc)."""
    try:
        import psutil
    except ImportError:
        return _proc_tree_rss(pid)
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:                 # ended between listing and reading
            pass
    return total


def _proc_tree_rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                    for c in (task / "children").read_text().split()]
    except OSError:
        return 0
    rss = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return rss + sum(_proc_tree_rss(c) for c in children)


class Sampler(threading.Thread):
    """Every ``interval`` s: seconds since start, resident MB of the child's tree, blocks done
    (markers in the blockwise work folder) and the plan's block count (from its run.json)."""

    def __init__(self, pid: int, output: Path, interval: float = 1.0) -> None:
        from isovox.blockwise.records import DONE_NAME, RUN_NAME, work_folder_of

        super().__init__(daemon=True)
        self.pid, self.interval, self.output = pid, interval, output
        self.done_folder = work_folder_of(output) / DONE_NAME
        self.run_record = work_folder_of(output) / RUN_NAME
        self.started = time.time()
        self.samples: list[dict] = []
        self.total_blocks: int | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.interval)

    def sample(self) -> None:
        if self.total_blocks is None and self.run_record.is_file():
            try:
                self.total_blocks = json.loads(self.run_record.read_text())["plan"]["blocks"]
            except (OSError, ValueError, KeyError):   # being written: read it next time
                pass
        if self.output.exists():                      # moved into place: only after every block's marker
            done = self.total_blocks or 0
        else:
            try:
                done = sum(1 for _ in os.scandir(self.done_folder))
            except OSError:                           # not made yet
                done = 0
        self.samples.append({"seconds": round(time.time() - self.started, 2),
                             "rss_mb": round(tree_rss_bytes(self.pid) / 2**20, 1), "blocks_done": done})


def memory_summary(samples: list[dict], total_blocks: int | None) -> dict:
    """Peak sampled MB, MB when 10 / 50 / 90 % of the blocks were first seen done, and when the
    last block was (None where the run was too short to be sampled there)."""
    at_progress, blocks_seconds = {}, None
    for point in PROGRESS_POINTS:
        reached = [s for s in samples if total_blocks and s["blocks_done"] >= point * total_blocks]
        at_progress[f"{round(100 * point)}%"] = reached[0]["rss_mb"] if reached else None
    finished = [s for s in samples if total_blocks and s["blocks_done"] >= total_blocks]
    if finished:
        blocks_seconds = finished[0]["seconds"]
    def growth(low: str, high: str) -> float | None:
        before, after = at_progress[low], at_progress[high]
        return None if before is None or after is None else round(after - before, 1)

    return {"peak_sampled_mb": max(s["rss_mb"] for s in samples), "rss_mb_at_blocks_done": at_progress,
            "growth_10_to_90_mb": growth("10%", "90%"), "growth_25_to_75_mb": growth("25%", "75%"),
            "blocks_done_at_seconds": blocks_seconds}


# --- equality with in-memory reconstruction on a crop ---------------------------------------------


def plot_memory(samples: dict, total_blocks: int | None, title: str, path: Path) -> None:
    """Resident memory and blocks done over time; ``samples``: the record's columns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = samples["seconds"]
    figure, memory_axis = plt.subplots(figsize=(7, 3.6))
    memory_axis.plot(seconds, samples["rss_mb"], color="tab:blue")
    memory_axis.set_xlabel("seconds since the process started")
    memory_axis.set_ylabel("resident memory (MB)", color="tab:blue")
    memory_axis.set_ylim(bottom=0)
    if total_blocks:
        done_axis = memory_axis.twinx()
        done_axis.plot(seconds, 100 * np.asarray(samples["blocks_done"]) / total_blocks, color="tab:orange")
        done_axis.set_ylabel("blocks done (%)", color="tab:orange")
        done_axis.set_ylim(0, 105)
    memory_axis.set_title(title, fontsize=9)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)
