"""Losses of paper 001 eq. 5: L1, the projected distribution loss, and their sum."""

import pytest
import torch

from isovox.training.losses import SelfSupLoss, l1_loss, projected_distribution_loss, projection_filters


@pytest.fixture
def images():
    generator = torch.Generator().manual_seed(0)
    return torch.rand(3, 1, 20, 24, generator=generator), torch.rand(3, 1, 20, 24, generator=generator)


def test_zero_for_identical_inputs(images):
    x, _ = images
    assert l1_loss(x, x) == 0
    assert projected_distribution_loss(x, x) == 0
    assert projected_distribution_loss(x, x, projection_filters()) == 0
    assert SelfSupLoss()(x, x) == 0


def test_pdl_compares_distributions_l1_compares_pixels(images):
    x, _ = images
    permuted = x.flatten(2)[..., torch.randperm(20 * 24)].reshape(x.shape)
    assert projected_distribution_loss(permuted, x) < 1e-7       # same intensity histogram
    assert l1_loss(permuted, x) > 0.1
    # The gradient and texture projections do see that the structure was destroyed.
    assert projected_distribution_loss(permuted, x, projection_filters()) > 1e-3


def test_pdl_is_the_sorted_l1_for_pixels():
    a = torch.tensor([[[[3.0, 1.0, 2.0]]]])
    b = torch.tensor([[[[0.0, 5.0, 1.0]]]])
    # sorted: (1, 2, 3) vs (0, 1, 5) -> mean |diff| = (1 + 1 + 2) / 3
    assert projected_distribution_loss(a, b).item() == pytest.approx(4 / 3)


def test_filter_bank_is_fixed_zero_mean_and_normalised():
    bank = projection_filters(n_random=5, seed=3)
    assert bank.shape == (7, 1, 3, 3)
    assert torch.equal(bank, projection_filters(n_random=5, seed=3))
    assert torch.allclose(bank.flatten(1).sum(1), torch.zeros(7), atol=1e-6)
    assert torch.allclose(bank.flatten(1).norm(dim=1), torch.ones(7))


def test_selfsup_loss_is_l1_plus_alpha_pdl_and_gradients_flow(images):
    x, y = images
    x = x.clone().requires_grad_(True)
    loss_fn = SelfSupLoss(alpha=0.01)
    loss = loss_fn(x, y)
    expected = l1_loss(x, y) + 0.01 * projected_distribution_loss(x, y, loss_fn.filters)
    assert loss.item() == pytest.approx(expected.item())
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # the PDL term alone also sends gradients back
    x.grad = None
    projected_distribution_loss(x, y, loss_fn.filters).backward()
    assert x.grad.abs().sum() > 0
    assert SelfSupLoss(alpha=0)(x, y).item() == pytest.approx(l1_loss(x, y).item())


def test_shape_mismatch_and_bad_alpha_raise(images):
    x, y = images
    with pytest.raises(ValueError):
        projected_distribution_loss(x, y[:, :, :10])
    with pytest.raises(ValueError):
        SelfSupLoss(alpha=-1)
