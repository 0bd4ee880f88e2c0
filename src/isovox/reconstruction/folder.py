"""Opening a model folder for reconstruction: which kind of model it holds, and that kind's object.

:func:`open_model` reads the card first (a damaged or foreign folder fails before any network is
built), picks the :class:`~.model.ReconstructionModel` subclass the card calls for
(:func:`model_kind`), builds the network on the device and returns the opened model, ready to
apply to any number of volumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import IsovoxError
from .model import KINDS, ReconstructionModel

def model_kind(card: Any) -> str:
    """'arbitrary-scale', '3d' or '2d': which reconstruction a model folder's card calls for."""
    from ..models import list_models, model_info

    if card.method == "arbitrary-scale":
        return "arbitrary-scale"
    name = card.architecture.get("name")
    return "3d" if name in list_models() and model_info(name).family == "3d" else "2d"


def model_class(kind: str) -> type[ReconstructionModel]:
    """The :class:`~.model.ReconstructionModel` subclass of a kind (imported on demand: torch
    loads here)."""
    if kind == "2d":
        from .slicewise import SliceModel
        return SliceModel
    if kind == "3d":
        from .volumetric import VolumeModel
        return VolumeModel
    if kind == "arbitrary-scale":
        from .arbitrary import ArbitraryScaleModel
        return ArbitraryScaleModel
    raise IsovoxError(f"unknown reconstruction kind {kind!r}; one of {', '.join(KINDS)}")


def open_model(folder: str | Path, device: Any = "auto") -> ReconstructionModel:
    """The model folder ``folder`` opened for reconstruction on ``device`` (see module docstring)."""
    from ..device import resolve_device
    from ..store import load_model, read_card

    card = read_card(folder)                     # a bad card fails before the network is built
    cls = model_class(model_kind(card))
    network, card = load_model(folder, device=resolve_device(device))
    return cls(network, card, folder)
