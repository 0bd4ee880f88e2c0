"""The training history a model folder keeps: ``history.json`` and its figure ``history.png``.

The loop (:mod:`.loop`) keeps every iteration's loss terms and logs an iteration every
:data:`~isovox.training.progress.LOG_EVERY` iterations, at every validation and at the end, with
the seconds spent by then (``history["log"]``). One row of ``history.json`` is one logged
iteration::

    {"iteration": 20, "elapsed_seconds": 3.1, "losses": {"loss": 0.041, "l1": 0.039, ...},
     "validation_psnr": 31.2, "input_psnr": 29.8}

Each loss term is the mean over the iterations since the previous row, so every iteration counts
and the curve is steadier than single iterations. The two PSNRs (dB, peak 1 on normalised
intensities) are there where validation ran: the network's on the held-out planes, and its
input's on the same planes, i.e. the cubic interpolation every recipe feeds its network; the
gap between them is what training bought. A recipe that runs the loop more than once (an L1
phase then a GAN phase, a CycleGAN then a backbone) gives one phase each, in training order::

    {"format": 1, "phases": [{"name": "training", "iterations": 1000, "steps": [row, ...], ...}]}

:func:`isovox.store.read_history` reads the phases back.
"""

from __future__ import annotations

import io
from typing import Any, Mapping, Sequence

import numpy as np

from ..jsontext import plain, strict_json
from ..store import HISTORY_NAME, HISTORY_PLOT_NAME

__all__ = ["FORMAT", "phase_record", "history_files", "history_figure"]

FORMAT = 1
# What a phase record copies from the loop's history besides its rows.
_PHASE_FIELDS = ("iterations", "elapsed_seconds", "stopped_by", "runs", "input_psnr", "best_psnr",
                 "best_iteration", "final_psnr", "device", "amp")


def phase_record(name: str, history: Mapping[str, Any]) -> dict:
    """One phase of ``history.json`` from what :func:`~isovox.training.loop.fit_networks` returned."""
    terms = history.get("terms", {})
    validation = {entry["iteration"]: entry["psnr"] for entry in history.get("validation", [])}
    rows, previous = [], 0
    for mark in history.get("log", []):
        iteration = mark["iteration"]
        # terms[name][k] is the loss of iteration k + 1: the window (previous, iteration]
        losses = {term: float(np.mean(values[previous:iteration])) if values[previous:iteration] else None
                  for term, values in terms.items()}
        row = {"iteration": iteration, "elapsed_seconds": mark["elapsed_seconds"], "losses": losses}
        if iteration in validation:
            row.update(validation_psnr=validation[iteration], input_psnr=history.get("input_psnr"))
        rows.append(row)
        previous = iteration
    return {"name": name, **{key: history.get(key) for key in _PHASE_FIELDS}, "steps": rows}


def history_files(phases: Sequence[dict]) -> dict[str, bytes]:
    """``history.json`` and ``history.png`` of ``phases`` (records of :func:`phase_record`), as
    bytes for :func:`isovox.store.save_model` to write with the rest of the folder."""
    phases = plain(list(phases))              # non-finite numbers (an exact PSNR) become None
    figure = history_figure(phases)
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    document = {"format": FORMAT, "phases": phases}
    return {HISTORY_NAME: strict_json(document).encode(), HISTORY_PLOT_NAME: png.getvalue()}


def history_figure(phases: Sequence[dict]) -> Any:
    """Loss terms (log scale) and, with validation, the network's PSNR against its input's (the
    cubic interpolation) over the iterations; phases follow one another along the x axis.

    A matplotlib Figure on the Agg canvas (no GUI backend, no pyplot state). Values that a log
    scale cannot show (a critic's negative loss) are left out of the loss panel.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    validated = any("validation_psnr" in row for phase in phases for row in phase["steps"])
    figure = Figure(figsize=(7.5, 6.0 if validated else 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2 if validated else 1, 1, sharex=True, squeeze=False)[:, 0]
    offsets = np.cumsum([0] + [phase["steps"][-1]["iteration"] if phase["steps"] else 0 for phase in phases])
    _draw_losses(axes[0], phases, offsets)
    if validated:
        _draw_psnr(axes[1], phases, offsets)
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
        if len(phases) > 1:
            for offset, phase in zip(offsets, phases):
                ax.axvline(offset, color="grey", linewidth=0.8, linestyle=":")
    if len(phases) > 1:
        for offset, phase in zip(offsets, phases):
            axes[0].annotate(phase["name"], (offset, 1.0), xycoords=("data", "axes fraction"),
                             xytext=(3, -3), textcoords="offset points", va="top", fontsize=8, color="grey")
    axes[-1].set_xlabel("iteration" if len(phases) < 2 else "iteration (phases one after another)")
    return figure


def _draw_losses(ax: Any, phases: Sequence[dict], offsets: np.ndarray) -> None:
    names = list(dict.fromkeys(term for phase in phases for row in phase["steps"] for term in row["losses"]))
    drawn, left_out = False, []
    for index, term in enumerate(names):
        xs: list[float] = []
        ys: list[float] = []
        for offset, phase in zip(offsets, phases):
            for row in phase["steps"]:
                value = row["losses"].get(term)
                xs.append(offset + row["iteration"])
                ys.append(value if value is not None and value > 0 else np.nan)
            xs.append(np.nan)                 # no line from one phase into the next
            ys.append(np.nan)
        if any(value is not None and value <= 0 for phase in phases for row in phase["steps"]
               for value in [row["losses"].get(term)]):
            left_out.append(term)
        if np.isfinite(ys).any():
            ax.plot(xs, ys, color=f"C{index % 10}", linewidth=1.2, label=term)
            drawn = True
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize=8, loc="upper right")
    else:
        ax.text(0.5, 0.5, "no positive loss values logged", transform=ax.transAxes, ha="center", color="grey")
    if left_out:
        ax.text(0.01, 0.02, f"values <= 0 not shown: {', '.join(left_out)}", transform=ax.transAxes,
                fontsize=7, color="grey")
    ax.set_ylabel("training loss")


def _draw_psnr(ax: Any, phases: Sequence[dict], offsets: np.ndarray) -> None:
    network_label, input_label = "network", "input (cubic interpolation)"
    ax.set_ylabel("validation PSNR (dB)")
    for offset, phase in zip(offsets, phases):
        rows = [row for row in phase["steps"] if row.get("validation_psnr") is not None]
        if not rows:
            continue
        ax.plot([offset + row["iteration"] for row in rows], [row["validation_psnr"] for row in rows],
                color="C0", marker="o", markersize=3, linewidth=1.2, label=network_label)
        cubic = [(offset + row["iteration"], row["input_psnr"]) for row in rows if row.get("input_psnr") is not None]
        if cubic:
            ax.plot(*zip(*cubic), color="C1", linestyle="--", linewidth=1.2, label=input_label)
            input_label = None                # one legend entry for all phases
        network_label = None
    if network_label is None:
        ax.margins(y=0.25)                    # room for the legend beside the two curves
        ax.legend(fontsize=8, loc="best")
