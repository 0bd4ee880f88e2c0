"""Tiny volumes and models for the blockwise tests (CPU, one torch thread)."""

import numpy as np
import pytest

from isovox.volume import Volume


def make_volume(shape=(9, 21, 17), spacing=(25.0, 10.0, 10.0), dtype=np.float32, seed=0) -> Volume:
    """Random smooth-ish data with an origin, so a lost offset would show."""
    rng = np.random.default_rng(seed)
    data = rng.normal(100, 30, shape)
    if np.issubdtype(dtype, np.integer):
        data = np.clip(data, 0, 255)
    return Volume(data.astype(dtype), spacing, "nm", origin=(3.0, -2.0, 5.0))


@pytest.fixture
def volume():
    """``volume(shape, spacing, dtype, seed)`` -> a test Volume (see :func:`make_volume`)."""
    return make_volume


@pytest.fixture(scope="session")
def drcnet_folder(tmp_path_factory, save_tiny_model):
    """A tiny DRCNet for factor 2.5 (25 -> 10 nm), saved once for the session."""
    return save_tiny_model(tmp_path_factory.mktemp("models") / "drcnet", n_feats=8, n_blocks=1)
