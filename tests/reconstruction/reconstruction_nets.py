"""Tiny networks with known behaviour, shared by the reconstruction tests (imported by name:
pytest puts this folder on sys.path; the name is unique across tests/)."""

import torch

from isovox.models import create_model


def identity_drcnet():
    """A DRCNet whose tail is zero: the global residual returns the input exactly."""
    torch.manual_seed(0)
    model = create_model("drcnet", n_feats=8, n_blocks=1)
    with torch.no_grad():
        model.tail.weight.zero_()
        model.tail.bias.zero_()
    return model


def random_drcnet():
    torch.manual_seed(1)
    return create_model("drcnet", n_feats=8, n_blocks=1)
