"""The model folder: where training hands a network to reconstruction.

Training never talks to reconstruction directly; it writes a folder, reconstruction reads it::

    MODEL_DIR/
      config.json   ModelCard: architecture, factor, spacing, degradation, normalisation, version
      weights.pt    the network's state_dict (CPU tensors)
      training.json the recipe's full typed config, as trained (isovox.training.recipes.common)
      history.json  every logged iteration: losses, validation PSNR (isovox.training.history)
      history.png   the same as a figure

Only config.json and weights.pt are needed to load a model: folders written before the last
three existed still load. All files are written into a temporary folder that is renamed into
place, so a folder either holds a complete model or does not exist. Loading checks the card before building anything and
fails with a one-line message naming what is wrong (missing folder, not a model folder, unknown
architecture, weights that do not fit).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .errors import IsovoxError
from .intensity import Normalisation
from .jsontext import plain, strict_json
from .io.atomic import atomic_output

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.pt"
TRAINING_CONFIG_NAME = "training.json"
HISTORY_NAME = "history.json"
HISTORY_PLOT_NAME = "history.png"


@dataclass(frozen=True)
class ModelCard:
    """What a model folder says about its network (saved as config.json).

    ``factor`` is the spacing ratio along the low-resolution axis the network was trained for
    (``lowres_spacing / target_spacing``, a float). Intensities are normalised as
    ``(value - low) / (high - low)`` before the network and mapped back after it
    (:class:`isovox.intensity.Normalisation`; a card form ``{'low', 'high'}`` given here is
    turned into one).
    """

    method: str                                  # training recipe, e.g. 'selfsup'
    architecture: dict                           # model.build_config: name, preset, kwargs
    factor: float
    lowres_spacing: float
    target_spacing: float
    unit: str
    normalisation: Normalisation                 # saved as {'low', 'high'[, 'percentiles']}
    degradation: dict = field(default_factory=dict)   # how training pairs were made
    training: dict = field(default_factory=dict)      # iterations, minutes, losses, seed, device
    isovox_version: str = __version__

    def __post_init__(self) -> None:
        object.__setattr__(self, "normalisation", Normalisation.from_dict(self.normalisation))

    def to_json(self) -> str:
        return strict_json({**asdict(self), "normalisation": self.normalisation.to_dict()})

    @classmethod
    def from_dict(cls, values: dict) -> "ModelCard":
        known = {name: values[name] for name in cls.__dataclass_fields__ if name in values}
        missing = [name for name in ("method", "architecture", "factor", "lowres_spacing",
                                     "target_spacing", "unit", "normalisation") if name not in known]
        if missing:
            raise IsovoxError(f"model card lacks {', '.join(missing)}")
        _check_card_types(known)
        return cls(**known)


def _check_card_types(values: dict) -> None:
    """A hand-edited or damaged card fails here in one line, not deep inside reconstruction."""
    for name in ("factor", "lowres_spacing", "target_spacing"):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise IsovoxError(f"{name} must be a positive number, got {value!r}")
    for name in ("architecture", "degradation", "training"):
        if name in values and not isinstance(values[name], dict):
            raise IsovoxError(f"{name} must be a JSON object, got {type(values[name]).__name__}")
    if not isinstance(values["method"], str) or not isinstance(values["unit"], str):
        raise IsovoxError("method and unit must be text")
    Normalisation.from_dict(values["normalisation"])       # numbers, finite, high > low


def load_state(path: Path) -> dict:
    """A weights file's state dict (tensors only), or a one-line error for anything else."""
    try:
        with warnings.catch_warnings():      # torch warns about odd pickle protocols of random bytes
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:          # random bytes, a truncated zip, a pickle of other objects
        raise IsovoxError(f"{path} is not a readable weights file ({type(error).__name__}); the model "
                          "folder is damaged: restore it or train again") from None
    if not isinstance(state, dict):
        raise IsovoxError(f"{path} holds a {type(state).__name__}, not network weights")
    return state


def save_model(folder: str | Path, model: torch.nn.Module, card: ModelCard, *,
               overwrite: bool = False, extra_files: dict[str, bytes] | None = None) -> Path:
    """Write ``model`` and its card to ``folder`` atomically; returns the folder's path.

    ``extra_files`` (name -> bytes) go into the same folder, e.g. a learned degradation network.
    """
    folder = Path(folder)
    with atomic_output(folder, directory=True, overwrite=overwrite) as scratch:
        (scratch / CONFIG_NAME).write_text(card.to_json())
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save(state, scratch / WEIGHTS_NAME)
        for name, payload in (extra_files or {}).items():
            (scratch / name).write_bytes(payload)
    return folder


def read_card(folder: str | Path) -> ModelCard:
    """The card of a model folder, checked, without loading weights."""
    folder = Path(folder)
    if not folder.exists():
        raise IsovoxError(f"model folder not found: {folder}")
    config = folder / CONFIG_NAME
    if not folder.is_dir() or not config.is_file():
        raise IsovoxError(f"{folder} is not an isovox model folder (no {CONFIG_NAME})")
    try:
        values = json.loads(config.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IsovoxError(f"{config} is not valid JSON: {error}") from None
    try:
        return ModelCard.from_dict(values)
    except IsovoxError as error:
        raise IsovoxError(f"{config}: {error}") from None


def read_history(folder: str | Path) -> list[dict]:
    """The phases of a model folder's history.json (:mod:`isovox.training.history`); [] for a
    folder written before histories were kept."""
    path = Path(folder) / HISTORY_NAME
    if not path.is_file():
        return []
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IsovoxError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("phases"), list):
        raise IsovoxError(f"{path} is not an isovox training history (no list of phases)")
    return document["phases"]


def add_to_card(folder: str | Path, section: str, values: dict) -> ModelCard:
    """Record ``values`` under ``card.training[section]`` (e.g. the withheld-section check), by an
    atomic rewrite of config.json; returns the new card."""
    folder = Path(folder)
    card = read_card(folder)
    updated = ModelCard(**{**asdict(card), "training": {**card.training, section: plain(values)}})
    with atomic_output(folder / CONFIG_NAME, suffix=".json", overwrite=True) as scratch:
        scratch.write_text(updated.to_json())
    return updated


def build_from_card(card: ModelCard) -> torch.nn.Module:
    """An untrained network of the card's architecture."""
    from .models import create_model, list_models

    arch = card.architecture
    name = arch.get("name")
    if name not in list_models():
        raise IsovoxError(f"model folder names unknown architecture {name!r}; "
                          f"known: {', '.join(list_models())}")
    try:
        return create_model(name, **dict(arch.get("kwargs", {})))
    except (TypeError, ValueError) as error:
        raise IsovoxError(f"cannot build architecture {name!r} from the model folder: {error}") from None


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelCard]:
    """The trained network (in eval mode, on ``device``) and its card."""
    folder = Path(folder)
    card = read_card(folder)
    model = build_from_card(card)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise IsovoxError(f"model folder {folder} has no {WEIGHTS_NAME}")
    state = load_state(weights)
    try:
        model.load_state_dict(state)
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise IsovoxError(f"weights in {weights} do not fit architecture "
                          f"{card.architecture.get('name')!r}: {first_line}") from None
    return model.to(device).eval(), card


def describe_card(card: ModelCard) -> str:
    arch = card.architecture
    return (f"{card.method} model, {arch.get('name')} ({arch.get('preset', 'default')}), "
            f"factor {card.factor:g} ({card.lowres_spacing:g} -> {card.target_spacing:g} {card.unit})")


def json_ready(values: Any) -> Any:
    """Plain-JSON version of nested results (tuples to lists, numpy scalars to floats)."""
    return plain(values)
