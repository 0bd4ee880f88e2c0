"""Networks of paper 000's degradation model: G_hl (area pooling + residual blocks), D_l, D_h.

Their forward, backward, rebuild and preset checks are in test_every_model.py.
"""

import numpy as np
import pytest
import torch

from isovox.degrade.functional import slice_positions
from isovox.models import CRITIC, DEGRADATION, create_model, list_models, model_info
from isovox.models.cyclegan import (DegradationGenerator, LowResDiscriminator, PatchDiscriminator,
                                    ProfileDegradation, RowAreaPool, area_pooling_matrix, lowres_rows)


def n_params(net):
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("factor", [2, 3, 4, 6.5, 10, 12.5])
def test_lowres_rows_follow_the_acquisition_grid(factor):
    for n in (1, 2, 13, 61, 64, 100):
        assert lowres_rows(n, factor) == len(slice_positions(n, factor))


def test_odd_integer_factor_is_centred_average_pooling():
    matrix = area_pooling_matrix(30, 3)
    x = np.random.default_rng(0).standard_normal(30)
    pooled = matrix @ x
    assert matrix.shape == (10, 30)
    np.testing.assert_allclose(pooled[1:], [x[3 * k - 1:3 * k + 2].mean() for k in range(1, 10)], rtol=1e-5)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("factor", [4, 6.5])
def test_pooling_keeps_a_ramp_on_the_section_positions(factor):
    # The box average of a straight line centred on k * factor is the line's value there: the
    # pooled rows sit exactly where isovox puts the acquired sections (borders are mirrored).
    n = 80
    matrix = area_pooling_matrix(n, factor)
    pooled = matrix @ np.arange(n, dtype=float)
    centres = slice_positions(n, factor)
    inside = (centres - factor / 2 >= 0) & (centres + factor / 2 <= n - 1)
    assert inside.sum() >= 5
    np.testing.assert_allclose(pooled[inside], centres[inside], atol=1e-4)
    np.testing.assert_allclose(area_pooling_matrix(n, factor) @ np.full(n, 3.0), 3.0, rtol=1e-6)


def test_degradation_generator_starts_as_the_pooling_and_keeps_columns():
    net = DegradationGenerator(factor=4, n_feats=8, n_blocks=2)
    x = torch.rand(3, 1, 61, 40)
    assert net(x).shape == (3, 1, 16, 40)
    assert DegradationGenerator(factor=6.5, n_feats=8, n_blocks=1)(x).shape == (3, 1, lowres_rows(61, 6.5), 40)
    torch.testing.assert_close(net(x), RowAreaPool(4)(x))            # zero tail: exactly the pooling
    assert net.tail.weight.requires_grad and not torch.equal(net.head.weight, torch.zeros_like(net.head.weight))
    expected = torch.from_numpy(area_pooling_matrix(61, 4)) @ x[0, 0]
    torch.testing.assert_close(RowAreaPool(4)(x)[0, 0], expected)


def test_pooling_passes_gradients_to_its_input():
    x = torch.rand(2, 1, 21, 9, requires_grad=True)
    RowAreaPool(5)(x).sum().backward()
    assert x.grad is not None and torch.all(x.grad > 0)


def test_lowres_discriminator_strides_along_columns_only():
    net = LowResDiscriminator(n_feats=(4, 4, 4, 4))
    x = torch.rand(2, 1, 16, 64)
    assert net(x).shape == (2, 1, 15, 4)      # 15 row differences; 64 columns halved four times
    assert [m.kernel_size for m in net.modules() if isinstance(m, torch.nn.Conv2d)][:4] == [(3, 7)] * 4
    # it sees brightness (mean channel) and axial detail (difference channel)
    assert not torch.allclose(net(x + 0.3), net(x))
    first = net.body[0]
    assert first.in_channels == 2
    ramp = torch.arange(16.0).reshape(1, 1, 16, 1).expand(1, 1, 16, 8)
    pairs = torch.cat([(ramp[..., :-1, :] + ramp[..., 1:, :]) / 2, 10 * (ramp[..., 1:, :] - ramp[..., :-1, :])], 1)
    torch.testing.assert_close(net(ramp), net.body(pairs))
    assert LowResDiscriminator(n_feats=(4, 4), row_differences=False)(x).shape == (2, 1, 16, 16)


def test_patch_discriminator_scores_patches():
    net = PatchDiscriminator(n_feats=4, n_layers=3)
    assert net(torch.rand(2, 1, 64, 64)).shape == (2, 1, 6, 6)   # 70 x 70 PatchGAN on 64 x 64
    assert net(torch.rand(1, 1, 61, 64)).shape[:2] == (1, 1)


def test_paper_preset_and_the_names_model_folders_record():
    paper = create_model("g_hl", preset="paper", factor=10)
    assert paper.build_config["kwargs"] == {"n_feats": 64, "n_blocks": 9, "factor": 10}
    # head 1->64, 9 blocks of two 64->64 convs, tail 64->1, all 3x3 with bias
    assert n_params(paper) == (9 * 64 + 64) + 18 * (9 * 64 * 64 + 64) + (9 * 64 + 1)
    # degradation.json of earlier versions: {"network": {"name": "g_hl"|"g_hl_profile", "kwargs"}}
    for name, cls in (("g_hl", DegradationGenerator), ("g_hl_profile", ProfileDegradation)):
        assert isinstance(create_model(name, factor=6.5), cls) and model_info(name).role == DEGRADATION
    assert model_info("d_l").role == model_info("d_h").role == CRITIC
    assert not {"g_hl", "g_hl_profile", "d_l", "d_h"} & set(list_models())   # no reconstruction networks
    with pytest.raises(ValueError, match="unknown model 'g_lh'"):
        create_model("g_lh")
    with pytest.raises(ValueError, match="no preset"):
        create_model("d_h", preset="huge")
    with pytest.raises(ValueError, match="factor"):
        DegradationGenerator(factor=0.5)


def test_linear_degradation_generator_is_a_linear_filter():
    net = DegradationGenerator(factor=4, n_feats=8, n_blocks=2, linear=True)
    torch.nn.init.normal_(net.tail.weight, std=0.1)
    x, y = torch.rand(2, 1, 29, 16), torch.rand(2, 1, 29, 16)
    zero = net(torch.zeros_like(x))                                  # the biases' constant part
    torch.testing.assert_close(net(x + 2 * y) - zero, (net(x) - zero) + 2 * (net(y) - zero), atol=1e-5, rtol=1e-4)
    relu = DegradationGenerator(factor=4, n_feats=8, n_blocks=2)
    torch.nn.init.normal_(relu.tail.weight, std=0.1)
    assert not torch.allclose(relu(-x) - relu(torch.zeros_like(x)), -(relu(x) - relu(torch.zeros_like(x))), atol=1e-4)


def test_profile_degradation_is_a_positive_symmetric_blur_of_the_pooled_rows():
    net = ProfileDegradation(factor=4, taps=5)
    weights = net.profile().detach()
    assert weights.shape == (5,) and torch.all(weights > 0) and float(weights.sum()) == pytest.approx(1.0)
    assert torch.equal(weights, weights.flip(0)) and float(weights[2]) > 0.9       # starts near the box
    x = torch.rand(2, 1, 41, 12)
    constant = torch.full_like(x, 3.0)
    torch.testing.assert_close(net(constant), torch.full((2, 1, 11, 12), 3.0))      # the mean is kept
    with torch.no_grad():
        net.scaled_logits.zero_()                                                   # a flat 5-tap profile
    pooled = RowAreaPool(4)(x)
    torch.testing.assert_close(net(x)[:, :, 2:-2], sum(pooled[:, :, i:i + 7] for i in range(5)) / 5)
    torch.testing.assert_close(net(x), net(x))                                       # deterministic
    (net(x) ** 2).mean().backward()
    assert net.scaled_logits.grad is not None and torch.any(net.scaled_logits.grad != 0)


def test_profile_degradation_noise_has_the_learned_sigma():
    net = ProfileDegradation(factor=2, initial_sigma=0.05)
    clean = torch.zeros(4, 1, 64, 64)
    noisy = net.add_noise(clean)
    assert float(noisy.detach().std()) == pytest.approx(0.05, rel=0.05) and net.sigma == pytest.approx(0.05)
    noisy.abs().mean().backward()
    assert net.scaled_log_sigma.grad is not None and float(net.scaled_log_sigma.grad) > 0
    quiet = ProfileDegradation(factor=2, noise=False)
    assert torch.equal(quiet.add_noise(clean), clean) and quiet.sigma == 0.0
    with pytest.raises(ValueError, match="odd"):
        ProfileDegradation(taps=4)
