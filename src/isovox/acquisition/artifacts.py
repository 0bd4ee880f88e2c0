"""Cheap measurements of what else the acquisition did: noise, section flicker, misalignment.

Stacks are float32 ``(sections, u, v)`` with the low-resolution axis first (see
:mod:`isovox.acquisition.profile_fit`); ``valid`` marks the sections that hold data.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage as ndi

# Median absolute deviation -> standard deviation for a Gaussian.
MAD_TO_STD = 1.4826
MAX_REGISTRATION_SIDE = 256     # central crop used to register neighbouring sections
REGISTRATION_BAND = 0.1         # cycles per pixel: the cross-power spectrum is weighted towards
                                # coarse structure, which persists from one section to the next
MAX_SHIFT_FRACTION = 0.125      # a shift above this fraction of the crop is a failed registration
DRIFT_SECTIONS = 5.0            # Gaussian sigma (sections) of the smooth drift that alignment keeps
TREND_SECTIONS = 5              # running-median window of the slow brightness / contrast trend


def noise_std(planes: np.ndarray) -> float:
    """Standard deviation of white noise in the lateral planes, in intensity units.

    The mixed fourth difference (the second difference along one in-plane axis of the second
    difference along the other, kernel ``[1, -2, 1]`` outer ``[1, -2, 1]``) multiplies white
    noise by 6 and leaves almost nothing of smooth signal; the median absolute deviation of the
    result ignores the sparse edges it does leave (Donoho and Johnstone's robust estimator,
    Immerkaer's operator). Perfectly flat neighbourhoods (an MRI's background) are left out.
    Noise correlated between neighbouring pixels is under-estimated.
    """
    second = planes[:, :-2] - 2 * planes[:, 1:-1] + planes[:, 2:]
    mixed = second[:, :, :-2] - 2 * second[:, :, 1:-1] + second[:, :, 2:]
    spread = ndi.maximum_filter(planes, size=(1, 3, 3)) - ndi.minimum_filter(planes, size=(1, 3, 3))
    mixed = mixed[spread[:, 1:-1, 1:-1] > 0]
    if not mixed.size:
        return 0.0
    return float(MAD_TO_STD * np.median(np.abs(mixed - np.median(mixed))) / 6.0)


def section_trend(stack: np.ndarray, valid: np.ndarray) -> dict:
    """Per valid section: ``mean`` and ``spread`` (standard deviation) and their slow trends
    (running medians over ``TREND_SECTIONS`` valid sections), whose ratios are the flicker."""
    means = stack[valid].mean(axis=(1, 2), dtype=np.float64)
    spreads = stack[valid].std(axis=(1, 2), dtype=np.float64)
    window = min(TREND_SECTIONS, len(means))
    return {"mean": means, "spread": spreads,
            "mean_trend": ndi.median_filter(means, window, mode="nearest"),
            "spread_trend": ndi.median_filter(spreads, window, mode="nearest")}


def flicker(trend: dict, data_range: float) -> dict:
    """Section-to-section brightness and contrast changes about the slow trend.

    ``offset``: standard deviation of the sections' mean intensity about its running median,
    as a fraction of the data range; ``contrast``: the same for the log of their standard
    deviation (0.05 = 5 % contrast changes). Tissue that changes between sections counts too,
    so read them as upper bounds.
    """
    offset = float(np.std(trend["mean"] - trend["mean_trend"]) / data_range)
    contrast = float(np.std(np.log(trend["spread"] / trend["spread_trend"])))
    return {"offset": offset, "contrast": contrast}


def deflicker(stack: np.ndarray, valid: np.ndarray, trend: dict) -> np.ndarray:
    """Give each valid section the mean and contrast of the slow trend (a copy): flicker adds
    power along the sections that no slice profile explains, and would read as thinner sections."""
    out = stack.copy()
    gains = trend["spread_trend"] / np.maximum(trend["spread"], 1e-12)
    sections = np.flatnonzero(valid)
    for section, mean, gain, mean_trend in zip(sections, trend["mean"], gains, trend["mean_trend"]):
        out[section] = (stack[section] - mean) * gain + mean_trend
    return out


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
        peaked = curvature < 0
        vertex = np.where(peaked, 0.5 * (left - right) / np.where(peaked, curvature, -1.0), 0.0)
        position = peak[:, dim] + np.clip(vertex, -0.5, 0.5)
        shifts[:, dim] = (position + size / 2) % size - size / 2
    return shifts


def _correlation(first: np.ndarray, second: np.ndarray) -> float:
    first, second = first - first.mean(), second - second.mean()
    norm = math.sqrt(float(np.sum(first * first)) * float(np.sum(second * second)))
    return float(np.sum(first * second)) / norm if norm > 0 else 0.0


def neighbour_shifts(stack: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """In-plane shift (pixels, (u, v)) that moves each valid section onto the previous valid one.

    Phase correlation of a central crop, weighted towards coarse structure (which persists from
    one section to the next where fine structure does not), with a sub-pixel parabola. A shift
    that does not raise the pair's correlation coefficient is a failed registration and is 0.
    """
    crop = _centre_crop(stack[valid], MAX_REGISTRATION_SIDE)
    crop = crop - crop.mean(axis=(1, 2), keepdims=True)
    spectra = np.fft.rfft2(crop)
    cross = spectra[:-1] * np.conj(spectra[1:])
    cross /= np.maximum(np.abs(cross), 1e-12)
    fu, fv = np.fft.fftfreq(crop.shape[1]), np.fft.rfftfreq(crop.shape[2])
    cross *= np.exp(-(fu[:, None] ** 2 + fv[None, :] ** 2) / (2 * REGISTRATION_BAND**2))
    shifts = _subpixel_peak(np.fft.irfft2(cross, s=crop.shape[1:]))
    for pair, shift in enumerate(np.rint(shifts).astype(int)):   # one check per pair of sections
        margin = int(np.abs(shift).max()) + 1
        if np.any(shift) and margin <= MAX_SHIFT_FRACTION * min(crop.shape[1:]):
            inner = (slice(margin, -margin),) * 2
            moved = np.roll(crop[pair + 1], tuple(shift), axis=(0, 1))[inner]
            before, after = crop[pair][inner], crop[pair + 1][inner]
            if _correlation(before, moved) > _correlation(before, after):
                continue
        shifts[pair] = 0.0
    return shifts


def jitter(shifts: np.ndarray) -> np.ndarray:
    """The move (pixels, (u, v)) that brings each valid section onto the smooth drift of the
    stack: the accumulated shifts (each section onto the first) minus their Gaussian smoothing
    over ``DRIFT_SECTIONS`` sections. A drift (a sheared stack, tissue running obliquely) hardly
    changes the statistics along the sections; jitter adds power at the top of their band and
    would read as thinner sections."""
    position = np.concatenate([np.zeros((1, 2)), np.cumsum(shifts, axis=0)])
    return position - ndi.gaussian_filter1d(position, DRIFT_SECTIONS, axis=0, mode="nearest")


def align(stack: np.ndarray, valid: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """Move each valid section by its sub-pixel ``moves`` (pixels, (u, v)) with a Fourier phase
    ramp (an all-pass filter: no in-plane blur, which would change the sections' statistics) and
    crop the border that the moves wrapped around."""
    margin = int(np.ceil(np.abs(moves).max(initial=0))) + 1
    rows, cols = stack.shape[1:]
    fu, fv = np.fft.fftfreq(rows)[:, None], np.fft.rfftfreq(cols)[None, :]
    out = stack.copy()
    for section, (du, dv) in zip(np.flatnonzero(valid), moves):   # one 2D FFT per section
        if abs(du) > 1e-3 or abs(dv) > 1e-3:
            ramp = np.exp(-2j * np.pi * (fu * du + fv * dv))
            out[section] = np.fft.irfft2(np.fft.rfft2(stack[section]) * ramp, s=(rows, cols))
    return out[:, margin:rows - margin, margin:cols - margin]


def misalignment(shifts: np.ndarray, lateral: tuple[float, float]) -> dict:
    """Summary of :func:`neighbour_shifts` in the volume's unit: ``median`` and ``max`` length
    of the shifts between neighbours, and ``jitter``, the root mean square of the sections'
    positions about the smooth drift (:func:`jitter`)."""
    if not len(shifts):
        return {"median": 0.0, "max": 0.0, "jitter": 0.0}
    lengths = np.hypot(*(shifts * np.asarray(lateral)).T)
    offsets = jitter(shifts) * np.asarray(lateral)
    return {"median": float(np.median(lengths)), "max": float(np.max(lengths)),
            "jitter": float(np.sqrt(np.mean(np.sum(offsets**2, axis=1))))}
