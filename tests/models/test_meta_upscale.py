"""Meta-Upscale, Meta-SRGAN, SRGAN and the SRGAN discriminator (paper 002)."""

import numpy as np
import pytest
import torch
from torch import nn

from isovox.models import ONE_AXIS_UPSAMPLING, PREUPSAMPLED, create_model, model_info
from isovox.models.layers import OneAxisPixelShuffle
from isovox.models.meta_upscale import MetaUpscale, output_length, output_positions
from isovox.models.registry import ARBITRARY_SCALE
from isovox.models.srgan import AxisPixelShuffle
from isovox.volume import output_length as volume_output_length

SCALES = [(2.0, 1.0), (2.5, 1.0), (3.3, 1.0), (4.0, 1.0), (1.1, 1.0), (2.0, 2.0), (1.7, 3.1)]


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def centre_tap_filters(upscale: MetaUpscale, gain_from_offset: bool = False) -> None:
    """Make the weight predictor output the centre tap of channel 0 (gain 1 or the row offset)."""
    last = upscale.predict[-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    centre = upscale.kernel_size**2 // 2                   # channel 0, middle of the 3x3 window
    if gain_from_offset:                                   # filter = offset_row * delta
        first = upscale.predict[0]
        nn.init.zeros_(first.weight)
        nn.init.zeros_(first.bias)
        with torch.no_grad():
            first.weight[0, 0], first.weight[1, 0] = 1.0, -1.0   # relu(o) - relu(-o) = o
            last.weight[centre, 0], last.weight[centre, 1] = 1.0, -1.0
    else:
        with torch.no_grad():
            last.bias[centre] = 1.0


@pytest.mark.parametrize("n", [2, 3, 7, 26, 63, 250])
@pytest.mark.parametrize("scale", [1.0, 1.1, 2.0, 2.5, 3.3, 4.0, 5.0, 6.25, 12.5])
def test_output_length_is_the_volume_grid_convention(n, scale):
    assert output_length(n, scale) == volume_output_length(n, scale)
    positions = output_positions(n, scale)
    assert positions[-1] <= n - 1 + 1e-9 and torch.allclose(positions * scale, torch.arange(len(positions)).double())


@pytest.mark.parametrize("scale", SCALES)
def test_nearest_anchor_mapping(scale):
    """A centre-tap filter turns the module into nearest-neighbour sampling at round(j / s)."""
    torch.manual_seed(0)
    up = MetaUpscale(in_channels=3, out_channels=1, hidden=8)
    centre_tap_filters(up)
    features = torch.randn(2, 3, 9, 11)
    out = up(features, scale)
    rows = np.floor(np.arange(output_length(9, scale[0])) / scale[0] + 0.5).astype(int)
    cols = np.floor(np.arange(output_length(11, scale[1])) / scale[1] + 0.5).astype(int)
    expected = features[:, :1].numpy()[:, :, rows][:, :, :, cols]
    assert out.shape == (2, 1, len(rows), len(cols))
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-6)


def test_filters_see_the_offset_to_the_nearest_input():
    torch.manual_seed(0)
    up = MetaUpscale(in_channels=1, out_channels=1, hidden=2)
    centre_tap_filters(up, gain_from_offset=True)
    features = torch.ones(1, 1, 6, 5)
    out = up(features, 2.5)[0, 0, :, 0]
    p = np.arange(output_length(6, 2.5)) / 2.5
    np.testing.assert_allclose(out.detach().numpy(), p - np.floor(p + 0.5), atol=1e-6)   # in [-0.5, 0.5)


@pytest.mark.parametrize("scale", SCALES)
def test_grouped_and_gathered_paths_agree(scale):
    torch.manual_seed(1)
    up = MetaUpscale(in_channels=4, out_channels=2, hidden=16)
    features = torch.randn(2, 4, 8, 10)
    grouped, gathered = up(features, scale, method="grouped"), up(features, scale, method="gathered")
    torch.testing.assert_close(grouped, gathered, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(up(features, scale), grouped, atol=1e-5, rtol=1e-5)


def test_filters_are_predicted_once_per_distinct_offset():
    up = MetaUpscale(in_channels=2, out_channels=1, hidden=4)
    seen = []
    up.predict.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    up(torch.randn(1, 2, 20, 7), (2.5, 1.0))      # rows: 5 distinct offsets; columns: 1
    up(torch.randn(1, 2, 20, 7), (4.0, 1.0))
    assert seen == [5, 4]


@pytest.mark.parametrize("scale", [3.3, (2.0, 2.0), (4.0, 1.0)])
def test_meta_srgan_forward_backward(scale):
    torch.manual_seed(0)
    net = create_model("meta-srgan", n_feats=8, n_blocks=2, hidden=8)
    assert net.convention == ARBITRARY_SCALE == model_info("meta-srgan").convention
    x = torch.randn(2, 1, 11, 13)
    y = net(x, scale)
    rows, cols = (scale, 1.0) if isinstance(scale, float) else scale
    assert y.shape == (2, 1, output_length(11, rows), output_length(13, cols))
    y.abs().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_skip_keeps_acquired_rows_at_integer_scale():
    """With a silent Meta-Upscale the output is the bicubic skip; input row k lands on row k*s."""
    torch.manual_seed(0)
    net = create_model("meta-srgan", n_feats=8, n_blocks=1, hidden=4).eval()
    nn.init.zeros_(net.upscale.predict[-1].weight)
    nn.init.zeros_(net.upscale.predict[-1].bias)
    x = torch.randn(1, 1, 7, 9)
    with torch.no_grad():
        y = net(x, 3.0)
    torch.testing.assert_close(y[:, :, ::3], x, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(y[:, :, 1::3], x[:, :, :-1], atol=1e-3)   # in-between rows are new


def test_paper_presets_match_paper_002_parameter_counts():
    with torch.device("meta"):
        srgan = create_model("srgan", preset="paper", scale=2, col_scale=2)
        meta = create_model("meta-srgan", preset="paper")
    assert n_params(srgan) == 565_064          # Table 1: 0.565M
    assert n_params(meta) == 561_478           # Table 1: 0.561M
    assert not meta.residual                   # the paper has no interpolation skip


def test_window_of_the_output_grid_equals_the_whole_plane():
    """positions= computes any window: a crop with receptive_radius of margin gives the same rows."""
    torch.manual_seed(2)
    net = create_model("meta-srgan", n_feats=8, n_blocks=2, hidden=8).eval()
    x, s = torch.randn(1, 1, 40, 12), 2.7
    with torch.no_grad():
        whole = net(x, s)
        j0, j1 = 30, 60                                     # output rows wanted
        r0 = int(np.floor(j0 / s)) - net.receptive_radius
        r1 = int(np.ceil((j1 - 1) / s)) + net.receptive_radius + 1
        rows = torch.arange(j0, j1, dtype=torch.float64) / s - r0
        window = net(x[:, :, r0:r1], s, positions=(rows, torch.arange(12, dtype=torch.float64)))
    torch.testing.assert_close(window, whole[:, :, j0:j1], atol=1e-5, rtol=1e-5)


def test_bad_scales_are_rejected():
    net = create_model("meta-srgan", n_feats=4, n_blocks=1, hidden=4)
    for bad in (0.0, -2.0, (2.0,), (2.0, float("nan"))):
        with pytest.raises(ValueError, match="scale"):
            net(torch.randn(1, 1, 5, 5), bad)


@pytest.mark.parametrize("rows,cols", [(2, 2), (3, 1), (2, 3)])
def test_axis_pixel_shuffle(rows, cols):
    x = torch.arange(2 * 2 * rows * cols * 3 * 4, dtype=torch.float32).view(2, 2 * rows * cols, 3, 4)
    y = AxisPixelShuffle(rows, cols)(x)
    assert y.shape == (2, 2, 3 * rows, 4 * cols)
    if rows == cols:
        assert torch.equal(y, nn.PixelShuffle(rows)(x))
    if cols == 1:
        assert torch.equal(y, OneAxisPixelShuffle(rows)(x))


def test_srgan_fixed_scales_and_preupsampled_default():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 9, 10)
    plain = create_model("srgan", n_feats=8, n_blocks=2)
    assert plain.convention == PREUPSAMPLED and plain.residual and plain(x).shape == x.shape
    rows = create_model("srgan", n_feats=8, n_blocks=2, scale=3)
    assert rows.convention == ONE_AXIS_UPSAMPLING and rows(x).shape == (2, 1, 27, 10)
    both = create_model("srgan", n_feats=8, n_blocks=2, scale=2, col_scale=2)
    assert both(x).shape == (2, 1, 18, 20) and not both.residual
    with pytest.raises(ValueError, match="integers"):
        create_model("srgan", scale=2.5)


@pytest.mark.parametrize("size", [(16, 16), (23, 37)])
def test_discriminator_outputs_probabilities(size):
    torch.manual_seed(0)
    disc = create_model("srgan-discriminator")
    x = torch.randn(3, 1, *size)
    p = disc(x)
    assert p.shape == (3, 1) and ((p > 0) & (p < 1)).all()
    torch.testing.assert_close(torch.sigmoid(disc.logits(x)), p)
    assert any(isinstance(m, nn.LeakyReLU) for m in disc.modules())
    assert any(isinstance(m, nn.AdaptiveAvgPool2d) for m in disc.modules())
    with torch.device("meta"):
        paper = create_model("srgan-discriminator", preset="paper")
    assert n_params(paper) > 10 * n_params(disc)
    with pytest.raises(ValueError, match="presets"):
        create_model("srgan-discriminator", preset="huge")
