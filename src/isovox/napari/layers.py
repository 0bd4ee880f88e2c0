"""napari image layers and isovox Volumes: the one place where a layer's grid is read or written.

napari puts data index ``i`` at world position ``scale * i + translate`` (before any rotate,
shear or affine); isovox puts the centre of voxel ``i`` at ``origin + spacing * i``. So a
layer's ``scale`` is the spacing and its ``translate`` the origin. A reconstruction keeps voxel 0
where it was, so the result layer gets the output spacing as ``scale`` and the same
``translate``, and any extra transform of the source layer is carried over unchanged.

Nothing here imports napari: layers are read through their attributes, and results are returned
as napari's layer-data tuples ``(data, keyword arguments, "image")``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import IsovoxError
from ..units import canonical_unit, is_known_unit
from ..volume import Volume, lowres_axis


def layer_grid(layer: Any) -> tuple[tuple[float, ...], str | None]:
    """The spacing (the layer's ``scale``) and length unit of ``layer``.

    The unit is None where the layer does not say one: napari's default 'pixel', a unit that is
    not a length, or different units on different axes.
    """
    spacing = tuple(float(value) for value in layer.scale)
    names = {str(unit) for unit in getattr(layer, "units", ())}
    if len(names) != 1:
        return spacing, None
    name = names.pop()
    return spacing, canonical_unit(name) if is_known_unit(name) else None


def check_layer(layer: Any) -> None:
    """Refuse, with one line saying what to do, a layer isovox cannot reconstruct as it is."""
    name = layer.name
    if getattr(layer, "rgb", False):
        raise IsovoxError(f"layer {name!r} is an RGB image; isovox reconstructs one intensity channel: "
                          "split the colours first (right-click the layer > Split RGB)")
    if getattr(layer, "multiscale", False):
        raise IsovoxError(f"layer {name!r} is multiscale; open one resolution level as its own layer, or "
                          "reconstruct the file block by block ('isovox reconstruct --block-size')")
    if layer.ndim == 2:
        raise IsovoxError(f"layer {name!r} is a 2D image; isovox needs a 3D volume (z, y, x)")
    if layer.ndim != 3:
        raise IsovoxError(f"layer {name!r} has {layer.ndim} dimensions; isovox needs a 3D volume (z, y, x): "
                          "split its channels or time points into 3D layers first")


def volume_from_layer(layer: Any, spacing: Sequence[float], unit: str) -> Volume:
    """The Volume of a 3D image layer on the grid ``spacing`` (z, y, x) in ``unit``.

    ``spacing`` is what the widget shows (the layer's scale unless the user edited it); the
    origin is the layer's ``translate``. Raises :class:`IsovoxError` for a layer that is not a
    single 3D intensity volume, or whose spacing leaves nothing to reconstruct.
    """
    check_layer(layer)
    try:
        lowres_axis(spacing)
    except IsovoxError as error:
        raise IsovoxError(f"layer {layer.name!r}: {error} (set its spacing z, y, x in the widget)") from None
    return Volume(np.asarray(layer.data), spacing, unit, origin=tuple(float(t) for t in layer.translate))


def look_of(layer: Any) -> dict[str, Any]:
    """The colormap and contrast of ``layer``, for a result to look like its source."""
    return dict(colormap=layer.colormap.name, contrast_limits=list(layer.contrast_limits))


def extra_transform(layer: Any) -> dict[str, Any]:
    """The transform of ``layer`` beyond scale and translate (rotate, shear, affine): a result
    layer takes it unchanged, so that it lies where its source lies."""
    return dict(rotate=np.asarray(layer.rotate), shear=np.asarray(layer.shear), affine=layer.affine.affine_matrix)


def image_layer_data(volume: Volume, name: str, **properties: Any) -> tuple[np.ndarray, dict, str]:
    """``volume`` as a napari layer-data tuple: scale = spacing, translate = origin, the unit on
    every axis; ``properties`` are further layer keyword arguments (e.g. :func:`look_of`, :func:`extra_transform`)."""
    options = dict(name=name, scale=list(volume.spacing), translate=list(volume.origin), units=(volume.unit,) * 3,
                   metadata={"isovox": volume.describe()})
    options.update(properties)
    return volume.numpy(), options, "image"
