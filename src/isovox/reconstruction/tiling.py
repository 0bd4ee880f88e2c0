"""Run a 2D network over many planes, whole or in overlapping tiles, with the same result.

Paper 001 (sec. II, Fig. 2 D) feeds every interpolated axial plane to the trained network. A
plane of a large volume (thousands of pixels a side, a transformer's attention, a GPU's memory)
may not fit in one forward pass, so :func:`predict_planes` can cut it into tiles. Tiling is
*exact*: the stitched result equals whole-plane inference up to float rounding. Three choices make
that so:

* **Halo.** Each tile writes only its *core*; the network sees the core plus a margin (the halo)
  on every side. An output pixel depends on input pixels within the network's receptive field
  only, so with a halo at least that wide the zero padding at a tile's inner edges never reaches
  the core. :func:`receptive_halo` measures the receptive field once per architecture with a probe
  (the gradient of one output block with respect to a random input: every input pixel with a
  non-zero gradient is one the block depends on), on a copy of the network with freshly
  initialised weights, so trained or deliberately zeroed weights cannot hide a dependency.
  A ``halo`` argument overrides the probe.
* **Alignment.** Windowed and pooling networks (``a2i``: attention windows of ``window_size``
  pixels at every level, ``isonet2``: 2x2 pooling) are not translation-equivariant: their output
  depends on where the window grid falls. Core size and halo are rounded up to the network's size
  multiple (:func:`size_multiple`) and cores start at multiples of the core size, so every tile
  starts on the same window grid as the whole plane and a tile's inner edges need no padding.
* **Clipping.** Tiles are clipped at the plane's borders instead of padded, so a border tile sees
  exactly the border the whole plane has, and a network that pads internally (``a2i`` reflects up
  to its size multiple at the bottom/right) pads the border tile exactly as it pads the plane.

No blending ramp: with an adequate halo the overlapping predictions are identical, so averaging
them would cost time and change nothing; the core of each tile is written as is.

A network with global operations (``rcan``'s channel attention pools over the whole plane) has
an unbounded receptive field; tiling it is an approximation, and the probe warns.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..device import model_device, resolve_device
from ..errors import IsovoxError
from .precision import DEFAULT_PRECISION, network_precision

_HALO_CACHE: dict[str, int] = {}
_WHAT = "slice-wise reconstruction"
_PROBE_MAX_SIZE = 4096       # longest probe strip before the field is deemed unbounded


def size_multiple(model: nn.Module) -> int:
    """Alignment a tile needs for this network: its internal padding multiple, else 1.

    ``a2i`` exposes ``size_multiple`` (window_size * 2**(levels-1)); ``isonet2`` pools ``depth``
    times, so its grid is ``2**depth``; convolutional nets without pooling are shift-equivariant.
    """
    multiple = getattr(model, "size_multiple", None)
    if multiple is None and hasattr(model, "depth") and hasattr(model, "pool"):
        multiple = 2 ** int(model.depth)
    return max(1, int(multiple or 1))


def _round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def architecture_key(model: nn.Module) -> str | None:
    """What identifies a network's architecture (its class and build config), to cache what is
    measured once per architecture (receptive fields); None for a network without a build config."""
    config = getattr(model, "build_config", None)
    if config is None:
        return None
    return type(model).__name__ + json.dumps(config, sort_keys=True, default=str)


def probe_copy(model: nn.Module) -> nn.Module:
    """A float32 copy of ``model`` in eval mode with torch's default initialisation: generic
    weights, so trained or deliberately zeroed weights cannot hide a dependency from a probe.
    Call it outside inference mode (inference tensors cannot be differentiated)."""
    probe = copy.deepcopy(model).float().eval()
    for module in probe.modules():
        if module is not probe and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return probe


def receptive_halo(model: nn.Module) -> int:
    """Smallest halo (pixels, a multiple of :func:`size_multiple`) that makes tiling exact.

    Probe: a copy of ``model`` with re-initialised weights maps a random strip; the gradient of
    one aligned ``m x m`` output block in the strip's middle (``m`` = size multiple) with respect
    to the input marks every input pixel the block depends on, and the farthest one is the
    receptive radius. Rows and columns are probed with two strips, ``L x m`` and ``m x L``: a
    strip one block wide keeps the probe cheap (a square of a large transformer would need
    gigabytes) while every straight path along the strip remains. ``L`` leaves a margin of at
    least 64 pixels and 8 blocks and doubles while the dependency reaches the strip's ends, up to
    4096 pixels (then the field is taken as unbounded: a warning, and the largest margin probed
    is returned).
    Results are cached per architecture (``model.build_config``). Cost: one forward and
    backward pass over the two strips; well under a second for the CPU defaults, one to two minutes
    for ``a2i`` ``paper`` on two CPU cores (halo 640): pass ``halo=`` to skip the probe.
    """
    key = architecture_key(model)
    if key is not None and key in _HALO_CACHE:
        return _HALO_CACHE[key]
    m = size_multiple(model)
    # The probe needs autograd even when the caller runs under inference_mode or no_grad; its
    # copy must be made outside inference mode too (inference tensors cannot be differentiated).
    with torch.inference_mode(False), torch.enable_grad():
        probe = probe_copy(model)
        # Margin, in blocks of m, on each side of the probed block: at least 64 pixels and 8
        # blocks (a windowed U-net can reach several windows out), so one probe usually suffices.
        blocks = max(8, -(-64 // m))
        while True:
            radius = max(_probe_radius(probe, m, blocks, along_rows) for along_rows in (True, False))
            if radius < blocks * m or (2 * (2 * blocks) + 1) * m > _PROBE_MAX_SIZE:
                break
            blocks *= 2
    halo = _round_up(radius, m)
    if radius >= blocks * m:
        warnings.warn(f"{type(model).__name__} depends on the whole plane (receptive field beyond "
                      f"{blocks * m} pixels); tiled inference only approximates whole-plane inference",
                      stacklevel=2)
    if key is not None:
        _HALO_CACHE[key] = halo
    return halo


def _probe_radius(probe: nn.Module, m: int, blocks: int, along_rows: bool) -> int:
    """How far (pixels) the middle block of a ``(2 blocks + 1) m``-long strip reaches out."""
    length = (2 * blocks + 1) * m
    shape = (length, m) if along_rows else (m, length)
    generator = torch.Generator().manual_seed(0)
    device = model_device(probe)
    channels = int(getattr(probe, "in_channels", 1))
    lo, hi = blocks * m, (blocks + 1) * m
    with torch.enable_grad():
        x = torch.randn(1, channels, *shape, generator=generator).to(device).requires_grad_(True)
        y = probe(x)
        block = y[..., lo:hi, :] if along_rows else y[..., :, lo:hi]
        weights = torch.randn(block.shape, generator=generator).to(device)
        (grad,) = torch.autograd.grad((block * weights).sum(), x)   # parameters' .grad untouched
    support = (grad != 0).any(dim=1)[0].any(dim=1 if along_rows else 0)  # NaN != 0: a dependency
    index = torch.nonzero(support).flatten().cpu()
    return int(max(lo - index.min(), index.max() - (hi - 1), 0))


def tile_spans(length: int, core: int, halo: int) -> list[tuple[int, int, int, int]]:
    """(input start, input stop, core start, core stop) along one axis, clipped to the plane."""
    return [(max(0, c0 - halo), min(length, c0 + core + halo), c0, min(length, c0 + core))
            for c0 in range(0, length, core)]


def _tile_groups(shape: tuple[int, int], core: tuple[int, int], halo: int) -> dict:
    """Tiles grouped by input shape (so tiles of one shape batch together): shape -> tiles."""
    groups: dict[tuple[int, int], list] = {}
    for rows in tile_spans(shape[0], core[0], halo):
        for cols in tile_spans(shape[1], core[1], halo):
            key = (rows[1] - rows[0], cols[1] - cols[0])
            groups.setdefault(key, []).append((rows, cols))
    return groups


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def forward_same_size(model: nn.Module, batch: torch.Tensor, device: torch.device, what: str,
                      precision: str = DEFAULT_PRECISION) -> torch.Tensor:
    """(B, *S) float32 -> (B, *S) float32 on ``device`` through a one-channel network of the same
    output size (planes for 2D, patches for 3D), in ``precision`` (:mod:`.precision`). ``what``
    names the caller in the error for a network that changes the size."""
    x = batch.to(device, non_blocking=True).unsqueeze(1)
    if x.ndim == 4:                          # planes: the layout predict_planes gives the network
        x = x.contiguous(memory_format=torch.channels_last)
    with network_precision(precision, device):
        y = model(x)
    if y.shape != x.shape:
        raise IsovoxError(f"the network returned shape {tuple(y.shape)} for input {tuple(x.shape)}; "
                          f"{what} needs a same-size (pre-upsampled) network")
    return y[:, 0].float()


def predict_planes(model: nn.Module, planes: np.ndarray | torch.Tensor, *,
                   tile: int | Sequence[int] | None = None, halo: int | None = None,
                   batch_size: int = 8, device: str | torch.device | None = None,
                   precision: str = DEFAULT_PRECISION) -> np.ndarray | torch.Tensor:
    """The network applied to every plane of ``planes`` (N, H, W), whole or tiled.

    ``tile`` is the core size of a tile (one int, or (rows, cols)); None processes whole planes.
    It is rounded up to the network's size multiple. ``halo`` defaults to
    :func:`receptive_halo`. ``batch_size`` planes (or tiles of one shape) go through each forward
    pass, under ``torch.inference_mode``, in ``precision`` ('fp32', 'bf16' or 'auto': bf16 on
    CUDA, see :mod:`.precision`; the result is float32 either way). ``device`` defaults to the
    model's; another device moves the model there. The model is run in eval mode and its
    train/eval flag is restored afterwards.

    Returns float32 of the same kind as ``planes``: numpy in, numpy out; a tensor in, a tensor on
    the tensor's device out.
    """
    as_tensor = isinstance(planes, torch.Tensor)
    source = planes if as_tensor else torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))
    source = source.float()
    if source.ndim != 3:
        raise ValueError(f"planes must be (N, H, W), got shape {tuple(source.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = resolve_device(device) if device is not None else model_device(model)
    if model_device(model) != device:
        model.to(device)
    # Channels-last (NHWC) activations: oneDNN's fastest convolution layout on the CPU (measured
    # with the default drcnet on 249 x 250 planes, bf16: 25 % less time per plane). In place and
    # idempotent; the planes are converted as they enter the network (forward_same_size).
    model.to(memory_format=torch.channels_last)
    n, h, w = source.shape
    m = size_multiple(model)
    tiled = tile is not None
    if tiled:
        core = (tile, tile) if np.ndim(tile) == 0 else tuple(tile)
        if len(core) != 2 or min(core) < 1 or (halo is not None and halo < 0):
            raise IsovoxError(f"tile needs one or two positive sizes and halo >= 0, got tile {tile}, "
                              f"halo {halo}")
        core = (_round_up(int(core[0]), m), _round_up(int(core[1]), m))
        halo = receptive_halo(model) if halo is None else _round_up(int(halo), m)
        tiled = core[0] < h or core[1] < w       # a tile as large as the plane is the plane
    output = torch.empty((n, h, w), dtype=torch.float32, device=source.device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            if not tiled:
                for chunk in _chunks(n, batch_size):
                    output[chunk] = forward_same_size(model, source[chunk], device, _WHAT,
                                                      precision).to(output.device)
            else:
                for tiles in _tile_groups((h, w), core, halo).values():
                    _predict_tile_group(model, source, output, tiles, batch_size, device, precision)
    finally:
        model.train(was_training)
    return output if as_tensor else output.numpy()


def _predict_tile_group(model: nn.Module, source: torch.Tensor, output: torch.Tensor,
                        tiles: list, batch_size: int, device: torch.device, precision: str) -> None:
    """Tiles of one input shape, over all planes, ``batch_size`` (plane, tile) pairs at a time."""
    items = [(p, t) for t in tiles for p in range(source.shape[0])]
    for chunk in _chunks(len(items), batch_size):
        batch = torch.stack([source[p, r0:r1, c0:c1]
                             for p, ((r0, r1, _, _), (c0, c1, _, _)) in items[chunk]])
        result = forward_same_size(model, batch, device, _WHAT, precision).to(output.device)
        for k, (p, ((r0, _, k0, k1), (c0, _, j0, j1))) in enumerate(items[chunk]):
            output[p, k0:k1, j0:j1] = result[k, k0 - r0:k1 - r0, j0 - c0:j1 - c0]
