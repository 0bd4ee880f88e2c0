"""Arbitrary-scale training (Meta-SRGAN, paper 002): scaled lateral pairs, the GAN step, the recipe."""

import json

import numpy as np
import pytest
import torch

from isovox.degrade.functional import slice_positions
from isovox.errors import IsovoxError
from isovox.models import create_model
from isovox.models.meta_upscale import output_length
from isovox.models.vgg import VGG19
from isovox.store import load_model
from isovox.training import TrainSettings, fit_networks
from isovox.training.recipes.arbitrary_scale import (ArbitraryScaleConfig, ScaledLateralPairs, make_step,
                                                     scale_range, train_arbitrary_scale)
from isovox.models.vgg import PerceptualLoss
from isovox.volume import Volume

TINY = {"n_feats": 8, "n_blocks": 1, "hidden": 8}
QUICK = dict(model_kwargs=TINY, patch_size=24, batch_size=4, checkpoint_every=10, validation_pairs=4,
             device="cpu")


def test_scale_range_is_the_papers():
    scales = scale_range()
    assert len(scales) == 30 and scales[0] == 1.1 and scales[-1] == 4.0 and 2.5 in scales and 3.3 in scales
    assert ArbitraryScaleConfig().scale_min == 1.1 and ArbitraryScaleConfig().scale_max == 4.0


@pytest.mark.parametrize("scale", [2.0, 2.5, 3.3, 4.0])
def test_pairs_follow_the_grid_convention(blobs, scale):
    pairs = ScaledLateralPairs(blobs, axis=None, scales=(scale,), patch_size=24, recipe="take")
    lowres, target, pair = pairs.sample(3, np.random.default_rng(0))
    n_lr = len(slice_positions(24, scale))
    assert pair == (scale, 1.0)
    assert lowres.shape == (3, 1, n_lr, 24) and target.shape == (3, 1, output_length(n_lr, scale), 24)
    # 'take': low-res row k is the sharp row at k * scale wherever that is a whole row.
    k = np.arange(n_lr)
    whole = np.abs(k * scale - np.rint(k * scale)) < 1e-9
    np.testing.assert_allclose(lowres[:, :, k[whole]], target[:, :, np.rint(k[whole] * scale).astype(int)], atol=1e-6)


def test_both_axes_and_uniform_scale_choice(blobs):
    pairs = ScaledLateralPairs(blobs, axis="z", scales=scale_range(), patch_size=16, both_axes=True)
    sampler = pairs.batch_sampler(1)
    seen = {sampler(i)[2] for i in range(300)}      # seeded: the same 300 draws every run
    assert {s for s, _ in seen} == set(scale_range()) and all(r == c for r, c in seen)
    lowres, target, (s, _) = sampler(7)
    assert target.shape[2:] == (output_length(lowres.shape[2], s), output_length(lowres.shape[3], s))
    again = sampler(7)
    assert np.array_equal(again[0], lowres) and again[2][0] == s     # a pure function of the iteration


def test_max_information_crop_keeps_patches_on_the_object():
    data = np.zeros((20, 80, 80), np.float32)
    data[:, 30:66, 10:50] = 1.0 + np.random.default_rng(0).random((20, 36, 40))   # the "brain"
    volume = Volume(data, (1.0, 1.0, 1.0), "mm")
    pairs = ScaledLateralPairs(volume, axis="z", scales=(2.0,), patch_size=32, crop="max-information")
    sharp = pairs.sharp(pairs.train, 64, np.random.default_rng(1))
    assert (sharp > 0.05).mean(axis=(1, 2)).min() > 0.99                # no background in any patch
    whole = ScaledLateralPairs(volume, axis="z", scales=(2.0,), patch_size=32)
    assert (whole.sharp(whole.train, 64, np.random.default_rng(1)) > 0.05).mean() < 0.8
    with pytest.raises(IsovoxError, match="crop"):
        ScaledLateralPairs(volume, axis="z", scales=(2.0,), patch_size=32, crop="brain")


def test_gan_step_trains_both_networks_with_every_loss(blobs, tmp_path):
    torch.manual_seed(0)
    vgg_path = tmp_path / "vgg19.pth"
    torch.save(VGG19().state_dict(), vgg_path)
    pairs = ScaledLateralPairs(blobs, axis=None, scales=(2.0, 3.5), patch_size=20)
    assert pairs.smallest_target() == 18          # VGG19 needs 16 rows (four 2x2 pools)
    generator = create_model("meta-srgan", **TINY)
    critic = create_model("srgan-discriminator", n_feats=4, n_stages=2, dense_features=8)
    before = [p.detach().clone() for p in critic.parameters()]
    perceptual = PerceptualLoss(vgg_path)
    history = fit_networks({"G": generator, "D": critic}, {"G": {"lr": 1e-3}, "D": {"lr": 1e-4}},
                           make_step(1.0, 0.001, perceptual, 0.006), pairs.batch_sampler(1),
                           TrainSettings(iterations=2, device="cpu", warmup=0), tmp_path / "work",
                           keep_best=False, losses=[perceptual])
    assert set(history["terms"]) == {"loss", "l1", "d_loss", "adversarial", "perceptual"}
    assert all(len(v) == 2 and np.isfinite(v).all() for v in history["terms"].values())
    assert any(not torch.equal(a, b) for a, b in zip(before, critic.parameters()))


def test_recipe_writes_an_arbitrary_scale_model_folder(blobs, tmp_path):
    out = train_arbitrary_scale(blobs, tmp_path / "model", iterations=12, validation_scales=(2.0, 3.3), **QUICK)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]     # the work folder is gone
    model, card = load_model(out)
    assert card.method == "arbitrary-scale" and card.architecture["name"] == "meta-srgan"
    assert card.degradation["scales"] == [1.1, 4.0] and card.degradation["axis"] == "z"
    assert (card.lowres_spacing, card.target_spacing, card.unit) == (4.0, 1.0, "nm")
    assert card.training["iterations"] == 12 and card.training["loss"] == "L1"
    assert set(card.training["held_out"]) == {"2", "3.3"}
    assert model(torch.rand(1, 1, 9, 16), 2.5).shape == (1, 1, 21, 16)
    json.loads((out / "config.json").read_text())


def test_recipe_trains_a_fixed_srgan_for_comparison(blobs, tmp_path):
    out = train_arbitrary_scale(blobs, tmp_path / "srgan", arch="srgan", iterations=4, axis="z", both_axes=True,
                                validation_scales=(2.0,), **{**QUICK, "model_kwargs": {"n_feats": 8, "n_blocks": 1,
                                                                                       "scale": 2, "col_scale": 2}})
    card = load_model(out)[1]
    assert card.degradation["scales"] == [2.0, 2.0] and card.degradation["both_axes"]


def test_recipe_errors(blobs, tmp_path):
    with pytest.raises(IsovoxError, match="vgg_weights"):
        train_arbitrary_scale(blobs, tmp_path / "m", perceptual_weight=0.006, **QUICK)
    with pytest.raises(IsovoxError, match="at least 16 rows"):
        torch.save(VGG19().state_dict(), tmp_path / "vgg.pth")
        train_arbitrary_scale(blobs, tmp_path / "m", vgg_weights=str(tmp_path / "vgg.pth"),
                              **{**QUICK, "patch_size": 16})
    with pytest.raises(IsovoxError, match="meta-srgan or srgan"):
        train_arbitrary_scale(blobs, tmp_path / "m", arch="drcnet", **QUICK)
    with pytest.raises(IsovoxError, match="own scale"):
        train_arbitrary_scale(blobs, tmp_path / "m", arch="srgan", **{**QUICK, "model_kwargs": {"n_blocks": 1}})
    with pytest.raises(IsovoxError, match="unknown training setting"):
        train_arbitrary_scale(blobs, tmp_path / "m", scales=(2, 3))
    with pytest.raises(IsovoxError, match="patch size"):
        train_arbitrary_scale(blobs, tmp_path / "m", **{**QUICK, "patch_size": 8})
    assert not (tmp_path / "m").exists()


def test_one_model_beats_cubic_at_several_scales(binary_blobs, tmp_path):
    """Learning check: sharp binary blobs, 150 iterations over the paper's scale range, held-out
    planes scored at two scales (networks fed low-res planes learn more slowly than pre-upsampled
    ones on this toy, hence the modest margin)."""
    out = train_arbitrary_scale(binary_blobs, tmp_path / "model", model_kwargs={"n_feats": 16, "n_blocks": 1,
                                "hidden": 16}, patch_size=24, batch_size=8, iterations=150, lr=3e-3,
                                validation_pairs=16, validation_scales=(2.0, 3.0), device="cpu")
    scores = load_model(out)[1].training["held_out"]
    for scale in ("2", "3"):
        assert scores[scale]["psnr"] > scores[scale]["cubic_psnr"] + 0.2, scores
