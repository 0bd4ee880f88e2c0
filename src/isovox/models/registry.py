"""Model registry: one name per network, a small CPU default and named presets.

Every network of the zoo registers itself with :func:`register_model`, whatever its job (see
*Roles* below); callers build any of them with :func:`create_model`, the one way to build a
network in isovox::

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

Roles (:attr:`ModelInfo.role`): what a network is for. Only reconstruction networks have an input
convention; :func:`list_models` lists them unless asked for another role, because they are what
``train`` and ``reconstruct`` accept as an architecture.

``"reconstruction"``
    Low-resolution plane or volume -> the same at the target resolution (the conventions above).
``"degradation"``
    Sharp plane -> the plane the acquisition would give (G_hl of paper 000's CycleGAN).
``"critic"``
    Image -> realism score(s) for adversarial training (one per sample or one per patch).
``"vae"``
    Variational auto-encoder of slices; its forward reconstructs the input (paper 003, stage I).
``"feature-extractor"``
    Image -> feature maps, for a perceptual loss (VGG19).

Each entry also declares :attr:`ModelInfo.input_size`, the shape of one sample (channels first,
without the batch) that its ``"default"`` build accepts, as timm's ``default_cfg['input_size']``
does; the generic tests (``tests/models/test_every_model.py``) feed it to every network. The
family's odd-sized default (:data:`DEFAULT_INPUT_SIZES`) serves most entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from torch import nn

__all__ = [
    "FAMILIES",
    "ROLES",
    "RECONSTRUCTION",
    "DEGRADATION",
    "CRITIC",
    "VAE",
    "FEATURE_EXTRACTOR",
    "DEFAULT_INPUT_SIZES",
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

RECONSTRUCTION = "reconstruction"
DEGRADATION = "degradation"
CRITIC = "critic"
VAE = "vae"
FEATURE_EXTRACTOR = "feature-extractor"
ROLES = (RECONSTRUCTION, DEGRADATION, CRITIC, VAE, FEATURE_EXTRACTOR)

#: One sample per family: odd sizes, a multiple of no window or pooling size, small enough for a CPU.
DEFAULT_INPUT_SIZES = {"2d": (1, 37, 45), "3d": (1, 9, 11, 7)}


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one model (returned by :func:`model_info`)."""

    name: str
    family: str
    role: str
    conventions: tuple[str, ...]
    presets: Mapping[str, Mapping[str, Any]]
    input_size: tuple[int, ...]
    paper: str
    summary: str
    builder: Callable[..., nn.Module] = field(repr=False, compare=False)

    @property
    def convention(self) -> str | None:
        """The convention of the default build (``scale=1`` where a model has a scale); ``None``
        for a network that is not a reconstruction network."""
        return self.conventions[0] if self.conventions else None


_REGISTRY: dict[str, ModelInfo] = {}


def _checked_conventions(role: str, conventions: tuple[str, ...] | None) -> tuple[str, ...]:
    """Reconstruction networks need at least one known convention; other roles have none."""
    if role != RECONSTRUCTION:
        if conventions:
            raise ValueError(f"only reconstruction networks have conventions; a {role} has none")
        return ()
    conventions = (PREUPSAMPLED,) if conventions is None else tuple(conventions)
    if not conventions or any(c not in CONVENTIONS for c in conventions):
        raise ValueError(f"conventions must be a non-empty subset of {CONVENTIONS}, got {conventions!r}")
    return conventions


def register_model(
    name: str,
    *,
    family: str,
    role: str = RECONSTRUCTION,
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    conventions: tuple[str, ...] | None = None,
    input_size: tuple[int, ...] | None = None,
    paper: str = "",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class (or factory) decorator adding a network under ``name``.

    ``presets`` maps preset names to constructor keywords; ``"default"`` is implicit (``{}``) and
    may not be redefined, so the default is always the constructor's own defaults, by house rule
    the smallest size. ``conventions`` (reconstruction networks only) defaults to
    ``("preupsampled",)``; ``input_size`` (one sample, channels first) to the family's entry of
    :data:`DEFAULT_INPUT_SIZES`.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    conventions = _checked_conventions(role, conventions)
    input_size = tuple(DEFAULT_INPUT_SIZES[family] if input_size is None else input_size)
    if len(input_size) != len(DEFAULT_INPUT_SIZES[family]):
        raise ValueError(f"input_size of a {family} network is (C, {'D, ' if family == '3d' else ''}H, W), "
                         f"got {input_size!r}")
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
            role=role,
            conventions=conventions,
            presets=MappingProxyType(table),
            input_size=input_size,
            paper=paper,
            summary=doc[0] if doc else "",
            builder=builder,
        )
        return builder

    return decorator


def list_models(family: str | None = None, role: str | None = RECONSTRUCTION) -> list[str]:
    """Registered network names, sorted; ``family`` ('2d' or '3d') and ``role`` filter.

    By default the reconstruction networks only (the architectures ``train`` and ``reconstruct``
    accept); ``role=None`` lists every network, critics and the rest included.
    """
    return sorted(n for n, i in _REGISTRY.items()
                  if (family is None or i.family == family) and (role is None or i.role == role))


def model_info(name: str) -> ModelInfo:
    """Registry entry of ``name``; ``ValueError`` listing the known names if unknown."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(list_models(role=None))
        raise ValueError(f"unknown model {name!r}; registered models: {known}") from None


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
