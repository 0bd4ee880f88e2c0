"""What every benchmark script shares: paths, machine info, timing, saving, scoring, tables.

The scripts run as ``python benchmarks/NAME.py``, which puts this folder first on ``sys.path``, so
they ``import harness`` as a top-level module (``throughput_measure`` is imported the same way).

- Paths: the repository :data:`ROOT`, the shared data files (:data:`FLYEM`, :data:`COLIN27`, ...)
  and :func:`result_path` under :data:`RESULTS` (``benchmarks/results``; the environment variable
  ``ISOVOX_BENCH_RESULTS`` points it elsewhere, e.g. for a trial run that must not touch it).
- :func:`machine_info`: one record of where a number was measured, the same fields everywhere.
- :class:`Stopwatch`, :func:`timed`, :func:`best_seconds`: wall and CPU seconds, peak resident memory.
- :func:`save_result`, :func:`write_json`, :func:`write_text`, :func:`save_figure`: strict JSON
  (non-finite numbers become ``null``), text and figures written atomically, so an interrupted
  run never leaves half a results file.
- :func:`plane_scores`, :func:`section_scores`: PSNR / SSIM from :func:`isovox.evaluate.compare`
  as plain dicts, ready for JSON.
- :func:`markdown_table`, :func:`number`, :func:`psnr_ssim`: the tables the scripts print.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import resource
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from isovox.jsontext import strict_json

# isovox.io and isovox.evaluate (scipy, scikit-image: ~50 MB) are imported where they are used, so
# that a child process measuring its own peak memory (blockwise.py) does not carry them for nothing.

# --- paths ----------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FLYEM = DATA / "flyem_fibsem_sample2_250cube_10nm.tif"
FLYEM_LABELS = DATA / "flyem_fibsem_sample2_labels_250cube.tif"
COLIN27 = DATA / "colin27_t1_1mm.nii.gz"
ISBI_SSTEM = DATA / "isbi2012_sstem_30x512x512_4x4x50nm.tif"
RESULTS = Path(os.environ.get("ISOVOX_BENCH_RESULTS") or ROOT / "benchmarks" / "results")

#: The through-plane families of a volume whose low-resolution axis is z.
AXIAL = ("xz", "yz")


def result_path(name: str, suffix: str = ".json") -> Path:
    """``RESULTS/NAME.json`` (or another suffix, '.md'); NAME may hold a subfolder: 'selfsup/x4_cubic'."""
    return RESULTS / f"{name}{suffix}"


# --- where it ran ---------------------------------------------------------------------------------

def machine_info() -> dict:
    """Where and when a result was measured: one set of fields for every script.

    ``cores`` counts the logical CPUs, ``torch_threads`` the threads torch uses for its kernels,
    ``load_average_1min`` tells how busy a shared machine was, ``gpu`` is None without CUDA and
    ``commit`` is None outside a git checkout (with '+dirty' when tracked files differ from it).
    """
    import torch                       # here, not above: a child that never runs a network stays light

    import isovox

    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpu": cpu_model(), "architecture": platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "ram_gb": ram_gb(), "load_average_1min": load_average(),
            "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "isovox": isovox.__version__, "commit": git_commit(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def describe_machine(info: dict) -> str:
    """One line of :func:`machine_info` for a table's caption."""
    return (f"{info['gpu'] or 'no GPU'}; {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM; "
            f"torch {info['torch']}, {info['torch_threads']} threads")


def cpu_model() -> str:
    """The processor's model name (Linux /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gb() -> float | None:
    """Physical memory in GB (2**30 bytes), one decimal; None where the system does not say."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def git_commit() -> str | None:
    """The checkout's commit, '+dirty' when tracked files differ (the numbers depend on them)."""
    def git(*args: str) -> str:
        # --no-optional-locks: `status` may not refresh (write) the index others are using
        return subprocess.run(["git", "--no-optional-locks", "-C", str(ROOT), *args], capture_output=True,
                              text=True, check=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


# --- time and memory ------------------------------------------------------------------------------

_STATUS = Path("/proc/self/status")


def _status_bytes(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status in bytes, or None off Linux."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _lifetime_peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024      # kB on Linux


def resident_bytes() -> int:
    """The process's resident set now (``VmRSS``; the lifetime peak where /proc is missing)."""
    current = _status_bytes("VmRSS")
    return current if current is not None else _lifetime_peak_bytes()


def peak_resident_bytes() -> int:
    """The resident set's high-water mark: ``VmHWM``, which starts afresh at exec (``ru_maxrss``,
    the fallback, keeps the parent's mark across fork and exec on Linux)."""
    peak = _status_bytes("VmHWM")
    return peak if peak is not None else _lifetime_peak_bytes()


def reset_peak_resident() -> bool:
    """Reset ``VmHWM`` to the current resident set (Linux >= 4.0). True if it was reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds`` (wall), ``watch.cpu_seconds``
    (this process, every thread) and ``watch.peak_rss_mb`` (MiB).

    The peak is the process's resident high-water mark when the block ends; ``reset_peak=True``
    resets it when the block starts (where Linux allows), so it is the block's own peak.
    """

    def __init__(self, reset_peak: bool = False) -> None:
        self.reset_peak = reset_peak
        self.seconds = self.cpu_seconds = self.peak_rss_mb = 0.0

    def __enter__(self) -> "Stopwatch":
        if self.reset_peak:
            reset_peak_resident()
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu
        self.peak_rss_mb = peak_resident_bytes() / 2**20

    def as_dict(self) -> dict:
        return {"seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "peak_rss_mb": self.peak_rss_mb}


def timed(function: Callable, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(function(*args, **kwargs), wall seconds)``."""
    with Stopwatch() as watch:
        value = function(*args, **kwargs)
    return value, watch.seconds


def best_seconds(action: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``action`` (the least disturbed by other work), in seconds."""
    return min(timed(action)[1] for _ in range(repeats))


# --- saving ---------------------------------------------------------------------------------------

def write_json(path: str | Path, value: Any, indent: int | None = 2) -> Path:
    """Strict JSON of ``value`` into ``path`` (its folder made if needed), replacing it atomically."""
    return write_text(path, strict_json(value, indent=indent) + "\n")


def write_text(path: str | Path, text: str) -> Path:
    """``text`` into ``path`` (its folder made if needed), replacing it atomically."""
    from isovox import io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return io.write_text(path, text, overwrite=True)


def save_figure(figure: Any, path: str | Path, dpi: int = 110) -> Path:
    """A matplotlib figure into ``path`` (format from its suffix; folder made if needed), atomically."""
    from isovox.io.atomic import atomic_output

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, suffix=path.suffix, overwrite=True) as partial:
        figure.savefig(partial, dpi=dpi)
    print(f"wrote {path}")
    return path


def read_json(path: str | Path, default: Any = None) -> Any:
    """The JSON in ``path``, or ``default`` when there is no such file."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else default


def save_result(name: str, record: dict, echo: bool = False) -> Path:
    """``record`` stamped with ``machine`` (:func:`machine_info`) into ``result_path(name)``;
    ``echo`` prints what was written."""
    stamped = {**record, "machine": machine_info()}
    path = write_json(result_path(name), stamped)
    if echo:
        print(strict_json(stamped), flush=True)
    return path


# --- scores ---------------------------------------------------------------------------------------

def compare_plain(reference: Any, result: Any, planes: Sequence[str] = ("xy", "xz", "yz"), *,
                  mask: Any = None) -> dict:
    """:func:`isovox.evaluate.compare` (border 4) as plain JSON data without the per-plane arrays.

    Numbers are rounded as :func:`isovox.evaluate.to_json` writes them (6 significant digits); an
    infinite PSNR (every plane exact) is None.
    """
    from isovox.evaluate import compare, to_json

    return json.loads(to_json(compare(reference, result, planes=planes, mask=mask), per_plane=False))


def plane_scores(reference: Any, result: Any, planes: Sequence[str] = AXIAL, *, mask: Any = None,
                 metrics: Sequence[str] = ("psnr", "ssim"), mean: bool = False, volume: bool = False) -> dict:
    """``{plane: {metric: value}}`` picked from :func:`compare_plain`.

    ``mean`` adds ``'mean'``, each metric averaged over the planes; ``volume`` adds ``'volume'``,
    the metrics over all scored voxels at once.
    """
    values = compare_plain(reference, result, planes, mask=mask)
    table = {plane: {metric: values[plane][metric] for metric in metrics} for plane in planes}
    if mean:
        table["mean"] = {metric: mean_of(table[plane][metric] for plane in planes) for metric in metrics}
    if volume:
        table["volume"] = {metric: values["volume"][metric] for metric in metrics}
    return table


def section_scores(truth: Any, predicted: Any, data_range: float) -> list[dict]:
    """``[{'psnr', 'ssim'}]`` of each 2D section (axis 0) of ``predicted`` against ``truth``.

    :func:`isovox.evaluate.compare` on the 'xy' planes without a border: the same PSNR and SSIM as
    scikit-image on each section alone; an exact section has an infinite PSNR.
    """
    from isovox.evaluate import compare

    truth, predicted = np.asarray(truth, np.float64), np.asarray(predicted, np.float64)
    if truth.ndim == 2:
        truth, predicted = truth[None], predicted[None]
    planes = compare(truth, predicted, planes="xy", border=0, data_range=data_range)["xy"]["per_plane"]
    return [{"psnr": float(psnr), "ssim": float(ssim)} for psnr, ssim in zip(planes["psnr"], planes["ssim"])]


def mean_of(values: Iterable[float | None]) -> float | None:
    """The mean of the finite values (a missing or non-finite one is left out); None if none."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


# --- tables ---------------------------------------------------------------------------------------

def number(value: float | None, digits: int, signed: bool = False) -> str:
    """``value`` with ``digits`` decimals (a sign with ``signed``); '-' for a missing one."""
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def psnr_ssim(scores: dict | None, ssim_digits: int = 3) -> str:
    """'PSNR / SSIM' of one score dict (``{'psnr', 'ssim'}``), '-' for what is missing."""
    scores = scores or {}
    return f"{number(scores.get('psnr'), 2)} / {number(scores.get('ssim'), ssim_digits)}"


def markdown_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def markdown_table(header: Sequence[str], rows: Iterable[Iterable[Any]], align: str = "") -> str:
    """A Markdown table; ``align`` has one letter a column, 'l' or 'r' (right: numbers), default 'l'."""
    rule = "|" + "".join("---:|" if align[i:i + 1] == "r" else "---|" for i in range(len(header)))
    return "\n".join([markdown_row(header), rule, *(markdown_row(row) for row in rows)])
