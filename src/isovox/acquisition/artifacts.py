"""Cheap measurements of what else the acquisition did: noise, section flicker, misalignment.

Stacks are float32 ``(sections, u, v)`` with the low-resolution axis first (see
:mod:`isovox.acquisition.profile_fit`); ``valid`` marks the sections that hold data.
"""

from __future__ import annotations

import numpy as np

# Median absolute deviation -> standard deviation for a Gaussian.
MAD_TO_STD = 1.4826
MAX_REGISTRATION_SIDE = 256     # central crop used to register neighbouring sections


def noise_std(planes: np.ndarray) -> float:
    """Standard deviation of white noise in the lateral planes, in intensity units.

    The diagonal Haar detail ``(a - b - c + d) / 2`` of each 2 x 2 block has the noise's
    standard deviation for white noise and almost no signal away from edges; its median absolute
    deviation ignores the edges (Donoho and Johnstone's wavelet estimator). Noise correlated
    between neighbouring pixels is under-estimated.
    """
    u, v = (planes.shape[1] // 2) * 2, (planes.shape[2] // 2) * 2
    blocks = planes[:, :u, :v]
    detail = (blocks[:, 0::2, 0::2] - blocks[:, 0::2, 1::2] - blocks[:, 1::2, 0::2] + blocks[:, 1::2, 1::2]) / 2
    return float(MAD_TO_STD * np.median(np.abs(detail - np.median(detail))))


def flicker(stack: np.ndarray, valid: np.ndarray, data_range: float) -> dict:
    """Section-to-section variation of brightness and contrast.

    ``offset``: standard deviation of a section's mean intensity about its neighbours', as a
    fraction of the data range; ``contrast``: the same for the log of a section's standard
    deviation (0.05 = 5 % contrast changes). Both come from differences of consecutive valid
    sections divided by sqrt(2) (independent changes per section), so slow trends do not count;
    tissue that changes between sections counts too, so read them as upper bounds.
    """
    means = stack.mean(axis=(1, 2))[valid]
    spreads = stack.std(axis=(1, 2))[valid]
    if len(means) < 3:
        return {"offset": 0.0, "contrast": 0.0}
    offset = float(np.std(np.diff(means)) / np.sqrt(2) / data_range)
    contrast = float(np.std(np.diff(np.log(np.maximum(spreads, 1e-12)))) / np.sqrt(2))
    return {"offset": offset, "contrast": contrast}


def _centre_crop(planes: np.ndarray, side: int) -> np.ndarray:
    u0 = max(0, (planes.shape[-2] - side) // 2)
    v0 = max(0, (planes.shape[-1] - side) // 2)
    return planes[..., u0:u0 + side, v0:v0 + side]


def _subpixel_peak(surface: np.ndarray) -> np.ndarray:
    """(N, U, V) correlation surfaces -> (N, 2) peak positions as signed shifts, refined by a
    three-point parabola along each axis (wrapping around the edges)."""
    n, rows, cols = surface.shape
    flat = surface.reshape(n, -1).argmax(axis=1)
    peak = np.stack([flat // cols, flat % cols], axis=1)
    shifts = np.empty((n, 2))
    index = np.arange(n)
    for dim, size in enumerate((rows, cols)):
        around = [peak.copy() for _ in range(3)]
        around[0][:, dim] = (peak[:, dim] - 1) % size
        around[2][:, dim] = (peak[:, dim] + 1) % size
        left, centre, right = (surface[index, a[:, 0], a[:, 1]] for a in around)
        curvature = left - 2 * centre + right
        step = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1), 0.0)
        position = peak[:, dim] + np.clip(step, -0.5, 0.5)
        shifts[:, dim] = (position + size / 2) % size - size / 2
    return shifts


def misalignment(stack: np.ndarray, valid: np.ndarray, lateral: tuple[float, float]) -> dict:
    """In-plane shifts between neighbouring valid sections by phase correlation (central crop,
    sub-pixel parabola), in the volume's unit: ``{'median', 'max'}`` of their lengths.

    Sections of real tissue also differ in content, which moves the peak a little: shifts well
    below a lateral pixel mean aligned sections.
    """
    pairs = np.flatnonzero(valid[:-1] & valid[1:])
    if not len(pairs):
        return {"median": 0.0, "max": 0.0}
    crop = _centre_crop(stack, MAX_REGISTRATION_SIDE)
    crop = crop - crop.mean(axis=(1, 2), keepdims=True)
    spectra = np.fft.rfft2(crop)
    cross = spectra[pairs] * np.conj(spectra[pairs + 1])
    cross /= np.maximum(np.abs(cross), 1e-12)
    surface = np.fft.irfft2(cross, s=crop.shape[1:])
    lengths = np.hypot(*(_subpixel_peak(surface) * np.asarray(lateral)).T)
    return {"median": float(np.median(lengths)), "max": float(np.max(lengths))}
