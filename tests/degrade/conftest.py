"""Small synthetic volumes for the degradation tests."""

import numpy as np
import pytest

from isovox.volume import Volume


@pytest.fixture
def random_volume() -> Volume:
    """60 x 20 x 20 uint8 noise, spacing 10 nm, origin off zero (so origin shifts show)."""
    data = np.random.default_rng(0).integers(0, 256, (60, 20, 20)).astype(np.uint8)
    return Volume(data, spacing=(10.0, 5.0, 5.0), unit="nm", origin=(1.0, 2.0, 3.0))


@pytest.fixture
def smooth_volume() -> Volume:
    """A smooth float32 volume (sums of low-frequency cosines), isotropic 4 nm."""
    z, y, x = np.meshgrid(np.arange(48), np.arange(24), np.arange(24), indexing="ij")
    data = 100 + 40 * np.cos(2 * np.pi * z / 24) * np.sin(2 * np.pi * y / 12) + 10 * np.cos(2 * np.pi * x / 8)
    return Volume(data.astype(np.float32), spacing=(4.0, 4.0, 4.0), unit="nm")
