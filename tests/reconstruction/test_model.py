"""The opened model object: one per kind, opened once, applied to many volumes, as the API does."""

import numpy as np
import pytest

import isovox
from isovox.errors import IsovoxError
from isovox.reconstruction import open_model
from isovox.reconstruction.arbitrary import ArbitraryScaleModel
from isovox.reconstruction.model import RunOptions
from isovox.reconstruction.slicewise import SliceModel
from isovox.reconstruction.volumetric import VolumeModel
from isovox.volume import Volume


def stack(seed=0, shape=(9, 21, 17)):
    data = np.random.default_rng(seed).normal(100, 30, shape).astype(np.float32)
    return Volume(data, (25.0, 10.0, 10.0), "nm", origin=(3.0, -2.0, 5.0))


@pytest.fixture(scope="module")
def folders(tmp_path_factory, save_tiny_model):
    root = tmp_path_factory.mktemp("kinds")
    return {
        "2d": save_tiny_model(root / "2d", n_feats=8, n_blocks=1),
        "3d": save_tiny_model(root / "3d", arch="deepresolve", n_feats=4, n_layers=3),
        "arbitrary-scale": save_tiny_model(root / "meta", arch="meta-srgan", method="arbitrary-scale",
                                           n_feats=8, n_blocks=1),
    }


@pytest.mark.parametrize("kind, cls", [("2d", SliceModel), ("3d", VolumeModel),
                                       ("arbitrary-scale", ArbitraryScaleModel)])
def test_open_model_picks_the_kind_and_equals_the_folder_path_api(folders, kind, cls):
    model = open_model(folders[kind], device="cpu")
    assert type(model) is cls and model.kind == kind and model.device.type == "cpu"
    volume = stack()
    grid = model.grid(volume)
    cubic = isovox.reconstruct(volume, "cubic")
    assert grid.output_shape(volume.shape) == cubic.shape and grid.output_spacing == cubic.spacing
    opened = model.reconstruct(volume, progress=False)
    by_path = isovox.reconstruct(volume, model=folders[kind], device="cpu")
    np.testing.assert_array_equal(opened.numpy(), by_path.numpy())
    assert opened.spacing == cubic.spacing and opened.origin == cubic.origin
    # an opened model passed to the API is used as it is
    np.testing.assert_array_equal(isovox.reconstruct(volume, model=model).numpy(), by_path.numpy())


def test_one_opened_model_serves_many_volumes_and_blocks(folders):
    model = open_model(folders["2d"], device="cpu")
    first, second = stack(1), stack(2, shape=(6, 30, 12))
    grid = model.grid(first)
    assert model.grid(second) == grid                      # the grid depends on spacing only
    for volume in (first, second):
        expected = isovox.reconstruct(volume, model=folders["2d"], device="cpu")
        np.testing.assert_array_equal(model.reconstruct(volume, grid=grid, progress=False).numpy(),
                                      expected.numpy())


def test_reach_covers_the_network_and_the_cubic_kernel(folders):
    volume = stack()
    reach2d = open_model(folders["2d"]).reach(open_model(folders["2d"]).grid(volume))
    assert min(reach2d.halo) > 0 and reach2d.kernel_radius == 2
    meta = open_model(folders["arbitrary-scale"])
    reach = meta.reach(meta.grid(volume))
    assert reach.halo[0] == 0 and reach.halo[1] == reach.halo[2] > 0      # no halo along the low-res axis


def test_options_a_kind_lacks_are_refused_before_any_work(folders):
    with pytest.raises(IsovoxError, match="apply to slice-wise 2D models"):
        VolumeModel.check_options(RunOptions(tta=True))
    with pytest.raises(IsovoxError, match="float32 only"):
        open_model(folders["arbitrary-scale"]).reconstruct(stack(), precision="bf16")
    with pytest.raises(IsovoxError, match="unknown precision"):
        RunOptions(precision="fp8")
    with pytest.raises(IsovoxError, match="trained for factor 2.5"):
        open_model(folders["2d"]).grid(stack().replace(spacing=(40.0, 10.0, 10.0)))


def test_uncertainty_is_the_spread_of_the_variants(folders):
    model = open_model(folders["2d"], device="cpu")
    volume = stack()
    result, spread = model.reconstruct_with_uncertainty(volume, progress=False)
    assert spread.shape == result.shape and spread.dtype == np.float32 and float(spread.numpy().min()) >= 0
    tta = model.reconstruct(volume, tta=True, progress=False)
    np.testing.assert_array_equal(result.numpy(), tta.numpy())
    with pytest.raises(IsovoxError, match="tta=False"):
        model.reconstruct_with_uncertainty(volume, tta=False)
