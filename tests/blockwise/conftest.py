"""Tiny volumes and models for the blockwise tests (CPU, one torch thread)."""

import numpy as np
import pytest
import torch

from isovox.models import create_model
from isovox.store import ModelCard, save_model
from isovox.volume import Volume


def make_volume(shape=(9, 21, 17), spacing=(25.0, 10.0, 10.0), dtype=np.float32, seed=0) -> Volume:
    """Random smooth-ish data with an origin, so a lost offset would show."""
    rng = np.random.default_rng(seed)
    data = rng.normal(100, 30, shape)
    if np.issubdtype(dtype, np.integer):
        data = np.clip(data, 0, 255)
    return Volume(data.astype(dtype), spacing, "nm", origin=(3.0, -2.0, 5.0))


def _save_tiny_model(folder, arch="drcnet", factor=2.5, lowres=25.0, target=10.0, seed=1, axes=("z",),
                    method="test", **kwargs):
    """A small network from the registry with random weights, saved as a model folder
    (``axes``: the degraded axes a 3D model's card names)."""
    torch.manual_seed(seed)
    model = create_model(arch, **kwargs)
    card = ModelCard(method=method, architecture=model.build_config, factor=factor, lowres_spacing=lowres,
                     target_spacing=target, unit="nm", normalisation={"low": 0.0, "high": 255.0},
                     degradation={"axes": list(axes), "scales": [1.1, 4.0]})
    return save_model(folder, model, card)


@pytest.fixture
def volume():
    """``volume(shape, spacing, dtype, seed)`` -> a test Volume (see :func:`make_volume`)."""
    return make_volume


@pytest.fixture(scope="session")
def drcnet_folder(tmp_path_factory):
    """A tiny DRCNet for factor 2.5 (25 -> 10 nm), saved once for the session."""
    return _save_tiny_model(tmp_path_factory.mktemp("models") / "drcnet", n_feats=8, n_blocks=1)


@pytest.fixture(scope="session")
def save_tiny_model():
    """The model-folder maker above, as a fixture (test modules cannot import a conftest by name)."""
    return _save_tiny_model
