"""3D family of the zoo: residual and channel behaviour of every '3d' reconstruction network,
mDCSRN / DCSRN / DeepResolve sizes against their papers, the 3D WGAN-GP critic and the gradient
penalty.

Forward, backward, rebuild and preset checks of every network are in test_every_model.py.
Volumes are tiny and odd-sized; paper presets are only built on the meta device and counted.
"""

import pytest
import torch
from torch import nn

from isovox.models import CRITIC, PREUPSAMPLED, create_model, list_models, model_info
from isovox.models.dense3d import DCSRN, MDCSRN, PAPER_PARAMS
from isovox.models.discriminators import Critic3D, gradient_penalty

MODELS_3D = list_models("3d")


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def count(name, preset="default", **kwargs):
    with torch.device("meta"):  # no memory allocated, so paper sizes cost nothing
        return n_params(create_model(name, preset=preset, **kwargs))


def test_3d_zoo_is_registered():
    assert {"mdcsrn", "dcsrn", "deepresolve"} <= set(MODELS_3D)
    assert not set(MODELS_3D) & set(list_models("2d"))
    for name in MODELS_3D:
        assert model_info(name).conventions == (PREUPSAMPLED,)
    assert "critic3d" not in list_models()  # a critic is not a reconstruction network
    assert model_info("critic3d").role == CRITIC and model_info("critic3d").family == "3d"


@pytest.mark.parametrize("name", MODELS_3D)
def test_global_residual_and_channels(name):
    torch.manual_seed(2)
    model = create_model(name).eval()
    plain = create_model(name, residual=False).eval()
    plain.load_state_dict(model.state_dict())  # same weights, only the image skip differs
    x = torch.randn(1, 1, 5, 6, 7)
    with torch.no_grad():
        torch.testing.assert_close(model(x), x + plain(x))
    wide = create_model(name, in_channels=2, out_channels=3)
    assert not wide.residual  # an image residual needs matching channels
    assert wide(torch.randn(1, 2, 5, 6, 7)).shape == (1, 3, 5, 6, 7)


# Exact counts (norm=True, bottleneck='auto'), as documented in MDCSRN's docstring.
MDCSRN_COUNTS = {"b4u4k12": 227_209, "b6u4k12": 350_857, "b8u4k12": 481_417, "b4u4k8": 101_681,
                 "b4u4k16": 402_529, "b8u4k8": 215_217, "paper": 227_209}  # fmt: skip


@pytest.mark.parametrize("preset", sorted(PAPER_PARAMS))
def test_mdcsrn_presets_match_table1(preset):
    n = count("mdcsrn", preset)
    assert n == MDCSRN_COUNTS[preset]
    assert abs(n / PAPER_PARAMS[preset] - 1) < 0.05  # "#Parm" of Table 1, paper 004


def test_mdcsrn_table1_supports_the_bottleneck_rule():
    # Exp. 1/2 of Table 1: b4u4 with the bottleneck before every unit would be ~30 % too big.
    assert count("mdcsrn", "b4u4k12", bottleneck=True) > 1.25 * PAPER_PARAMS["b4u4k12"]
    assert abs(count("mdcsrn", "b4u4k12", bottleneck=False) / PAPER_PARAMS["b4u4k12"] - 1) < 0.05
    # norm=False removes only the batch norms' 2 parameters per channel
    assert count("mdcsrn", "paper") - count("mdcsrn", "paper", norm=False) == 1_728


def test_mdcsrn_structure_follows_fig3():
    with torch.device("meta"):
        net = create_model("mdcsrn", preset="paper")  # b4u4k12
    k, block_out = 12, 2 * 12 + 4 * 12
    assert net.stem.out_channels == 2 * k and len(net.blocks) == 4
    # compressor before blocks 2..4: 1x1x1, from all earlier block outputs to 2k
    assert [c.in_channels for c in net.compressors] == [block_out, 2 * block_out, 3 * block_out]
    assert all(c.out_channels == 2 * k and c.kernel_size == (1, 1, 1) for c in net.compressors)
    # direct feature combination: one 1x1x1 conv over every block's output
    assert net.combine.in_channels == 4 * block_out and net.combine.kernel_size == (1, 1, 1)
    units = net.blocks[0].units
    convs = [[m for m in u if isinstance(m, nn.Conv3d)] for u in units]
    assert [len(c) for c in convs] == [1, 1, 1, 2]  # 'auto': bottleneck only where input > 4k
    assert convs[3][0].out_channels == 4 * k and convs[3][1].kernel_size == (3, 3, 3)
    others = [m for u in units for m in u if not isinstance(m, (nn.Conv3d, nn.BatchNorm3d))]
    assert others and all(isinstance(m, nn.ELU) for m in others)  # ELU activations (sec. 3.3)
    with pytest.raises(ValueError, match="bottleneck"):
        MDCSRN(bottleneck="sometimes")
    with pytest.raises(ValueError, match="blocks"):
        MDCSRN(blocks=0)


def test_dcsrn_is_a_single_dense_block():
    with torch.device("meta"):
        net = create_model("dcsrn", preset="paper")
    assert isinstance(net, DCSRN) and len(net.blocks) == 1 and len(net.compressors) == 0
    assert net.stem.out_channels == 48 and len(net.blocks[0].units) == 4
    assert sum(isinstance(m, nn.Conv3d) for m in net.blocks[0].modules()) == 4  # no bottleneck
    assert net.combine.in_channels == 48 + 4 * 24
    assert n_params(net) == 219_985


def test_deepresolve_paper_size():
    with torch.device("meta"):
        net = create_model("deepresolve", preset="paper")
    convs = [m for m in net.modules() if isinstance(m, nn.Conv3d)]
    assert len(convs) == 20 and all(c.kernel_size == (3, 3, 3) for c in convs)
    assert [c.out_channels for c in convs] == [64] * 19 + [1]
    assert n_params(net) == (27 * 64 + 64) + 18 * (27 * 64 * 64 + 64) + (27 * 64 + 1) == 1_995_329
    with pytest.raises(ValueError, match="at least 2"):
        create_model("deepresolve", n_layers=1)


# --- critic and gradient penalty -------------------------------------------------------------


def test_critic_scores_each_volume_on_its_own():
    torch.manual_seed(3)
    critic = create_model("critic3d")
    x = torch.randn(3, 1, 9, 11, 7)
    scores = critic(x)
    assert scores.shape == (3, 1) and torch.isfinite(scores).all()
    # layer norm, not batch norm: a volume's score does not depend on the rest of the batch
    torch.testing.assert_close(critic(x[1:2]), scores[1:2])
    scores.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in critic.parameters())
    assert critic(torch.randn(1, 1, 1, 2, 3)).shape == (1, 1)  # tiny sizes still pool


def test_critic_paper_preset_is_srgan_shaped():
    with torch.device("meta"):
        critic = create_model("critic3d", preset="paper")
    convs = [m for m in critic.modules() if isinstance(m, nn.Conv3d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    norms = [m for m in critic.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 7 and all(m.num_groups == 1 for m in norms)
    assert not any(isinstance(m, (nn.BatchNorm3d, nn.Sigmoid)) for m in critic.modules())
    linears = [m for m in critic.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [1024, 1]
    assert n_params(critic) > n_params(Critic3D())
    assert set(model_info("critic3d").presets) == {"default", "paper"}
    with pytest.raises(ValueError, match="presets: default, paper"):
        create_model("critic3d", preset="huge")


def _linear_critic(shape, norm):
    numel = torch.Size(shape).numel()
    critic = nn.Sequential(nn.Flatten(), nn.Linear(numel, 1))
    with torch.no_grad():
        critic[1].weight.normal_()
        critic[1].weight.mul_(norm / critic[1].weight.norm())
    return critic


def test_gradient_penalty_is_zero_for_unit_gradient_and_exact_otherwise():
    torch.manual_seed(4)
    real, fake = torch.randn(4, 1, 3, 4, 5), torch.randn(4, 1, 3, 4, 5)
    # a linear critic's input gradient is its weight everywhere: norm 1 -> no penalty
    gp = gradient_penalty(_linear_critic(real.shape[1:], 1.0), real, fake)
    assert gp.dim() == 0 and gp.item() == pytest.approx(0.0, abs=1e-10)
    gp = gradient_penalty(_linear_critic(real.shape[1:], 3.0), real, fake)
    assert gp.item() == pytest.approx((3.0 - 1.0) ** 2, rel=1e-5)


def test_gradient_penalty_interpolates_per_sample():
    real, fake = torch.randn(3, 1, 2, 3, 4), torch.randn(3, 1, 2, 3, 4)

    def quadratic(x):  # gradient of 0.5 * |x|^2 is x itself
        return 0.5 * x.pow(2).flatten(1).sum(1)

    def expected(x):
        return (x.flatten(1).norm(dim=1) - 1).pow(2).mean()

    eps = torch.tensor([1.0, 0.0, 0.25]).view(3, 1, 1, 1, 1)
    mix = eps * real + (1 - eps) * fake
    torch.testing.assert_close(gradient_penalty(quadratic, real, fake, eps=eps), expected(mix))
    with pytest.raises(ValueError, match="shapes differ"):
        gradient_penalty(quadratic, real, fake[:2])


def test_gradient_penalty_trains_the_critic_only():
    torch.manual_seed(5)
    critic, generator = create_model("critic3d"), create_model("deepresolve", n_layers=2, n_feats=4)
    real = torch.randn(2, 1, 7, 9, 5)
    fake = generator(torch.randn(2, 1, 7, 9, 5))
    gp = gradient_penalty(critic, real, fake)
    assert gp.item() >= 0 and gp.requires_grad
    gp.backward()
    grads = {n: p.grad for n, p in critic.named_parameters()}
    # the input gradient does not involve the score's final bias; every other weight shapes it
    assert grads.pop("head.4.bias") is None
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert any(g.abs().sum() > 0 for g in grads.values())
    assert all(p.grad is None for p in generator.parameters())  # fake was detached
