"""The example plane an exported package carries as its test input.

A model zoo package ships one input the network was run on and the output it gave, so anyone can
check the package reproduces isovox. The plane is what a user of the package must feed: raw
intensities on the target grid, i.e. an axial plane (rows = the low-resolution axis) of the
volume after cubic interpolation along that axis. It comes from a volume the user gives, when
there is one (:func:`volume_plane`), else it is made up (:func:`synthetic_plane`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import IsovoxError
from ..intensity import Normalisation
from ..resample import resample
from ..store import ModelCard
from ..volume import PLANE_AXES, Volume, check_finite, planes_containing

#: Side of the example plane before rounding up to the network's size multiple: large enough
#: to show structure in a cover image, small enough to keep the package light.
PLANE_SIDE = 64


def plane_side(size_multiple: int) -> int:
    """The example plane's side: :data:`PLANE_SIDE` rounded up to the network's size multiple."""
    return size_multiple * max(1, -(-PLANE_SIDE // size_multiple))


def synthetic_plane(side: int, normalisation: Normalisation, seed: int = 0) -> np.ndarray:
    """A smooth random texture of ``side`` x ``side`` float32 pixels inside the card's intensity
    range (10 % margins), for when no volume is given."""
    noise = np.random.default_rng(seed).standard_normal((side, side))
    texture = ndimage.gaussian_filter(noise, sigma=2.0)
    texture = (texture - texture.min()) / max(float(np.ptp(texture)), 1e-12)
    return (normalisation.low + normalisation.scale * (0.1 + 0.8 * texture)).astype(np.float32)


def volume_plane(volume: Volume, card: ModelCard, side: int) -> np.ndarray:
    """The central ``side`` x ``side`` window of the middle axial plane of ``volume``, cubic-
    interpolated along the low-resolution axis onto the card's target grid (float32, raw
    intensities): the plane isovox's slice-wise reconstruction feeds the network, before
    normalisation. Raises if the volume does not suit the card or is smaller than ``side``."""
    from ..reconstruction.slicewise import check_card

    grid = check_card(volume, card)
    lowres = grid.axis
    stacked = PLANE_AXES[planes_containing(lowres)[0]]
    columns = 3 - stacked - lowres
    if volume.shape[columns] < side:
        raise IsovoxError(f"the sample volume has {volume.shape[columns]} pixels along its lateral axis; "
                          f"the example plane needs {side}")
    start, stop = [0, 0, 0], list(volume.shape)
    start[stacked] = volume.shape[stacked] // 2
    stop[stacked] = start[stacked] + 1
    start[columns] = (volume.shape[columns] - side) // 2
    stop[columns] = start[columns] + side
    # Interpolation runs along the low-resolution axis only, so a one-plane slab interpolates
    # to exactly the values the whole volume would: no need to resample the volume.
    interpolated = resample(volume.crop(start, stop), grid.target, "cubic", dtype=np.float32).numpy()
    plane = np.moveaxis(interpolated, (stacked, lowres, columns), (0, 1, 2))[0]
    if plane.shape[0] < side:
        raise IsovoxError(f"the sample volume gives {plane.shape[0]} rows after interpolation; "
                          f"the example plane needs {side}")
    first_row = (plane.shape[0] - side) // 2
    plane = np.ascontiguousarray(plane[first_row:first_row + side])
    check_finite(plane, "sample plane")
    return plane
