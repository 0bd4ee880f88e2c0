"""Latent interpolation of paper 003 (isovox.latent): KL terms, tiles, the grid, synthesis, Fig. 9."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from isovox.errors import IsovoxError
from isovox.latent import (PlaneTiles, interpolation_positions, kl_between, kl_to_standard_normal,
                           latent_distances, synthesize_slices, synthesize_volume, tile_starts)
from isovox.models import create_model
from isovox.resample import apply_along_axis, resampling_matrix
from isovox.volume import Volume, output_length

TINY = {"slice_size": 16, "latent": 6, "n_blocks": 2, "n_feats": 4, "max_feats": 8}


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return create_model("slice_vae", **TINY).eval()


class MeanEncoder(nn.Module):
    """A stand-in VAE whose code is the tile's mean intensity times a fixed vector."""

    slice_size = 16

    def __init__(self):
        super().__init__()
        self.direction = nn.Parameter(torch.tensor([1.0, 2.0, 2.0]), requires_grad=False)

    def encode(self, x):
        mu = x.mean(dim=(1, 2, 3))[:, None] * self.direction
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        return z[:, 0, None, None, None] * torch.ones(1, 1, 16, 16)


def test_kl_terms_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_p, mu_q, lv_p, lv_q = (torch.randn(5, 7, generator=g) for _ in range(4))
    expected = kl_divergence(Normal(mu_p, (0.5 * lv_p).exp()), Normal(mu_q, (0.5 * lv_q).exp())).sum(-1)
    assert torch.allclose(kl_between(mu_p, lv_p, mu_q, lv_q), expected, atol=1e-5)
    standard = kl_divergence(Normal(mu_p, (0.5 * lv_p).exp()), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(kl_to_standard_normal(mu_p, lv_p), standard, atol=1e-5)
    assert torch.allclose(kl_between(mu_p, lv_p, mu_p, lv_p), torch.zeros(5), atol=1e-6)


@pytest.mark.parametrize("length", [7, 16, 17, 40, 61])
def test_tiles_cover_the_plane_and_blend_back_exactly(length):
    starts = tile_starts(length, 16, 4)
    assert starts[0] == 0 and starts[-1] == max(0, length - 16)
    assert all(b - a <= 12 for a, b in zip(starts, starts[1:]))          # overlap of at least 4
    planes = np.random.default_rng(length).random((3, length, 23)).astype(np.float32)
    tiles = PlaneTiles(planes.shape[1:], 16, 4)
    cut = tiles.cut(planes)
    assert cut.shape == (3, tiles.count, 16, 16)
    assert np.allclose(tiles.blend(cut), planes, atol=1e-6)


def test_acquired_slice_k_lands_on_output_k_times_factor():
    for factor in (4, 2.5, 3.0):
        lower, xi = interpolation_positions(9, factor)
        assert len(lower) == output_length(9, factor)
        position = lower + xi
        assert np.allclose(position, np.arange(len(lower)) / factor)
        assert lower.max() == 7 and xi[-1] == pytest.approx(1.0)
    lower, xi = interpolation_positions(3, 2.5)       # output 5 is acquired slice 2: (1, xi=1)
    assert (lower[5], xi[5]) == (1, pytest.approx(1.0))
    with pytest.raises(IsovoxError, match="at least 2"):
        interpolation_positions(1, 4)


def test_residual_mode_keeps_acquired_slices_and_decoded_mode_decodes_them(vae):
    planes = np.random.default_rng(0).random((4, 20, 30)).astype(np.float32)
    kept = synthesize_slices(vae, planes, 4, mode="residual")
    assert kept.shape == (13, 20, 30)
    assert np.allclose(kept[::4], planes, atol=1e-5)
    decoded = synthesize_slices(vae, planes, 4, mode="decoded")
    assert not np.allclose(decoded[::4], planes, atol=1e-2)
    # the in-between slices differ between the modes by the cubic interpolation of the misfit
    misfit = planes - decoded[::4]
    carried = apply_along_axis(misfit, resampling_matrix(4, np.arange(13) / 4, "cubic"), 0)
    assert np.allclose(kept - decoded, carried, atol=1e-5)
    middle = (-misfit[0] + 9 * misfit[1] + 9 * misfit[2] - misfit[3]) / 16      # Keys at xi = 1/2
    assert np.allclose(kept[6] - decoded[6], middle, atol=1e-5)
    with pytest.raises(IsovoxError, match="synthesis mode"):
        synthesize_slices(vae, planes, 4, mode="bilinear")


def test_codes_are_interpolated_linearly_between_neighbours():
    encoder = MeanEncoder()
    planes = np.stack([np.full((16, 16), v, np.float32) for v in (0.0, 1.0)])
    out = synthesize_slices(encoder, planes, 4, mode="decoded")
    assert np.allclose(out.mean(axis=(1, 2)), [0, 0.25, 0.5, 0.75, 1.0], atol=1e-6)


def test_synthesized_volume_lies_on_the_grid_convention(vae):
    data = np.random.default_rng(1).random((20, 5, 18)).astype(np.float32) * 100
    volume = Volume(data, spacing=(1.0, 4.0, 1.0), unit="mm", origin=(3.0, -2.0, 1.0))
    norm = {"low": 0.0, "high": 100.0}
    result = synthesize_volume(vae, volume, 4, "y", norm)
    assert result.shape == (20, 17, 18) and result.spacing == (1.0, 1.0, 1.0)
    assert result.origin == volume.origin
    assert np.allclose(result.data[:, ::4], data, atol=1e-3)   # residual mode, original units


def test_latent_distances_of_a_linear_latent_space():
    encoder = MeanEncoder()
    planes = np.stack([np.full((16, 16), 0.1 * j, np.float32) for j in range(9)])   # 2 LR pairs, K = 4
    result = latent_distances(encoder, planes, 4)
    assert result["d1"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert result["d2"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert result["d1"]["count"] == 4 and result["d2"]["count"] == 2 and result["d3"]["count"] == 8
    assert result["d3"]["mean"] == pytest.approx(0.1 * 3.0, rel=1e-5)      # |0.1 * (1, 2, 2)|
    bent = planes.copy()
    bent[2] += 0.5                                                          # a slice off the line
    assert latent_distances(encoder, bent, 4)["d2"]["mean"] == pytest.approx(0.25 * 3.0, rel=1e-4)
    with pytest.raises(IsovoxError, match="integer factor"):
        latent_distances(encoder, planes, 2.5)
