"""Stage-I networks of paper 003: the slice VAE and the PatchGAN critic (isovox.models.vae).

Their forward, backward, rebuild and preset checks are in test_every_model.py.
"""

import math
from functools import partial

import pytest
import torch
from torch import nn

from isovox.models import CRITIC, VAE, create_model, list_models, model_info
from isovox.models.vae import PatchCritic, SliceVAE

TINY = {"slice_size": 16, "latent": 6, "n_blocks": 2, "n_feats": 4, "max_feats": 8}
create_vae = partial(create_model, "slice_vae")
create_slice_critic = partial(create_model, "slice_critic")


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_shapes_of_encoder_decoder_and_critic():
    torch.manual_seed(0)
    vae = create_vae()
    x = torch.randn(3, 1, 32, 32)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (3, 64)
    assert vae.bottleneck == (32, 4, 4)           # three poolings: the paper's 4x4 bottleneck at 32x32
    assert vae.decode(mu).shape == x.shape
    critic = create_slice_critic()
    assert critic(x).shape == (3, 1)
    assert critic(torch.randn(2, 1, 40, 24)).shape == (2, 1)   # patch critic: any size


def test_paper_preset_is_the_papers_size_and_not_a_reconstruction_network():
    assert model_info("slice_vae").presets["paper"]["spectral_norm"]
    with torch.device("meta"):       # (spectral norm's power iteration is slow on meta tensors: off here)
        vae = create_vae(preset="paper", spectral_norm=False)
        critic = create_slice_critic(preset="paper")
    assert (vae.slice_size, vae.latent, vae.n_blocks) == (256, 512, 6)
    assert vae.bottleneck[1:] == (4, 4)
    assert vae.encoder[-1].out_features == 2 * 512 and vae.project.in_features == 512
    assert n_params(vae) > 10 * n_params(create_vae()) and n_params(critic) > n_params(PatchCritic())
    # six blocks of three act-norm-conv steps in the encoder: 1 + 18 convolutions
    assert sum(isinstance(m, nn.Conv2d) for m in vae.encoder.modules()) == 19
    assert set(model_info("slice_vae").presets) == set(model_info("slice_critic").presets) == {"default", "paper"}
    assert not {"slice_vae", "slice_critic"} & set(list_models())
    assert (model_info("slice_vae").role, model_info("slice_critic").role) == (VAE, CRITIC)


def test_forward_decodes_the_posterior_mean_and_sampling_reaches_both_outputs():
    torch.manual_seed(0)
    vae = create_vae(**TINY).eval()
    x = torch.randn(4, 1, 16, 16)
    mu, logvar = vae.encode(x)
    assert torch.equal(vae(x), vae.decode(mu))
    vae.train()
    mu, logvar = vae.encode(x)
    z = SliceVAE.sample(mu, logvar)
    assert not torch.equal(z, mu)
    z.sum().backward()
    for name, p in vae.encoder.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_xavier_initialisation_and_zero_biases():
    torch.manual_seed(0)
    vae = create_vae()
    layer = vae.encoder[-1]                            # Linear 512 -> 128: enough weights for a std
    fan_in, fan_out = layer.in_features, layer.out_features
    expected = math.sqrt(2.0 / (fan_in + fan_out))
    assert abs(layer.weight.std().item() / expected - 1) < 0.05
    assert all(torch.count_nonzero(m.bias) == 0 for m in vae.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_critic_convolutions_are_spectrally_normalised():
    torch.manual_seed(0)
    critic = create_slice_critic().train()
    x = torch.randn(2, 1, 32, 32)
    for _ in range(30):                                # power iteration converges over forward passes
        critic(x)
    convs = [m for m in critic.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    for conv in convs:
        assert hasattr(conv, "parametrizations")
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2).item()
        assert 0.9 < sigma < 1.05
    assert not any(hasattr(m, "parametrizations") for m in create_vae().modules())  # CPU default: off
    assert any(hasattr(m, "parametrizations") for m in create_vae(**TINY, spectral_norm=True).modules())


def test_bad_sizes_and_inputs_raise():
    with pytest.raises(ValueError, match="multiple of 2\\*\\*n_blocks"):
        SliceVAE(slice_size=60)
    with pytest.raises(ValueError, match="n_blocks"):
        SliceVAE(n_blocks=0)
    with pytest.raises(ValueError, match=r"\(N, 1, 16, 16\)"):
        create_vae(**TINY).encode(torch.randn(1, 1, 16, 20))
    with pytest.raises(ValueError, match="preset"):
        create_vae(preset="huge")


def test_logvar_is_clamped():
    vae = create_vae(**TINY)
    with torch.no_grad():
        vae.encoder[-1].bias.fill_(1e3)
    _, logvar = vae.encode(torch.zeros(1, 1, 16, 16))
    assert logvar.max().item() == 10.0
