"""Slice-wise model reconstruction: grid, orientation, fusion, card checks, model folders."""

import json

import numpy as np
import pytest
from torch import nn

from isovox.errors import IsovoxError
from isovox.reconstruction import reconstruct, reconstruct_with_model
from isovox.store import ModelCard, save_model
from isovox.volume import Volume
from reconstruction_nets import identity_drcnet, random_drcnet


def card_for(factor=4.0, lowres=40.0, target=10.0, unit="nm", low=0.0, high=255.0, model=None):
    arch = getattr(model, "build_config", {"name": "drcnet", "preset": "default", "kwargs": {}})
    return ModelCard(method="test", architecture=arch, factor=factor, lowres_spacing=lowres,
                     target_spacing=target, unit=unit, normalisation={"low": low, "high": high})


class FlipColumns(nn.Module):
    """Not symmetric: mirrors each plane's columns, so every orientation leaves its own trace."""

    def forward(self, x):
        return x.flip(-1)


def volume(spacing=(40, 10, 10), shape=(6, 14, 11), dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, shape) if np.issubdtype(dtype, np.integer) else rng.normal(1, 1, shape)
    return Volume(data.astype(dtype), spacing, "nm", origin=(3.0, -2.0, 5.0))


@pytest.mark.parametrize("spacing, shape, factor", [
    ((40, 10, 10), (6, 14, 11), 4.0),      # z low-res
    ((10, 10, 40), (14, 11, 6), 4.0),      # x low-res
    ((65, 10, 10), (5, 9, 12), 6.5),       # non-integer factor
])
@pytest.mark.parametrize("dtype, tolerance", [(np.uint8, 1), (np.float32, 1e-5)])
def test_identity_network_reproduces_cubic_interpolation(spacing, shape, factor, dtype, tolerance):
    vol = volume(spacing, shape, dtype)
    low, high = (0.0, 255.0) if dtype == np.uint8 else (-1.0, 3.0)
    card = card_for(factor, max(spacing), 10.0, low=low, high=high)
    out = reconstruct_with_model(vol, identity_drcnet(), card, device="cpu", batch_size=3, progress=False)
    cubic = reconstruct(vol, "cubic")
    assert out.shape == cubic.shape and out.dtype == vol.dtype
    assert out.spacing == cubic.spacing and out.origin == cubic.origin
    np.testing.assert_allclose(out.numpy().astype(float), cubic.numpy().astype(float), atol=tolerance, rtol=0)


@pytest.mark.parametrize("spacing, shape, columns", [
    ((40, 10, 10), (6, 14, 11), {"xz": 2, "yz": 1}),   # xz planes: rows z, columns x
    ((10, 10, 40), (14, 11, 6), {"xy": 1, "xz": 0}),   # low-res x: rows x, columns y (xy) or z (xz)
])
def test_both_orientations_are_processed_and_mean_averages_them(spacing, shape, columns):
    vol = volume(spacing, shape, np.float32)
    card = card_for(4.0, 40.0, 10.0, low=-1.0, high=3.0)
    cubic = reconstruct(vol, "cubic").numpy()
    single = {}
    for family, column_axis in columns.items():
        result = reconstruct_with_model(vol, FlipColumns(), card, fusion=family, progress=False)
        single[family] = result.numpy()
        np.testing.assert_allclose(single[family], np.flip(cubic, column_axis), atol=1e-5)
    first, second = single.values()
    assert np.abs(first - second).max() > 0.1
    mean = reconstruct_with_model(vol, FlipColumns(), card, progress=False).numpy()
    np.testing.assert_allclose(mean, (first + second) / 2, atol=1e-5)


def test_unknown_fusion_is_refused():
    with pytest.raises(IsovoxError, match="choose 'mean' or one of xz, yz"):
        reconstruct_with_model(volume(), FlipColumns(), card_for(), fusion="xy", progress=False)


@pytest.mark.parametrize("spacing, shape, factor, step", [((40, 10, 10), (6, 14, 11), 4.0, 1),
                                                          ((65, 10, 10), (5, 9, 12), 6.5, 2)])
def test_keep_acquired_puts_the_acquired_slices_back(spacing, shape, factor, step):
    vol = volume(spacing, shape)
    card = card_for(factor, spacing[0], 10.0)
    out = reconstruct_with_model(vol, random_drcnet(), card, keep_acquired=True, progress=False).numpy()
    plain = reconstruct_with_model(vol, random_drcnet(), card, progress=False).numpy()
    kept = np.arange(0, shape[0], step)
    positions = np.rint(kept * factor).astype(int)
    np.testing.assert_array_equal(out[positions], vol.numpy()[kept])
    others = np.setdiff1d(np.arange(out.shape[0]), positions)
    np.testing.assert_array_equal(out[others], plain[others])
    assert not np.array_equal(plain[positions], vol.numpy()[kept])


def test_tiled_reconstruction_equals_whole_planes():
    vol = volume((40, 10, 10), (6, 30, 27))
    whole = reconstruct_with_model(vol, random_drcnet(), card_for(), dtype=np.float32, progress=False)
    tiled = reconstruct_with_model(vol, random_drcnet(), card_for(), dtype=np.float32, tile=8,
                                   batch_size=5, progress=False)
    np.testing.assert_allclose(tiled.numpy(), whole.numpy(), atol=1e-3)   # intensities in 0..255


def test_factor_mismatch_names_both_factors_and_the_fix():
    message = (r"model folder was trained for factor 4 \(40 -> 10 nm\) but this volume needs 6.5 "
               r"\(65 -> 10 nm\); retrain for this volume or give a target spacing of 16.25 nm")
    with pytest.raises(IsovoxError, match=message):
        reconstruct_with_model(volume((65, 10, 10)), random_drcnet(), card_for(), progress=False)


def test_card_units_are_converted():
    vol = Volume(volume().numpy(), (0.04, 0.01, 0.01), "um")
    out = reconstruct_with_model(vol, identity_drcnet(), card_for(), progress=False)
    assert out.spacing == pytest.approx((0.01, 0.01, 0.01)) and out.unit == "um"


def test_isotropic_volume_is_refused():
    with pytest.raises(IsovoxError, match="isotropic"):
        reconstruct_with_model(volume((10, 10, 10)), random_drcnet(), card_for(), progress=False)


def test_model_folder_end_to_end(tmp_path):
    model = random_drcnet()
    folder = save_model(tmp_path / "model", model, card_for(model=model))
    vol = volume()
    out = reconstruct(vol, model=folder, device="cpu", batch_size=4)
    direct = reconstruct_with_model(vol, model, card_for(model=model), progress=False)
    assert out.shape == (21, 14, 11) and out.spacing == (10, 10, 10) and out.dtype == np.uint8
    np.testing.assert_array_equal(out.numpy(), direct.numpy())
    # A target that gives the trained factor is accepted (65 -> 16.25 nm is factor 4) ...
    other = reconstruct(volume((65, 10, 10)), target_spacing=(16.25, 10, 10), model=folder)
    assert other.spacing == (16.25, 10, 10)
    # ... one that does not, or that moves a lateral axis, or another method, is refused.
    with pytest.raises(IsovoxError, match="trained for factor 4"):
        reconstruct(vol, target_spacing=5, model=folder)
    with pytest.raises(IsovoxError, match="low-resolution axis only"):
        reconstruct(vol, target_spacing=(10, 5, 10), model=folder)
    with pytest.raises(IsovoxError, match="method 'linear' does not apply"):
        reconstruct(vol, "linear", model=folder)


def test_model_folder_with_unknown_architecture_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    card = json.loads(card_for().to_json())
    card["architecture"] = {"name": "no-such-net", "kwargs": {}}
    (folder / "config.json").write_text(json.dumps(card))
    with pytest.raises(IsovoxError, match="unknown architecture 'no-such-net'"):
        reconstruct(volume(), model=folder)


def test_missing_model_folder_is_refused(tmp_path):
    with pytest.raises(IsovoxError, match="model folder not found"):
        reconstruct(volume(), model=tmp_path / "nothing")
