"""One generic test over every network in the registry, whatever its role (timm style).

Each network is built with its ``"default"`` preset, by house rule its smallest (checked below),
and fed the input its registry entry declares (``model_info(name).input_size``). What its output
must look like follows from its role; behaviour that belongs to one network (spectral norms,
residuals, paper sizes) is tested in that network's own file.
"""

import io
import json
import math

import pytest
import torch

from isovox.models import (
    ARBITRARY_SCALE,
    CRITIC,
    DEGRADATION,
    FEATURE_EXTRACTOR,
    PREUPSAMPLED,
    RECONSTRUCTION,
    ROLES,
    VAE,
    create_model,
    list_models,
    model_info,
)

EVERY_NETWORK = list_models(role=None)
BATCH = 2
SCALE = 2.0            # what arbitrary-scale networks are asked for (their forward takes a scale)
# Parameters a forward pass leaves alone by design: ProfileDegradation's noise level is drawn by
# add_noise, which the training step calls, never by forward.
UNUSED_BY_FORWARD = {"g_hl_profile": {"scaled_log_sigma"}}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def sample(name, seed=0):
    shape = (BATCH, *model_info(name).input_size)
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def run(model, name, x):
    if model_info(name).convention == ARBITRARY_SCALE:
        return model(x, scale=SCALE)
    return model(x)


def expected_shape(model, name, x):
    """The output shape the network's role promises for input ``x``; None: checked otherwise."""
    info = model_info(name)
    if info.role == VAE or info.convention == PREUPSAMPLED:
        return x.shape                                 # same grid in and out
    if info.convention == ARBITRARY_SCALE:             # rows on the finer grid, columns kept
        return (*x.shape[:-2], math.floor((x.shape[-2] - 1) * SCALE) + 1, x.shape[-1])
    if info.role == DEGRADATION:                       # one row per acquired section, columns kept
        return (*x.shape[:-2], math.floor((x.shape[-2] - 1) / model.factor) + 1, x.shape[-1])
    return None


def test_the_registry_holds_every_kind_of_network():
    roles = {model_info(name).role for name in EVERY_NETWORK}
    assert roles == set(ROLES)
    assert {"critic3d", "srgan-discriminator", "slice_critic", "d_l", "d_h"} <= set(list_models(role=CRITIC))
    assert set(list_models(role=DEGRADATION)) == {"g_hl", "g_hl_profile"}
    assert list_models(role=VAE) == ["slice_vae"] and list_models(role=FEATURE_EXTRACTOR) == ["vgg19"]
    # the default listing is what train and reconstruct accept: reconstruction networks only
    assert list_models() == list_models(role=RECONSTRUCTION)
    assert set(list_models()) < set(EVERY_NETWORK)
    assert all(model_info(n).conventions == () for n in EVERY_NETWORK if n not in list_models())


@pytest.mark.parametrize("name", EVERY_NETWORK)
def test_default_build_runs_forward_and_backward_on_its_declared_input(name):
    torch.manual_seed(0)
    info = model_info(name)
    model = create_model(name)
    assert n_params(model) > 0
    if info.role == RECONSTRUCTION:
        assert model.convention == info.convention
    x = sample(name)
    y = run(model, name, x)
    assert torch.isfinite(y).all()
    shape = expected_shape(model, name, x)
    if shape is not None:
        assert tuple(y.shape) == tuple(shape)
    elif info.role == CRITIC:
        assert y.shape[:2] == (BATCH, 1)               # one score per sample, or per patch of it
    else:                                              # feature maps, one set per sample
        assert y.shape[0] == BATCH and y.dim() == x.dim()
    y.float().square().mean().backward()
    unused = UNUSED_BY_FORWARD.get(name, set())
    for pname, p in model.named_parameters():
        if p.requires_grad and pname not in unused:
            assert p.grad is not None, f"{name}: no gradient for {pname}"
            assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"


@pytest.mark.parametrize("name", EVERY_NETWORK)
def test_build_config_and_weights_rebuild_the_same_network(name):
    torch.manual_seed(1)
    model = create_model(name).eval()
    config = json.loads(json.dumps(model.build_config))      # as a model folder stores it
    assert config["name"] == name and config["preset"] == "default"
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    torch.manual_seed(2)                                     # other initial weights: the file must win
    again = create_model(config["name"], **config["kwargs"]).eval()
    again.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    assert again.build_config["kwargs"] == config["kwargs"]
    x = sample(name, seed=3)
    with torch.no_grad():
        assert torch.equal(run(model, name, x), run(model, name, x))   # eval is deterministic
        assert torch.equal(run(again, name, x), run(model, name, x))


@pytest.mark.parametrize("name", EVERY_NETWORK)
def test_every_preset_builds_and_default_is_the_smallest(name):
    presets = model_info(name).presets
    assert {"default", "paper"} <= set(presets)
    counts = {}
    for preset in presets:
        with torch.device("meta"):     # build without allocating: paper sizes reach tens of millions
            counts[preset] = n_params(create_model(name, preset=preset))
    assert min(counts.values()) == counts["default"] > 0
    if presets["paper"]:                                     # a paper size that differs from the default
        assert counts["paper"] > counts["default"]
