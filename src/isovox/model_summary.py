"""A printable summary of a model folder (what ``isovox info MODEL_DIR`` shows).

Everything comes from the card (config.json), so folders written before training.json and
history.json existed are summarised too; the paths of those files are given where they exist, and
the last validation is read from history.json when there is one (the card's top-level entry is
the main loop's, which need not be the last: a GAN phase follows the L1 one).
:func:`model_summary` is the machine-readable form (``--json``), :func:`summary_lines` the
readable one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .jsontext import plain

__all__ = ["is_model_folder", "model_summary", "summary_lines"]

# isovox.store.CONFIG_NAME, spelled here so that telling a model folder from a volume (every
# `isovox info`) does not import torch with the store; a test keeps the two equal.
CARD_NAME = "config.json"

# Where a loop summary keeps its final losses: any of these marks an entry nested in a card's
# ``training`` (a GAN phase, a CycleGAN, a VAE stage) as a phase of its own.
_FINAL_LOSS_KEYS = ("final_terms", "final_losses", "final_loss")


def is_model_folder(path: str | Path) -> bool:
    """True for a folder holding a model card (it may still be damaged: :func:`read_card` says)."""
    path = Path(path)
    return path.is_dir() and (path / CARD_NAME).is_file()


def model_summary(folder: str | Path) -> dict:
    """The card of ``folder`` as plain JSON data, plus the paths of its history and config files."""
    from .store import HISTORY_NAME, HISTORY_PLOT_NAME, TRAINING_CONFIG_NAME, read_card, read_history

    folder = Path(folder)
    card = read_card(folder)
    training = card.training

    def path_of(name: str) -> str | None:
        return str(folder / name) if (folder / name).is_file() else None

    validation_psnr, input_psnr = _last_validation(read_history(folder), training)

    return plain({
        "model_folder": str(folder), "method": card.method, "architecture": card.architecture,
        "factor": card.factor, "lowres_spacing": card.lowres_spacing, "target_spacing": card.target_spacing,
        "unit": card.unit, "degradation": card.degradation, "normalisation": card.normalisation,
        "training": {
            "iterations": training.get("iterations"), "minutes": training.get("minutes"),
            "final_losses": _final_losses(training),
            "validation_psnr": validation_psnr, "input_psnr": input_psnr,
            "phases": {name: {"iterations": entry.get("iterations"), "minutes": entry.get("minutes"),
                              "final_losses": _final_losses(entry),
                              "validation_psnr": entry.get("final_validation_psnr")}
                       for name, entry in training.items() if _is_phase(entry)}},
        "history_plot": path_of(HISTORY_PLOT_NAME), "history": path_of(HISTORY_NAME),
        "training_config": path_of(TRAINING_CONFIG_NAME), "isovox_version": card.isovox_version})


def _last_validation(phases: list[dict], training: dict) -> tuple[float | None, float | None]:
    """(network, cubic input) PSNR of the last validation: from the history, else the card."""
    for phase in reversed(phases):
        rows = [row for row in phase.get("steps", []) if row.get("validation_psnr") is not None]
        if rows:
            return rows[-1]["validation_psnr"], rows[-1].get("input_psnr")
    return training.get("final_validation_psnr"), training.get("input_validation_psnr")


def _is_phase(entry: Any) -> bool:
    return isinstance(entry, dict) and "iterations" in entry and any(key in entry for key in _FINAL_LOSS_KEYS)


def _final_losses(training: dict) -> dict:
    """Each loss term's mean over the last iterations, as the card has them (older cards keep
    only the primary loss, ``final_loss``)."""
    for key in ("final_terms", "final_losses"):
        if isinstance(training.get(key), dict):
            return training[key]
    return {"loss": training["final_loss"]} if training.get("final_loss") is not None else {}


def summary_lines(summary: dict) -> list[str]:
    """``summary`` (:func:`model_summary`) as aligned 'name: value' lines."""
    arch = summary["architecture"]
    train = summary["training"]
    rows = [
        ("model folder", summary["model_folder"]),
        ("method", summary["method"]),
        ("architecture", f"{arch.get('name')} (preset {arch.get('preset', 'default')})"
                         + (f", {_pairs(arch['kwargs'])}" if arch.get("kwargs") else "")),
        ("factor", f"{summary['factor']:g}"),
        ("spacing", f"{summary['lowres_spacing']:g} -> {summary['target_spacing']:g} {summary['unit']} "
                    "along the low-resolution axis"),
        ("unit", summary["unit"]),
        ("degradation", _degradation(summary["degradation"])),
        ("normalisation", _pairs(summary["normalisation"])),
        ("iterations", _number(train["iterations"])),
        ("minutes", _number(train["minutes"], ".2f")),
        ("final losses", _pairs(train["final_losses"]) or "not recorded"),
        ("last validation PSNR", _psnr(train["validation_psnr"], train["input_psnr"])),
    ]
    for name, phase in train["phases"].items():
        rows.append((f"{name} phase", f"{_number(phase['iterations'])} iterations, "
                                      f"{_number(phase['minutes'], '.2f')} minutes"
                                      + (f", final losses {_pairs(phase['final_losses'])}"
                                         if phase["final_losses"] else "")
                                      + (f", validation PSNR {phase['validation_psnr']:.2f} dB"
                                         if phase["validation_psnr"] is not None else "")))
    rows += [("history", summary["history_plot"] or "none (folder written before isovox kept histories)"),
             ("training config", summary["training_config"] or "none (see the card's training entry)"),
             ("isovox version", summary["isovox_version"])]
    width = max(len(name) for name, _ in rows)
    return [f"{name:>{width}}: {value}" for name, value in rows]


def _number(value: Any, spec: str = "g") -> str:
    return "not recorded" if value is None else format(value, spec)


def _psnr(network: float | None, cubic: float | None) -> str:
    """The last validation PSNR against the cubic input's on the same planes."""
    if network is None:
        return "no validation"
    if cubic is None:
        return f"{network:.2f} dB"
    return f"{network:.2f} dB, cubic input {cubic:.2f} dB ({network - cubic:+.2f} dB)"


def _pairs(values: Any) -> str:
    """A flat dict as 'key value, key value'; numbers to 4 significant digits."""
    if not isinstance(values, dict):
        return str(values)
    return ", ".join(f"{key} {_short(value)}" for key, value in values.items())


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "/".join(_short(item) for item in value)
    return str(value)


def _degradation(record: dict) -> str:
    """The record's scalar entries and short lists (the full record is in config.json)."""
    text = _pairs({key: value for key, value in record.items() if _brief(value)}) or "not recorded"
    estimate = record.get("estimated_acquisition")
    if isinstance(estimate, dict) and estimate.get("estimated"):
        text += " (estimated from the volume)"
    return text


def _brief(value: Any) -> bool:
    """A value that fits a one-line summary: a scalar, or a list of up to 3 scalars."""
    if isinstance(value, list):
        return 0 < len(value) <= 3 and all(isinstance(item, (str, int, float)) for item in value)
    return isinstance(value, (str, int, float, bool))
