"""A model folder's 2D network as one self-contained TorchScript module.

Exporters hand the network to software that knows nothing of isovox (deepImageJ, bioimageio.core,
plain ``torch.jit.load``), so the exported module must compute exactly what isovox computes on
the same plane. Two facts shape how it is built:

* **Tracing, not scripting.** The networks of :mod:`isovox.models` are written for eager
  PyTorch (properties returning module constants, tuple unpacking of shapes), which
  ``torch.jit.script`` rejects; ``torch.jit.trace`` records them as they run.
* **Padding outside the trace.** A trace records the branches that ran for its example plane.
  Windowed and pooling networks (``a2i``, ``isonet2``) pad a plane up to their size multiple
  (:func:`isovox.models.layers.pad_to_multiple`); traced on a plane that needed padding, they
  would pad every plane by that same amount. So the network is traced on a plane that needs
  none, and a small scripted wrapper calls the same ``pad_to_multiple`` before it and crops
  after it, for any plane size, as the eager network does.

:func:`traced_network` checks the result against the eager network on a plane of awkward size
before returning it: an architecture with some other shape-dependent branch is refused rather
than exported wrong.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import nn

from ..errors import IsovoxError
from ..intensity import Normalisation
from ..models.layers import pad_to_multiple
from ..reconstruction.tiling import predict_planes, size_multiple
from ..store import ModelCard

#: What the exporters support, for the one-line refusal of everything else.
SUPPORTED = "2D slice-wise models (pre-upsampled planes, e.g. selfsup, paired2d or degradation-learning)"

#: Largest difference allowed between the exported module and the eager network (float32
#: planes of normalised intensities; the two run the same kernels, so they agree far closer).
EXPORT_ATOL = 1e-5

# A plane no network pads the same way as its example: odd rows and columns, not square.
_CHECK_PLANE = (37, 45)


@dataclass(frozen=True)
class ExportableModel:
    """A model folder ready to export: its network (eval mode, CPU), card and intensity scaling."""

    network: nn.Module
    card: ModelCard
    normalisation: Normalisation

    @property
    def size_multiple(self) -> int:
        """Plane sizes the network handles without padding (1 for plain convolutional nets)."""
        return size_multiple(self.network)

    def predict(self, normalised_planes: np.ndarray) -> np.ndarray:
        """isovox's own prediction of (N, H, W) normalised planes: the slice-wise code path."""
        return predict_planes(self.network, normalised_planes, device="cpu", precision="fp32",
                              batch_size=max(1, len(normalised_planes)))

    def predict_raw(self, plane: np.ndarray) -> np.ndarray:
        """isovox's prediction of one (H, W) plane of raw intensities, in raw intensities
        (float32, not cast or clipped): normalise, predict, invert, as reconstruction does."""
        return self.normalisation.invert(self.predict(self.normalisation.apply(plane)[None])[0])


def intensity_range(card: ModelCard) -> Normalisation:
    """The card's intensity scaling, ``(value - low) / (high - low)``: the one place the exporters
    read it (a card of any isovox version: a plain ``{'low', 'high'}`` or a Normalisation)."""
    return Normalisation.from_dict(card.normalisation)


def open_exportable(folder: str | Path) -> ExportableModel:
    """Open a model folder as reconstruction does, and refuse, in one line, what the exporters
    do not support."""
    from ..reconstruction import open_model

    model = open_model(folder, device="cpu")       # refuses a 2D network that up-samples rows itself
    card = model.card
    if model.kind != "2d":
        raise IsovoxError(f"{folder} holds a {model.kind} model ({card.method}, {card.architecture.get('name')}); "
                          f"export supports {SUPPORTED} only")
    return ExportableModel(model.network.eval(), card, intensity_range(card))


class _PaddedPlanes(nn.Module):
    """Pads planes to the network's size multiple, runs the traced network, crops the result."""

    def __init__(self, traced: torch.jit.ScriptModule, multiple: int):
        super().__init__()
        self.traced = traced
        self.multiple = multiple

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        padded, (rows, cols) = pad_to_multiple(planes, self.multiple)
        return self.traced(padded)[..., :rows, :cols]


def traced_network(model: ExportableModel) -> torch.jit.ScriptModule:
    """The network as TorchScript: (N, 1, H, W) float32 normalised planes in, same shape out.

    Raises :class:`IsovoxError` if the module does not reproduce the eager network within
    :data:`EXPORT_ATOL` on a plane of another size than the one traced.
    """
    multiple = model.size_multiple
    side = multiple * max(1, -(-32 // multiple))         # >= 32 pixels, no padding needed
    example = torch.rand(1, 1, side, side, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        # torch marks jit as deprecated (see :func:`save_torchscript`); the tracer's warnings
        # about shape-dependent branches are what the wrapper and the check below take care of.
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model.network, example, check_trace=False)
        module = torch.jit.script(_PaddedPlanes(traced, multiple))
    _check_against_eager(model, module)
    return module


def _check_against_eager(model: ExportableModel, module: torch.jit.ScriptModule) -> None:
    planes = torch.rand(2, *_CHECK_PLANE, generator=torch.Generator().manual_seed(1)).numpy()
    expected = model.predict(planes)
    with torch.inference_mode():
        exported = module(torch.from_numpy(planes)[:, None])[:, 0].numpy()
    difference = float(np.abs(exported - expected).max())
    if not difference <= EXPORT_ATOL:
        raise IsovoxError(f"the traced {model.card.architecture.get('name')} network differs from isovox's by "
                          f"{difference:.2g} on a {_CHECK_PLANE[0]}x{_CHECK_PLANE[1]} plane; this "
                          "architecture cannot be exported faithfully")


def save_torchscript(module: torch.jit.ScriptModule, target: str | Path | BinaryIO) -> None:
    """``torch.jit.save``, quietly: torch marks jit as deprecated in favour of torch.export, whose
    .pt2 files no model zoo consumer reads yet, while TorchScript is what they all run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(module, target if hasattr(target, "write") else str(target))


def export_torchscript(folder: str | Path, output: str | Path, *, overwrite: bool = False) -> Path:
    """Write the model folder's network to ``output`` as a TorchScript file; returns its path.

    The file maps (N, 1, H, W) float32 planes, normalised with the card's ``low``/``high`` and
    cubic-interpolated along the rows (the low-resolution axis), to the network's prediction in
    the same normalised units: exactly what slice-wise reconstruction feeds and receives. It
    loads with ``torch.jit.load`` alone, without isovox.
    """
    from ..io.atomic import atomic_output, check_output

    output = check_output(Path(output), overwrite=overwrite, inputs=[folder])    # before any work
    module = traced_network(open_exportable(folder))
    with atomic_output(output, suffix=output.suffix, overwrite=overwrite) as scratch:
        save_torchscript(module, scratch)
    return output
