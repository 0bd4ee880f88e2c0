"""Synthetic volumes of known resolution: white noise blurred by a Gaussian, plus white noise.

For white noise of unit variance blurred (periodically) by a Gaussian of ``sigma_a`` voxels per
axis and then given independent noise of standard deviation ``noise``, the per-voxel power
spectrum of lines along axis ``a`` is

    P_a(f) = S0_a exp(-(2 pi sigma_a f)^2) + noise^2,   S0_a = prod_{b != a} 1 / (2 sqrt(pi) sigma_b)

(the Gaussian's squared frequency response along ``a``, times the squared-kernel sums of the
other two axes, by Parseval). The signal equals the noise (the assessor's cut-off) at
``f_c = sqrt(ln(S0_a / noise^2)) / (2 pi sigma_a)`` cycles per voxel, so the expected resolution
is ``spacing / f_c``, and ``2 x spacing`` when ``f_c`` lies beyond the Nyquist frequency.
"""

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

NOISE = 0.03


def blurred_noise(sigmas, shape=(64, 64, 64), noise=NOISE, seed=0):
    rng = np.random.default_rng(seed)
    signal = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigmas, mode="wrap")
    return signal + noise * rng.standard_normal(shape).astype(np.float32)


def expected_resolution(sigmas, spacing=1.0, noise=NOISE):
    """Resolution per axis (in units of ``spacing``) derived in the module docstring."""
    result = []
    for axis in range(3):
        s0 = math.prod(1 / (2 * math.sqrt(math.pi) * sigmas[b]) for b in range(3) if b != axis)
        cutoff = math.sqrt(math.log(s0 / noise ** 2)) / (2 * math.pi * sigmas[axis])
        result.append(spacing * max(1 / cutoff, 2.0))
    return result


@pytest.fixture
def make_blurred():
    return blurred_noise


@pytest.fixture
def expected():
    return expected_resolution
