"""A model folder opened for reconstruction: one object per kind, one way to open it.

:func:`.folder.open_model` reads a model folder (:mod:`isovox.store`), picks the reconstruction
kind its card calls for and returns a :class:`ReconstructionModel`:

* :class:`~.slicewise.SliceModel`: a 2D network run over the axial planes of the
  cubic-interpolated volume (paper 001, Fig. 2 D);
* :class:`~.volumetric.VolumeModel`: a 3D network run over patches of it (paper 004, sec. 4.1);
* :class:`~.arbitrary.ArbitraryScaleModel`: a Meta-Upscale network run over the acquired axial
  planes, for any factor (paper 002).

Each answers the three questions every reconstruction asks (in memory, block by block, from the
CLI or a napari widget): which :class:`~.grid.Grid` a volume gets (checked against the card),
how far an output voxel reaches into the input (:class:`Reach`, for blocks and tiles), and the
reconstruction itself. The steps all kinds share live here, once: normalise with the card's
:class:`~isovox.intensity.Normalisation`, predict (the kind's own step), invert the
normalisation, cast to the output dtype, put the acquired slices back when asked.

A model is opened once and applied to many volumes (or blocks)::

    model = open_model("runs/fib25")
    for volume in volumes:
        result = model.reconstruct(volume)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from ..errors import IsovoxError
from ..resample import KERNELS, cast_to_dtype
from ..units import conversion_factor
from ..volume import Volume, check_finite, input_positions, output_dtype, resampling_factor
from .ensemble import Reconstruction
from .grid import Grid, check_output_fits
from .precision import DEFAULT_PRECISION, check_precision

KINDS = ("2d", "3d", "arbitrary-scale")
FACTOR_RTOL = 1e-3             # a volume's factor may differ from the card's by this much (relative)
#: input samples the cubic kernel reads on each side of an output position
CUBIC_RADIUS = int(np.ceil(KERNELS["cubic"][1]))


@dataclass(frozen=True)
class RunOptions:
    """How a network runs over a volume (the model options of :func:`isovox.reconstruct`).

    ``tile``: 2D models: tile core of each plane (None: whole planes); 3D models: patch core
    (None: chosen by size, 0: the whole volume); arbitrary scale: output tile of each plane.
    ``tta`` (2D): average the four mirrored variants of every plane. ``precision``: 'fp32',
    'bf16' or 'auto' (:mod:`.precision`). ``keep_acquired``: write the acquired slices back.
    """

    batch_size: int | None = None
    tile: int | Sequence[int] | None = None
    keep_acquired: bool = False
    tta: bool = False
    precision: str = DEFAULT_PRECISION
    progress: bool = True

    def __post_init__(self) -> None:
        check_precision(self.precision)


@dataclass(frozen=True)
class Reach:
    """How far an output voxel depends on the input, for cutting a volume into blocks exactly.

    ``halo``: per axis, in output voxels of the cubic-interpolated grid (2D and 3D networks) or in
    acquired pixels (arbitrary scale, lateral axes); ``kernel_radius``: input samples read around
    an output position along a resampled axis; ``multiple``: the grid a windowed or pooling
    network needs its input aligned to (1: any).
    """

    halo: tuple[int, int, int]
    kernel_radius: int
    multiple: int = 1


@dataclass
class Prediction:
    """A kind's network output on the grid, in the network's normalised range: the mean over
    plane families and variants, and its uncertainty when asked (float32 each, :mod:`.ensemble`)."""

    mean: np.ndarray
    spread: np.ndarray | None = None


class ReconstructionModel:
    """A model folder's network, ready to reconstruct volumes (see the module docstring).

    Subclasses set :attr:`kind` and implement :meth:`grid`, :meth:`reach` and :meth:`_predict`.
    """

    kind: ClassVar[str]
    #: whether mirrored variants (TTA) and their spread apply to this kind
    supports_tta: ClassVar[bool] = False
    #: bytes per output voxel the in-memory run holds (input, accumulators), for the memory check
    bytes_per_voxel: ClassVar[float] = 16

    def __init__(self, network: Any, card: Any, folder: str | Path | None = None) -> None:
        self.network, self.card = network, card
        self.folder = None if folder is None else Path(folder)
        self.normalisation = card.normalisation

    def __repr__(self) -> str:
        name = self.card.architecture.get("name", "?")
        return f"<{type(self).__name__} {name} x{self.card.factor:g} from {self.folder}>"

    @property
    def device(self) -> Any:
        """The torch device the network's parameters are on."""
        from ..device import model_device

        return model_device(self.network)

    def to(self, device: Any) -> "ReconstructionModel":
        """Move the network to ``device`` ('auto', 'cpu', 'cuda[:N]' or a torch device)."""
        from ..device import resolve_device

        self.network.to(resolve_device(device))
        return self

    # --- what each kind answers ---------------------------------------------------------------------

    def grid(self, volume: Volume, target_spacing: float | Sequence[float] | None = None,
             axis: int | str | None = None) -> Grid:
        """The grid of ``volume``'s reconstruction by this model (raises if the card forbids it)."""
        raise NotImplementedError

    def reach(self, grid: Grid) -> Reach:
        """How far an output voxel of ``grid`` reaches into the input (measured once per architecture)."""
        raise NotImplementedError

    def _predict(self, normalised: np.ndarray, volume: Volume, grid: Grid, options: RunOptions,
                 spread: bool) -> Prediction:
        """The kind's own step: the network over the normalised acquired data."""
        raise NotImplementedError

    @classmethod
    def check_options(cls, options: RunOptions, uncertainty: bool = False) -> None:
        """Refuse options this kind does not have, before any work."""
        if not cls.supports_tta and (options.tta or uncertainty):
            raise IsovoxError(f"test-time augmentation and uncertainty apply to slice-wise 2D models; this "
                              f"model folder holds a {cls.kind} model")

    # --- the shared run ------------------------------------------------------------------------------

    def reconstruct(self, volume: Volume, target_spacing: float | Sequence[float] | None = None,
                    axis: int | str | None = None, dtype: str | np.dtype | None = None, *,
                    grid: Grid | None = None, **options: Any) -> Volume:
        """``volume`` reconstructed by this model; ``options`` are those of :class:`RunOptions`.
        ``grid`` (from :meth:`grid`) skips recomputing it, e.g. for the blocks of one volume."""
        return self.run(volume, grid or self.grid(volume, target_spacing, axis), dtype,
                        RunOptions(**options)).volume

    def reconstruct_with_uncertainty(self, volume: Volume, target_spacing: float | Sequence[float] | None = None,
                                     axis: int | str | None = None, dtype: str | np.dtype | None = None, *,
                                     grid: Grid | None = None, **options: Any) -> Reconstruction:
        """:meth:`reconstruct` with TTA, and the per-voxel uncertainty (the spread of the variants,
        plus the misfit to the acquired sections: :mod:`.ensemble`)."""
        if not options.pop("tta", True):
            raise IsovoxError("the uncertainty is the spread of the TTA variants; it cannot be had with tta=False")
        return self.run(volume, grid or self.grid(volume, target_spacing, axis), dtype,
                        RunOptions(tta=True, **options), uncertainty=True)

    def run(self, volume: Volume, grid: Grid, dtype: str | np.dtype | None, options: RunOptions,
            uncertainty: bool = False) -> Reconstruction:
        """Normalise, predict, invert, cast, put the acquired slices back: every kind's run."""
        self.check_options(options, uncertainty)
        if options.keep_acquired and len(grid.refined) != 1:
            raise IsovoxError("keep_acquired applies to one-axis models only: a model restoring "
                              f"{len(grid.refined)} axes together has no acquired slices to put back")
        out_dtype = output_dtype(dtype, volume.dtype)
        acquired = volume.numpy()
        check_finite(acquired, "input volume")
        if self.device.type == "cpu":
            from ..runtime import tune_cpu_allocator

            tune_cpu_allocator()
        prediction = self._predict(self.normalisation.apply(acquired), volume, grid, options, uncertainty)
        data = cast_to_dtype(self.normalisation.invert(prediction.mean), out_dtype)
        deviation = prediction.spread
        del prediction
        if deviation is not None:       # in the output's intensity unit
            deviation *= np.float32(self.normalisation.scale)
        if options.keep_acquired:
            put_back_acquired(data, deviation, acquired, grid)
        return Reconstruction(grid.place(volume, data), None if deviation is None else grid.place(volume, deviation))

    def check_fits(self, volume: Volume, grid: Grid, uncertainty: bool = False) -> None:
        """Refuse up front an in-memory run whose arrays cannot fit (:func:`.grid.check_output_fits`)."""
        check_output_fits(volume, grid, self.bytes_per_voxel + (4 if uncertainty else 0))


def check_factor(card: Any, spacing: float, target: float, unit: str, axis_name: str | None = None) -> None:
    """Refuse a spacing ratio other than the card's factor: a fixed-factor network knows only that one."""
    factor = resampling_factor(spacing, target)
    if abs(factor - card.factor) > FACTOR_RTOL * card.factor:
        along = f" along {axis_name}" if axis_name else ""
        raise IsovoxError(
            f"model folder was trained for factor {card.factor:g} ({card.lowres_spacing:g} -> "
            f"{card.target_spacing:g} {card.unit}) but this volume needs {factor:g}{along} ({spacing:g} -> "
            f"{target:g} {unit}); retrain for this volume or give a target spacing of "
            f"{spacing / card.factor:g} {unit}")


def card_target(card: Any, volume: Volume, target_spacing: float | None) -> float:
    """The target spacing in the volume's unit: as given, else the card's."""
    if target_spacing is not None:
        return float(target_spacing)
    return card.target_spacing * conversion_factor(card.unit, volume.unit)


def acquired_indices(n_in: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(input index k, output index k * factor) of the acquired slices that lie on the output grid."""
    positions = np.arange(n_in) * factor
    on_grid = np.abs(positions - np.rint(positions)) < 1e-6 * max(1.0, factor)
    outputs = np.rint(positions[on_grid]).astype(np.int64)
    n_out = len(input_positions(n_in, factor))
    keep = outputs < n_out
    return np.flatnonzero(on_grid)[keep], outputs[keep]


def put_back_acquired(data: np.ndarray, deviation: np.ndarray | None, acquired: np.ndarray, grid: Grid) -> None:
    """The acquired slices that lie on the output grid along ``grid.axis``, written back exactly
    (their spread: 0)."""
    k_in, k_out = acquired_indices(acquired.shape[grid.axis], grid.factor)
    put, take = [slice(None)] * 3, [slice(None)] * 3
    put[grid.axis], take[grid.axis] = k_out, k_in
    data[tuple(put)] = cast_to_dtype(acquired[tuple(take)], data.dtype)
    if deviation is not None:
        deviation[tuple(put)] = 0
