"""Self-supervised and paired training end to end: model folders that reconstruction can load."""

import json

import numpy as np
import pytest
import torch

from isovox.errors import IsovoxError
from isovox.store import load_model
from isovox.training import TRAIN_METHODS, SelfSupConfig, train, train_selfsup
from isovox.training.recipes.common import default_workdir
from isovox.volume import Volume

TINY = {"n_feats": 8, "n_blocks": 1}
QUICK = dict(arch="drcnet", model_kwargs=TINY, patch_size=32, batch_size=4, validate_every=10,
             checkpoint_every=10, validation_pairs=8, device="cpu")


def test_train_selfsup_writes_a_loadable_model_folder(blobs, tmp_path):
    out = train_selfsup(blobs, tmp_path / "model", iterations=30, **QUICK)
    assert out == tmp_path / "model" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # workdir gone
    model, card = load_model(out)
    assert card.method == "selfsup" and card.architecture["name"] == "drcnet"
    assert card.architecture["kwargs"] == TINY
    assert (card.factor, card.lowres_spacing, card.target_spacing, card.unit) == (4.0, 4.0, 1.0, "nm")
    assert card.normalisation.low < card.normalisation.high and card.normalisation.percentiles == (0.1, 99.9)
    # the default recipe 'auto' trains for the acquisition it estimated and checked, and says so
    estimate = card.degradation["estimated_acquisition"]
    assert card.degradation["recipe"] == estimate["trained_for"]["recipe"]
    assert card.degradation["thickness"] == estimate["trained_for"]["thickness"]
    assert card.degradation["axis"] == "z"
    training = card.training
    assert training["iterations"] == 30 and training["seed"] == 0 and training["device"] == "cpu"
    assert training["input_validation_psnr"] > 0                       # the cubic input's PSNR
    assert training["best_validation_psnr"] >= training["final_validation_psnr"]
    assert training["best_iteration"] in (10, 20, 30)
    x = torch.rand(1, 1, 29, 32)
    assert model(x).shape == x.shape
    json.loads((out / "config.json").read_text())                     # plain JSON


def test_existing_output_raises_before_training(blobs, tmp_path):
    (tmp_path / "model").mkdir()
    with pytest.raises(IsovoxError, match="exists"):                 # 10 000 iterations never start
        train_selfsup(blobs, tmp_path / "model", iterations=10_000, **QUICK)
    assert not default_workdir(tmp_path / "model").exists()


def test_interrupted_run_resumes_from_the_hidden_workdir(blobs, tmp_path, interrupt_sampling):
    from isovox.pairs import LateralPairs

    resume = interrupt_sampling(LateralPairs, after=12)
    with pytest.raises(KeyboardInterrupt):
        train_selfsup(blobs, tmp_path / "model", iterations=20, **QUICK)
    workdir = default_workdir(tmp_path / "model")
    assert (workdir / "checkpoint.pt").is_file() and not (tmp_path / "model").exists()
    resume()
    with pytest.raises(IsovoxError, match="other settings"):
        train_selfsup(blobs, tmp_path / "model", iterations=20, **{**QUICK, "recipe": "box"})
    out = train_selfsup(blobs, tmp_path / "model", iterations=20, **QUICK)
    card = load_model(out)[1]
    assert card.training["iterations"] == 20 and card.training["runs"] == 2
    assert not workdir.exists()


def test_train_dispatch_and_errors(blobs, tmp_path):
    assert {"selfsup", "paired2d", "supervised3d"} <= set(TRAIN_METHODS)
    with pytest.raises(IsovoxError, match="selfsup, paired2d"):
        train(blobs, tmp_path / "m", method="magic")
    with pytest.raises(IsovoxError, match="unknown training setting"):
        train(blobs, tmp_path / "m", iterationz=3)
    with pytest.raises(IsovoxError, match="ground_truth"):
        train(blobs, tmp_path / "m", method="paired2d")
    with pytest.raises(IsovoxError, match="highres"):
        train(blobs, tmp_path / "m", method="supervised3d", factor=2)
    with pytest.raises(IsovoxError, match="highres"):
        train(blobs, tmp_path / "m", highres=[blobs])
    with pytest.raises(IsovoxError, match="unknown 2D architecture"):
        train(blobs, tmp_path / "m", arch="nope", **{k: v for k, v in QUICK.items() if k != "arch"})
    with pytest.raises(IsovoxError, match="fwhm or thickness"):
        train(blobs, tmp_path / "m", fwhm=3.0, thickness=3.0, **QUICK)
    with pytest.raises(IsovoxError, match="isotropic"):
        train(blobs.replace(spacing=(1, 1, 1)), tmp_path / "m", **QUICK)
    assert not (tmp_path / "m").exists()


def test_train_paired_oracle(tmp_path):
    rng = np.random.default_rng(1)
    from scipy import ndimage as ndi
    truth = Volume(ndi.gaussian_filter(rng.standard_normal((64, 40, 40)), 2).astype(np.float32), (1, 1, 1), "nm")
    lowres = truth.replace(data=truth.data[::4], spacing=(4.0, 1.0, 1.0))
    out = train(lowres, tmp_path / "oracle", method="paired2d", ground_truth=truth, iterations=10, **QUICK)
    model, card = load_model(out)
    assert card.method == "paired2d" and card.factor == 4.0 and card.target_spacing == 1.0
    assert card.degradation["pairs"] == "axial ground truth"


def test_config_defaults_are_documented_choices():
    config = SelfSupConfig()
    assert (config.arch, config.recipe, config.alpha, config.validation_fraction) == ("drcnet", "auto", 0.01, 0.1)


def test_selfsup_training_beats_cubic(binary_blobs, tmp_path):
    """Learning check: sharp binary blobs, 200 iterations of a small drcnet. The blobs are drawn on
    the anisotropic grid (not an acquisition of isotropic tissue), so the recipe is named."""
    out = train_selfsup(binary_blobs, tmp_path / "model", arch="drcnet", model_kwargs={"n_feats": 16, "n_blocks": 2},
                        recipe="gaussian",
                        patch_size=32, batch_size=8, iterations=200, lr=2e-3, validate_every=50,
                        validation_pairs=32, device="cpu")
    training = load_model(out)[1].training
    assert training["best_validation_psnr"] > training["input_validation_psnr"] + 1.0, training
