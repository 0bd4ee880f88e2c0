"""What every training recipe shares: the model, the work folder, the run, the model folder.

A recipe's config subclasses :class:`~isovox.training.settings.TrainSettings` (the loop's
settings) and adds its own fields. The model folder records the run in full: the card
(config.json), the config as trained (training.json, :func:`training_record`) and the history of
every loop the recipe ran (history.json and history.png, :mod:`isovox.training.history`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ...errors import IsovoxError
from ...jsontext import strict_json
from ...io.atomic import check_output
from ...models import create_model, list_models
from ...store import TRAINING_CONFIG_NAME, ModelCard, json_ready, save_model
from ..distributed import is_main
from ..history import history_files
from ..loop import fit
from ..settings import TrainSettings

WORKDIR_SUFFIX = ".isovox-train"
RUN_NAME = "run.json"
# Config fields that may change between an interrupted run and its resumption.
BUDGET_FIELDS = ("iterations", "minutes", "device", "amp", "validate_every", "checkpoint_every")
# Patch size and batch size when the config leaves them to the device (None).
DEVICE_SIZES = {"cpu": (64, 8), "cuda": (128, 16)}


def make_config(cls: type, config: Any, overrides: dict) -> Any:
    """``config`` (an instance of ``cls`` or None) with ``overrides`` applied, checked by name."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise IsovoxError(f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(names)}")
    base = cls() if config is None else config
    if not isinstance(base, cls):
        raise IsovoxError(f"config must be a {cls.__name__}, got {type(base).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name, value in overrides.items():
        _check_setting(name, value, str(fields[name].type))
    return dataclasses.replace(base, **overrides)


# Settings that count things or sizes: None means "the default", anything else must be >= 1.
_COUNTS = ("patch_size", "batch_size", "iterations", "validation_pairs")


def _check_setting(name: str, value: Any, annotation: str) -> None:
    """A setting whose type is a number must be one (``--set lr=notjson`` fails here, in one line)."""
    if value is None or "Any" in annotation:
        return
    kinds = annotation.replace(" ", "").split("|")
    if "bool" in kinds and isinstance(value, bool):
        return
    numeric = {"int", "float"} & set(kinds)
    if numeric and "str" not in kinds and not isinstance(value, (dict, list, tuple)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise IsovoxError(f"setting {name} needs a finite number, got {value!r}")
        if "float" not in kinds and not float(value).is_integer():
            raise IsovoxError(f"setting {name} needs a whole number, got {value!r}")
        if name in _COUNTS and value < 1:
            raise IsovoxError(f"setting {name} must be >= 1 (or left out for the default), got {value!r}")
        if name == "seed" and value < 0:
            raise IsovoxError(f"setting seed must be >= 0, got {value!r}")
        if name in ("lr", "minutes") and value <= 0:
            raise IsovoxError(f"setting {name} must be > 0, got {value!r}")
    elif kinds == ["str"] and not isinstance(value, str):
        raise IsovoxError(f"setting {name} needs text, got {value!r}")


def sizes(config: Any, device: torch.device) -> tuple[int, int]:
    """(patch_size, batch_size), filling None from :data:`DEVICE_SIZES`."""
    patch, batch = DEVICE_SIZES[device.type]
    return (int(patch if config.patch_size is None else config.patch_size),
            int(batch if config.batch_size is None else config.batch_size))


def split_arch(arch: str, preset: str = "default") -> tuple[str, str]:
    """``'mdcsrn-b4u4k12'`` -> ``('mdcsrn', 'b4u4k12')``: a preset may be spelled into the name."""
    if arch not in list_models() and "-" in arch:
        name, _, named_preset = arch.partition("-")
        if name in list_models():
            if preset not in ("default", named_preset):
                raise IsovoxError(f"architecture {arch!r} names preset {named_preset!r} but preset {preset!r} was given")
            return name, named_preset
    return arch, preset


def build_model(config: Any, family: str = "2d") -> torch.nn.Module:
    """A pre-upsampled network of ``family`` from the registry, initialised from ``config.seed``."""
    arch, preset = split_arch(config.arch, config.preset)
    if arch not in list_models(family):     # each recipe trains one family of networks
        raise IsovoxError(f"unknown {family.upper()} architecture {config.arch!r}; choose one of "
                          f"{', '.join(list_models(family))}")
    torch.manual_seed(config.seed)           # the same seed gives the same initial weights
    try:
        model = create_model(arch, preset=preset, **dict(config.model_kwargs))
    except (TypeError, ValueError) as error:
        raise IsovoxError(f"cannot build {config.arch!r}: {error}") from None
    if getattr(model, "convention", "preupsampled") != "preupsampled":
        raise IsovoxError(f"training feeds pre-upsampled input; build {config.arch!r} with scale=1")
    return model


def settings_from(config: TrainSettings, batch_size: int) -> TrainSettings:
    """The loop's settings of a recipe config (a :class:`TrainSettings` subclass): a checked copy
    of its :class:`TrainSettings` fields with the batch size the recipe draws."""
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(TrainSettings)}
    return TrainSettings(**{**values, "batch_size": batch_size}).check()


def default_workdir(output_dir: Path) -> Path:
    """The hidden sibling ``.NAME.isovox-train`` holding checkpoints of an unfinished run."""
    return output_dir.parent / f".{output_dir.name}{WORKDIR_SUFFIX}"


def record_run(workdir: Path, fingerprint: dict, resume: bool) -> None:
    """Refuse to resume a checkpoint made with other settings; record this run's settings."""
    record = workdir / RUN_NAME
    fingerprint = json.loads(json.dumps(json_ready(fingerprint)))
    if resume and record.is_file():
        previous = json.loads(record.read_text())
        changed = sorted(k for k in set(previous) | set(fingerprint) if previous.get(k) != fingerprint.get(k))
        if changed:
            raise IsovoxError(f"{workdir} holds an interrupted run with other settings (changed: "
                              f"{', '.join(changed)}); pass resume=False to start over")
    workdir.mkdir(parents=True, exist_ok=True)
    if not resume:
        (workdir / "checkpoint.pt").unlink(missing_ok=True)
    record.write_text(strict_json(fingerprint))


def run_training(model: torch.nn.Module, sample_batch: Callable, loss: Any, validation: Any,
                 settings: TrainSettings, workdir: Path, resume: bool, fingerprint: dict) -> dict:
    record_run(workdir, fingerprint, resume)
    return fit(model, sample_batch, loss, validation, settings, workdir, resume=resume)


def fingerprint_of(method: str, config: Any, volumes: list) -> dict:
    values = {k: v for k, v in dataclasses.asdict(config).items() if k not in BUDGET_FIELDS}
    values["method"] = method
    values["volumes"] = [[list(v.shape), list(v.spacing), v.unit] for v in volumes]
    return values


def training_summary(history: dict, config: Any, loss: Any, patch_size: int, batch_size: int) -> dict:
    """The model card's ``training`` entry."""
    losses = history["loss"][-50:]
    return json_ready({
        "iterations": history["iterations"], "minutes": history["elapsed_seconds"] / 60.0,
        "budget": {"iterations": config.iterations, "minutes": config.minutes},
        # validation PSNR (dB, peak 1 on normalised intensities) of the network and of its input,
        # the cubic interpolation of the degraded pairs
        "best_validation_psnr": history["best_psnr"], "best_iteration": history["best_iteration"],
        "final_validation_psnr": history["final_psnr"], "input_validation_psnr": history["input_psnr"],
        "validation": history["validation"], "final_loss": float(np.mean(losses)) if losses else None,
        "final_terms": {name: float(np.mean(values[-50:])) for name, values in history["terms"].items() if values},
        "runs": history["runs"], "seed": config.seed, "device": history["device"], "amp": history["amp"],
        "patch_size": patch_size, "batch_size": batch_size,
        "loss": loss.describe() if hasattr(loss, "describe") else str(loss), "settings": history["settings"]})


def training_record(method: str, config: Any) -> str:
    """``training.json``: the recipe's typed config exactly as trained (resolved defaults
    included), with its class, so that a folder tells how it was made."""
    kind = type(config)
    return strict_json({"format": 1, "method": method, "config_type": f"{kind.__module__}.{kind.__qualname__}",
                        "config": dataclasses.asdict(config)})


def save_trained(output_dir: Path, model: torch.nn.Module, card: ModelCard, workdir: Path, overwrite: bool, *,
                 config: Any, phases: list[dict], extra_files: dict[str, bytes] | None = None) -> Path:
    """Write the model folder, then remove the work folder (the run is complete).

    The folder holds the network, ``card``, ``training.json`` (``config``), ``history.json`` and
    ``history.png`` (``phases``: :func:`isovox.training.history.phase_record` of each loop run,
    in order) and ``extra_files``, all written at once. Under torchrun only rank 0 writes
    (:mod:`isovox.training.distributed`).
    """
    if not is_main():
        return output_dir
    files = {TRAINING_CONFIG_NAME: training_record(card.method, config).encode(), **history_files(phases),
             **(extra_files or {})}
    save_model(output_dir, model.cpu(), card, overwrite=overwrite, extra_files=files)
    shutil.rmtree(workdir, ignore_errors=True)
    return output_dir


def prepare_output(output_dir: str | Path, overwrite: bool, workdir: str | Path | None) -> tuple[Path, Path]:
    """Check the output before any work (existing folder without overwrite -> error)."""
    output_dir = check_output(Path(output_dir), overwrite=overwrite)
    return output_dir, Path(workdir) if workdir is not None else default_workdir(output_dir)

