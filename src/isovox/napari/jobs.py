"""What the widget asks for, and how it is done with isovox's public API (no napari, no Qt).

A :class:`Request` names one of three ways to an isotropic volume:

- an interpolation (``nearest``, ``linear``, ``cubic``, ``lanczos3``): :func:`isovox.reconstruct`;
- ``MODEL``: a trained model folder, applied by :func:`isovox.reconstruct` (or
  :func:`isovox.reconstruct_with_uncertainty` when the uncertainty is asked for);
- ``TRAIN``: train the default self-supervised recipe on the volume itself for a budget in
  minutes (as ``isovox run`` does, without its withheld-section check), then apply it.

:func:`perform` runs a request where it is called; :mod:`.background` calls it in a child process.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import IsovoxError
from ..resample import METHODS as INTERPOLATIONS
from ..volume import Volume

MODEL = "model"
TRAIN = "train"
METHODS = (*INTERPOLATIONS, MODEL, TRAIN)

# say(text, seconds): the stage now running and how long it is expected to take (None: unknown)
Say = Callable[[str, "float | None"], None]


@dataclass(frozen=True)
class Request:
    """One reconstruction: ``volume`` by ``method`` (a name of :data:`METHODS`).

    ``model_folder``: with ``MODEL`` the folder to apply; with ``TRAIN`` where the trained model
    is kept (None: a new folder in the system's temporary directory). ``minutes``: the training
    budget. ``uncertainty``: also compute the per-voxel spread of the network's predictions
    (``MODEL`` and ``TRAIN``; about four times the network time).
    """

    volume: Volume
    method: str
    model_folder: Path | None = None
    minutes: float = 5.0
    uncertainty: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise IsovoxError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.method == MODEL and self.model_folder is None:
            raise IsovoxError("choose the model folder to apply (a folder written by 'isovox train')")
        if self.method == TRAIN and not self.minutes > 0:
            raise IsovoxError(f"the training budget must be a positive number of minutes, got {self.minutes}")
        if self.uncertainty and self.method not in (MODEL, TRAIN):
            raise IsovoxError("the uncertainty comes from a trained network: choose a model folder or training")


@dataclass(frozen=True)
class Result:
    """The reconstructed volume, its uncertainty (or None) and the model folder used (or None)."""

    volume: Volume
    uncertainty: Volume | None = None
    model_folder: Path | None = None


def perform(request: Request, say: Say) -> Result:
    """Carry out ``request``, announcing each stage with ``say``."""
    from .. import reconstruct, reconstruct_with_uncertainty, train

    volume = request.volume
    if request.method in INTERPOLATIONS:
        say(f"{request.method} interpolation", None)
        return Result(reconstruct(volume, method=request.method))
    folder = request.model_folder
    if request.method == TRAIN:
        folder = folder or Path(tempfile.mkdtemp(prefix="isovox-napari-")) / "model"
        say(f"training for {request.minutes:g} min (model in {folder})", 60.0 * request.minutes)
        # a minutes budget alone: train until it runs out (iterations=None lifts the default count)
        folder = train(volume, folder, minutes=request.minutes, iterations=None)
    if request.uncertainty:
        say("reconstructing with the model, and its uncertainty", None)
        result, spread = reconstruct_with_uncertainty(volume, folder)
        return Result(result, spread, folder)
    say("reconstructing with the model", None)
    return Result(reconstruct(volume, model=folder), None, folder)


def describe_result(result: Result) -> str:
    """One line for the status: the output grid, and where the model is kept."""
    volume = result.volume
    spacing = " x ".join(f"{value:g}" for value in volume.spacing)
    text = f"done: {' x '.join(map(str, volume.shape))} voxels at {spacing} {volume.unit}"
    if result.uncertainty is not None:
        text += ", with its uncertainty"
    if result.model_folder is not None:
        text += f"; model in {result.model_folder}"
    return text
