"""A no-reference sharpness measure: normalised gradient energy per plane family.

Why this one: paper 004 shows its GAN output "sharper" by eye (Fig. 1, 7); a number that needs
no ground truth lets a user check the same on real data. The gradient energy (Tenengrad family)
is the standard focus measure of microscopy autofocus; dividing by the intensity variance makes
it independent of contrast and offset, so an output that only rescales intensities scores the
same. Definition, for the planes of one family (e.g. 'yz', the planes holding y and z):

    sharpness = mean over voxels of |grad_2D I|^2  /  variance of I,

with ``grad_2D`` the central differences along the plane's two axes (numpy.gradient, voxel
units), both averages over the border-cropped volume (and over ``mask`` if given). Blur lowers it,
noise raises it as well: compare it between reconstructions of one volume, next to PSNR/SSIM,
never alone.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import IsovoxError
from ..volume import PLANE_AXES, Volume
from .metrics import DEFAULT_BORDER


def sharpness(volume: Volume | np.ndarray, planes: Sequence[str] | str = ("xy", "xz", "yz"), *,
              border: int = DEFAULT_BORDER, mask: Any = None) -> dict[str, float]:
    """``{family: normalised gradient energy}`` of ``volume`` (see the module docstring)."""
    data = np.asarray(volume.data if isinstance(volume, Volume) else volume, dtype=np.float32)
    if data.ndim != 3:
        raise IsovoxError(f"sharpness needs a 3D volume, got shape {data.shape}")
    families = (planes,) if isinstance(planes, str) else tuple(planes)
    unknown = [f for f in families if f not in PLANE_AXES]
    if unknown:
        raise IsovoxError(f"unknown plane family {unknown[0]!r}; choose from {', '.join(PLANE_AXES)}")
    crop = tuple(slice(border, n - border) for n in data.shape)
    if any(n <= 2 * border + 2 for n in data.shape):
        raise IsovoxError(f"volume {data.shape} is too small for a border of {border}")
    keep = np.ones(data.shape, bool) if mask is None else np.asarray(getattr(mask, "data", mask), bool)
    keep = keep[crop]
    if not keep.any():
        raise IsovoxError("the mask leaves no voxel to score")
    values = data[crop][keep]
    variance = float(values.var())
    if variance == 0:
        raise IsovoxError("a constant volume has no sharpness")
    gradients = dict(zip(range(3), np.gradient(data)))
    result = {}
    for family in families:
        in_plane = [a for a in range(3) if a != PLANE_AXES[family]]
        energy = sum(gradients[a][crop][keep].astype(np.float64) ** 2 for a in in_plane)
        result[family] = float(energy.mean() / variance)
    return result
