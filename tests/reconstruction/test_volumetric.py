"""3D patch reconstruction (paper 004 sec. 4.1): exact patches, the receptive radius, the grid."""

import numpy as np
import pytest
import torch

from isovox.errors import IsovoxError
from isovox.models import create_model
from isovox.reconstruction.volumetric import VolumeModel, check_card3d, predict_volume, receptive_radius3d
from isovox.store import ModelCard
from isovox.volume import Volume


def tiny_3d(seed=0):
    torch.manual_seed(seed)
    return create_model("deepresolve", n_feats=4, n_layers=3).eval()


def card3d(axes=("z",), factor=2.5):
    return ModelCard(method="supervised3d", architecture={"name": "deepresolve"}, factor=factor,
                     lowres_spacing=25.0, target_spacing=10.0, unit="nm",
                     normalisation={"low": 0.0, "high": 255.0}, degradation={"axes": list(axes)})


def test_receptive_radius_is_the_convolution_stack_reach():
    # three 3x3x3 convolutions reach one voxel each
    assert receptive_radius3d(tiny_3d()) == 3


def test_patches_with_the_receptive_margin_equal_the_whole_volume():
    volume = np.random.default_rng(0).random((13, 17, 11), dtype=np.float32)
    model = tiny_3d()
    whole = predict_volume(model, volume)
    patched = predict_volume(model, volume, patch=(4, 7, 5))
    np.testing.assert_allclose(patched, whole, atol=1e-6)
    # a margin narrower than the reach is only approximate: the test above could fail
    assert np.abs(predict_volume(model, volume, patch=4, margin=0) - whole).max() > 1e-4


def test_grid_of_a_one_axis_model_follows_the_coarse_axis():
    volume = Volume(np.zeros((8, 8, 9), np.float32), (10, 10, 25), "nm")
    grid = check_card3d(volume, card3d())
    assert grid.axis == 2 and grid.target == (10, 10, 10) and grid.refined == (2,)
    with pytest.raises(IsovoxError, match="trained for factor 2.5"):
        check_card3d(Volume(np.zeros((8, 8, 9), np.float32), (10, 10, 40), "nm"), card3d())
    with pytest.raises(IsovoxError, match="one target spacing"):
        check_card3d(volume, card3d(), target_spacing=[10, 10, 10])


def test_a_two_axis_model_refines_both_and_has_no_acquired_slices():
    volume = Volume(np.random.default_rng(1).random((9, 6, 6), dtype=np.float32) * 255, (10, 25, 25), "nm")
    model = VolumeModel(tiny_3d(), card3d(axes=("y", "x")))
    grid = model.grid(volume)
    assert grid.refined == (1, 2) and grid.output_shape(volume.shape) == (9, 13, 13)
    result = model.reconstruct(volume, progress=False)
    assert result.shape == (9, 13, 13) and result.spacing == (10, 10, 10)
    with pytest.raises(IsovoxError, match="keep_acquired applies to one-axis models only"):
        model.reconstruct(volume, keep_acquired=True, progress=False)


def test_a_z_model_on_a_volume_coarse_along_x_sees_it_turned():
    rng = np.random.default_rng(2)
    along_z = Volume((rng.random((7, 9, 10)) * 255).astype(np.float32), (25, 10, 10), "nm")
    along_x = along_z.replace(data=np.ascontiguousarray(np.swapaxes(along_z.numpy(), 0, 2)), spacing=(10, 10, 25))
    model = VolumeModel(tiny_3d(), card3d())
    z_result = model.reconstruct(along_z, progress=False, keep_acquired=True)
    x_result = model.reconstruct(along_x, progress=False, keep_acquired=True)
    np.testing.assert_allclose(np.swapaxes(x_result.numpy(), 0, 2), z_result.numpy(), atol=1e-4)
    np.testing.assert_array_equal(z_result.numpy()[::5][:3], along_z.numpy()[::2][:3])   # acquired kept
