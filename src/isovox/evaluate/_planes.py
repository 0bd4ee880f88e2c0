"""Per-plane error sums and SSIM for a stack of 2D planes, computed for the whole stack at once.

The stack is a float64 array ``(n_planes, rows, cols)``. SSIM follows scikit-image's
``structural_similarity`` defaults exactly: a 7 x 7 uniform window, K1 = 0.01, K2 = 0.03, sample
covariance (``N / (N - 1)``), and the mean taken over the map with a
3-voxel strip cropped from every edge of the plane. The window never crosses planes, so each
plane is scored on its own, exactly as if the planes were passed to skimage one at a time, but
with whole-stack numpy operations instead of a Python loop over planes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

WIN_SIZE = 7
K1, K2 = 0.01, 0.03
PAD = (WIN_SIZE - 1) // 2
# Sample covariance over the window, as skimage's default use_sample_covariance=True.
_NP = WIN_SIZE ** 2
COV_NORM = _NP / (_NP - 1)


@dataclass
class PlaneSums:
    """Per-plane sums for one chunk; metrics are derived once all chunks are in."""

    sse: np.ndarray         # sum of squared errors over counted voxels
    count: np.ndarray       # number of counted voxels
    ssim_sum: np.ndarray    # sum of the SSIM map over counted voxels, edge strip left out
    ssim_count: np.ndarray  # number of those voxels

    @staticmethod
    def concatenate(parts: list["PlaneSums"]) -> "PlaneSums":
        return PlaneSums(*(np.concatenate([getattr(p, name) for p in parts])
                           for name in ("sse", "count", "ssim_sum", "ssim_count")))


def box_mean_valid(values: np.ndarray) -> np.ndarray:
    """Mean over every full 7 x 7 in-plane window: ``(n, rows, cols) -> (n, rows - 6, cols - 6)``.

    skimage filters the whole plane and then drops a ``PAD`` strip from the SSIM map, so only
    windows lying fully inside the plane are ever used; keeping just those (contiguous) makes the
    arithmetic that follows cheaper. The filter is the very one skimage calls, so the values are
    identical. (Cumulative sums or shifted adds that compute only the valid windows were measured
    slower than scipy's running-sum filter.)
    """
    full = uniform_filter(values, size=(1, WIN_SIZE, WIN_SIZE))
    return np.ascontiguousarray(full[:, PAD:values.shape[1] - PAD, PAD:values.shape[2] - PAD])


def ssim_map_interior(x: np.ndarray, y: np.ndarray, data_range: float) -> np.ndarray:
    """SSIM map of every plane of ``x`` vs ``y``, cropped by ``PAD`` in-plane like skimage.

    ``x``, ``y``: float64 stacks ``(n, rows, cols)``, ``rows, cols >= 7``. Returns
    ``(n, rows - 6, cols - 6)``.
    """
    work = np.empty_like(x)  # one scratch buffer reused for the products
    ux, uy = box_mean_valid(x), box_mean_valid(y)
    uxx = box_mean_valid(np.multiply(x, x, out=work))
    uyy = box_mean_valid(np.multiply(y, y, out=work))
    uxy = box_mean_valid(np.multiply(x, y, out=work))
    del work
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    # Same expressions as skimage, so the two agree to rounding; in place to limit temporaries.
    vx = _centred_moment(uxx, ux, ux)
    vy = _centred_moment(uyy, uy, uy)
    vxy = _centred_moment(uxy, ux, uy)
    a1 = 2 * ux * uy + c1
    a2 = np.multiply(vxy, 2, out=vxy)
    a2 += c2
    b1 = np.multiply(ux, ux, out=ux)
    b1 += uy * uy
    b1 += c1
    b2 = np.add(vx, vy, out=vx)
    b2 += c2
    a1 *= a2
    b1 *= b2
    return np.divide(a1, b1, out=a1)


def _centred_moment(second: np.ndarray, first_a: np.ndarray, first_b: np.ndarray) -> np.ndarray:
    """``COV_NORM * (E[ab] - E[a] E[b])``, written into ``second``."""
    second -= first_a * first_b
    second *= COV_NORM
    return second


def plane_sums(x: np.ndarray, y: np.ndarray, data_range: float,
               mask: np.ndarray | None = None) -> PlaneSums:
    """Per-plane sums of squared error and SSIM for stacks ``x`` (reference) and ``y`` (test).

    With a boolean ``mask`` of the same shape, only masked voxels count, both in the squared
    error and in the average of the SSIM map (the map itself still uses the full 7 x 7 window).
    """
    diff = np.subtract(x, y)
    diff *= diff
    ssim = ssim_map_interior(x, y, data_range)
    if mask is None:
        n_plane = x.shape[1] * x.shape[2]
        n_inner = ssim.shape[1] * ssim.shape[2]
        return PlaneSums(sse=diff.sum(axis=(1, 2)), count=np.full(len(x), n_plane),
                         ssim_sum=ssim.sum(axis=(1, 2)), ssim_count=np.full(len(x), n_inner))
    inner_mask = mask[:, PAD:mask.shape[1] - PAD, PAD:mask.shape[2] - PAD]
    diff[~mask] = 0
    ssim[~inner_mask] = 0
    return PlaneSums(sse=diff.sum(axis=(1, 2)), count=mask.sum(axis=(1, 2)),
                     ssim_sum=ssim.sum(axis=(1, 2)), ssim_count=inner_mask.sum(axis=(1, 2)))
