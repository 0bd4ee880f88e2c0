"""Model folders for the export tests: a small network of any registered architecture, saved the
way training saves it."""

import pytest
import torch

from isovox.models import create_model
from isovox.store import ModelCard, save_model


@pytest.fixture
def model_folder(tmp_path):
    """``make(name, method='selfsup', low=10, high=250, **build)``: a saved model folder whose
    card asks for factor 4 (40 -> 10 nm along z); the network's weights are random but fixed."""

    def make(name="drcnet", method="selfsup", low=10.0, high=250.0, **build):
        torch.manual_seed(0)
        network = create_model(name, **build)
        card = ModelCard(method=method, architecture=network.build_config, factor=4.0, lowres_spacing=40.0,
                         target_spacing=10.0, unit="nm", normalisation={"low": low, "high": high},
                         degradation={"axis": "z"})
        return save_model(tmp_path / f"{name}-{method}", network, card)

    return make
