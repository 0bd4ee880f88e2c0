"""Model registry: one name per architecture, a small CPU default and named presets.

Every network of the zoo registers itself with :func:`register_model`; callers build it with
:func:`create_model`::

    net = create_model("a2i")                      # small default, runs on a laptop CPU
    net = create_model("a2i", preset="paper")      # the size the paper describes
    net = create_model("edsr", preset="paper", scale=4)   # preset, then keyword overrides

A preset is a named set of constructor keywords; ``"default"`` always exists and means the
constructor's own defaults, which are kept small on purpose (a forward+backward pass on eight
64x64 patches well under a second on two CPU cores). Keywords given to :func:`create_model`
override the preset's. There is deliberately one spelling only (``preset=...``), not a second
``"a2i-paper"`` name, so a model name always means one architecture.

Input conventions (what the plane fed to the network looks like):

``"preupsampled"``
    The low-resolution plane was interpolated to the target grid beforehand; the network keeps
    the size and predicts a refinement (global residual). Handles non-integer factors, which is
    why isovox uses it by default for every model (A2I-3DEM, paper 001 section II-A).
``"one-axis-upsampling"``
    The network receives ``H_lr`` rows and returns ``H_lr * scale`` rows (columns unchanged),
    through a pixel-shuffle tail along the rows only (paper 000 section 3). Integer ``scale``.
``"arbitrary-scale"``
    The network receives the low-resolution plane and its forward takes the scale per axis,
    ``net(x, scale=(rows, cols))`` (a number: rows only), any float (Meta-SRGAN, paper 002).

The first convention in :attr:`ModelInfo.conventions` is the one the default build uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from torch import nn

__all__ = [
    "FAMILIES",
    "CONVENTIONS",
    "PREUPSAMPLED",
    "ONE_AXIS_UPSAMPLING",
    "ARBITRARY_SCALE",
    "ModelInfo",
    "register_model",
    "create_model",
    "list_models",
    "model_info",
]

PREUPSAMPLED = "preupsampled"
ONE_AXIS_UPSAMPLING = "one-axis-upsampling"
ARBITRARY_SCALE = "arbitrary-scale"
CONVENTIONS = (PREUPSAMPLED, ONE_AXIS_UPSAMPLING, ARBITRARY_SCALE)
FAMILIES = ("2d", "3d")


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one model (returned by :func:`model_info`)."""

    name: str
    family: str
    conventions: tuple[str, ...]
    presets: Mapping[str, Mapping[str, Any]]
    paper: str
    summary: str
    builder: Callable[..., nn.Module] = field(repr=False, compare=False)

    @property
    def convention(self) -> str:
        """The convention of the default build (``scale=1`` where a model has a scale)."""
        return self.conventions[0]


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    family: str,
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    conventions: tuple[str, ...] = (PREUPSAMPLED,),
    paper: str = "",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class (or factory) decorator adding a model under ``name``.

    ``presets`` maps preset names to constructor keywords; ``"default"`` is implicit (``{}``) and
    may not be redefined, so the default is always the constructor's own defaults.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    bad = [c for c in conventions if c not in CONVENTIONS]
    if not conventions or bad:
        raise ValueError(f"conventions must be a non-empty subset of {CONVENTIONS}, got {conventions!r}")
    presets = dict(presets or {})
    if "default" in presets:
        raise ValueError("preset 'default' is implicit (the constructor defaults); do not redefine it")

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        table = {"default": MappingProxyType({})}
        table.update({k: MappingProxyType(dict(v)) for k, v in presets.items()})
        doc = (builder.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelInfo(
            name=name,
            family=family,
            conventions=tuple(conventions),
            presets=MappingProxyType(table),
            paper=paper,
            summary=doc[0] if doc else "",
            builder=builder,
        )
        return builder

    return decorator


def list_models(family: str | None = None) -> list[str]:
    """Registered model names, sorted; ``family`` ('2d' or '3d') filters."""
    return sorted(n for n, i in _REGISTRY.items() if family is None or i.family == family)


def model_info(name: str) -> ModelInfo:
    """Registry entry of ``name``; ``ValueError`` listing the known names if unknown."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(list_models())}") from None


def create_model(name: str, *, preset: str = "default", **kwargs: Any) -> nn.Module:
    """Build model ``name`` from ``preset`` with ``kwargs`` overriding the preset's keywords.

    The returned module carries ``build_config`` (``{"name", "preset", "kwargs"}`` with the
    resolved keywords), enough to rebuild the same architecture, e.g. when loading a checkpoint:
    ``create_model(cfg["name"], **cfg["kwargs"])``.
    """
    info = model_info(name)
    if preset not in info.presets:
        raise ValueError(f"model {name!r} has no preset {preset!r}; presets: {', '.join(info.presets)}")
    resolved = {**info.presets[preset], **kwargs}
    model = info.builder(**resolved)
    model.build_config = {"name": name, "preset": preset, "kwargs": resolved}
    return model
