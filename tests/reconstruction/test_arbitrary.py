"""Arbitrary-scale reconstruction: any target spacing from one model folder, on isovox's grid."""

import warnings

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from isovox.errors import IsovoxError
from isovox.models import create_model
from isovox.reconstruction import reconstruct
from isovox.reconstruction.arbitrary import predict_scaled_planes, reconstruct_arbitrary
from isovox.store import ModelCard, save_model
from isovox.volume import Volume

CPU = torch.device("cpu")


def _card(**changes):
    values = dict(method="arbitrary-scale", architecture={}, factor=4.0, lowres_spacing=4.0, target_spacing=1.0,
                  unit="nm", normalisation={"low": 0.0, "high": 100.0}, degradation={"scales": [1.1, 4.0]})
    values.update(changes)
    return ModelCard(**values)


def _folder(tmp_path, name="meta", silent=False, **kwargs):
    torch.manual_seed(0)
    model = create_model(name, **{"n_feats": 8, "n_blocks": 1, **kwargs})
    if silent:    # zero Meta-Upscale: the network is its bicubic skip
        torch.nn.init.zeros_(model.upscale.predict[-1].weight)
        torch.nn.init.zeros_(model.upscale.predict[-1].bias)
    else:         # random filters, so the network does something other than interpolate
        torch.nn.init.normal_(model.upscale.predict[-1].weight, std=0.05)
    folder = tmp_path / f"{name}-{'silent' if silent else 'random'}"
    save_model(folder, model.eval(), _card(architecture=model.build_config))
    return folder


@pytest.fixture(scope="module")
def anisotropic():
    data = ndi.gaussian_filter(np.random.default_rng(0).standard_normal((9, 20, 18)), (0.7, 2, 2))
    return Volume((50 + 40 * data).astype(np.float32), (4.0, 1.0, 1.0), "nm", origin=(3.0, -2.0, 5.0))


@pytest.mark.parametrize("target", [1.0, 4.0 / 2.5, 4.0 / 3.3, 0.8])
def test_grid_matches_cubic_reconstruction(anisotropic, tmp_path, target):
    folder = _folder(tmp_path, "meta-srgan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # 5x (target 0.8) is outside the trained range
        result = reconstruct_arbitrary(anisotropic, folder, target_spacing=target, progress=False)
    cubic = reconstruct(anisotropic, "cubic", target_spacing=target)
    assert result.shape == cubic.shape and result.dtype == anisotropic.dtype
    np.testing.assert_allclose(result.spacing, cubic.spacing, rtol=1e-9)
    np.testing.assert_allclose(result.origin, cubic.origin)
    assert np.isfinite(result.data).all()


def test_silent_network_keeps_acquired_slices_and_fuses_both_families(anisotropic, tmp_path):
    """With a zero Meta-Upscale the model is bicubic interpolation: acquired slices stay exact."""
    folder = _folder(tmp_path, "meta-srgan", silent=True)
    result = reconstruct_arbitrary(anisotropic, folder, progress=False)
    np.testing.assert_allclose(result.data[::4], anisotropic.data, atol=1e-3)
    cubic = reconstruct(anisotropic, "cubic")
    assert np.abs(result.data - cubic.data).mean() < 0.05 * np.abs(cubic.data - cubic.data.mean()).mean()


def test_tiles_equal_the_whole_plane(tmp_path):
    torch.manual_seed(3)
    net = create_model("meta-srgan", n_feats=8, n_blocks=2, hidden=8).eval()
    planes = np.random.default_rng(1).standard_normal((2, 23, 31)).astype(np.float32)
    whole = predict_scaled_planes(net, planes, 3.3, device=CPU)
    for tile in (16, (11, 7), 1000):
        np.testing.assert_allclose(predict_scaled_planes(net, planes, 3.3, tile=tile, device=CPU), whole, atol=1e-5)


def test_keep_acquired_dtype_and_three_value_target(anisotropic, tmp_path):
    folder = _folder(tmp_path, "meta-srgan")
    uint8 = anisotropic.replace(data=np.clip(anisotropic.data, 0, 255).astype(np.uint8))
    result = reconstruct_arbitrary(uint8, folder, target_spacing=(2.0, 1.0, 1.0), keep_acquired=True, progress=False)
    assert result.dtype == np.uint8 and result.shape == (17, 20, 18)
    assert np.array_equal(result.data[::2], uint8.data)
    floats = reconstruct_arbitrary(uint8, folder, target_spacing=2.0, dtype="float32", progress=False)
    assert floats.dtype == np.float32
    with pytest.raises(IsovoxError, match="low-resolution axis only"):
        reconstruct_arbitrary(uint8, folder, target_spacing=(2.0, 0.5, 1.0), progress=False)


def test_outside_the_trained_range_warns(anisotropic, tmp_path):
    folder = _folder(tmp_path, "meta-srgan")
    with pytest.warns(UserWarning, match="outside the scales this model was trained on"):
        reconstruct_arbitrary(anisotropic, folder, target_spacing=0.5, progress=False)     # 8x
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reconstruct_arbitrary(anisotropic, folder, target_spacing=4.0 / 3.3, progress=False)


def test_fixed_srgan_runs_at_its_own_factor_only(anisotropic, tmp_path):
    torch.manual_seed(0)
    model = create_model("srgan", n_feats=8, n_blocks=1, scale=4)
    folder = tmp_path / "srgan"
    save_model(folder, model.eval(), _card(architecture=model.build_config, degradation={"scales": [4.0, 4.0]}))
    result = reconstruct_arbitrary(anisotropic, folder, progress=False)
    assert result.shape == reconstruct(anisotropic, "cubic").shape
    with pytest.raises(IsovoxError, match="fixed 4 x 1"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reconstruct_arbitrary(anisotropic, folder, target_spacing=2.0, progress=False)


def test_wrong_model_folder(anisotropic, tmp_path):
    model = create_model("drcnet", n_feats=4, n_blocks=1)
    save_model(tmp_path / "selfsup", model, _card(method="selfsup", architecture=model.build_config))
    with pytest.raises(IsovoxError, match="'selfsup' model"):
        reconstruct_arbitrary(anisotropic, tmp_path / "selfsup")
    with pytest.raises(IsovoxError, match="coarser than the input"):
        reconstruct_arbitrary(anisotropic, _folder(tmp_path, "meta-srgan"), target_spacing=5.0)
