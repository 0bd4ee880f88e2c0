"""Small volumes and tiny networks for the training tests (CPU, a few seconds each)."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from isovox.volume import Volume


@pytest.fixture(scope="session")
def blobs() -> Volume:
    """Smooth random blobs, 24 x 64 x 64, spacing (4, 1, 1) nm: anisotropic along z."""
    data = ndi.gaussian_filter(np.random.default_rng(0).standard_normal((24, 64, 64)), (0.5, 2, 2))
    return Volume((100 + 50 * data).astype(np.float32), spacing=(4.0, 1.0, 1.0), unit="nm")

@pytest.fixture(scope="session")
def binary_blobs() -> Volume:
    """Sharp-edged binary blobs (24 x 96 x 96, spacing (4, 1, 1)): edges that cubic interpolation
    of a 4x under-sampling blurs and a network can learn to restore."""
    data = ndi.gaussian_filter(np.random.default_rng(0).standard_normal((24, 96, 96)), (0.5, 3, 3))
    return Volume((data > 0).astype(np.float32), spacing=(4.0, 1.0, 1.0), unit="nm")


@pytest.fixture
def interrupt_sampling(monkeypatch):
    """``resume = interrupt_sampling(cls, after)``: ``cls.sample`` raises KeyboardInterrupt (what
    Ctrl-C raises) once it has returned ``after`` batches, until ``resume()`` (or the test's end)
    puts the original back."""

    def interrupt(cls, after: int):
        original = cls.sample
        calls = {"n": 0}

        def sample(self, batch, rng=None):
            if calls["n"] == after:
                raise KeyboardInterrupt
            calls["n"] += 1
            return original(self, batch, rng)

        monkeypatch.setattr(cls, "sample", sample)
        return lambda: monkeypatch.setattr(cls, "sample", original)

    return interrupt
