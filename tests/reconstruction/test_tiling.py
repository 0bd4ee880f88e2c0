"""Tiled inference equals whole-plane inference (isovox.reconstruction.tiling)."""

import numpy as np
import pytest
import torch

from isovox.models import create_model
from isovox.reconstruction.tiling import predict_planes, receptive_halo, size_multiple


def tiny(name):
    torch.manual_seed(0)
    if name == "drcnet":
        return create_model("drcnet", n_feats=8, n_blocks=2)
    return create_model("a2i", embed_dim=8, levels=2, window_size=4)   # size multiple 8


def planes(shape=(3, 53, 71), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@pytest.mark.parametrize("name, tile", [("drcnet", 13), ("drcnet", (9, 20)), ("a2i", 16), ("a2i", (8, 24))])
def test_tiled_equals_whole_plane(name, tile):
    model, x = tiny(name), planes()
    whole = predict_planes(model, x, batch_size=2)
    tiled = predict_planes(model, x, tile=tile, batch_size=5)
    assert tiled.shape == whole.shape == x.shape and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=1e-4, rtol=0)
    assert np.abs(whole - x).max() > 1e-2        # the network really does something


def test_a2i_tiles_would_differ_without_the_halo():
    """The halo matters: without it the tile borders show (the test above is not vacuous)."""
    model, x = tiny("a2i"), planes()
    whole = predict_planes(model, x)
    assert np.abs(predict_planes(model, x, tile=16, halo=0) - whole).max() > 1e-3


def test_batch_size_does_not_change_results():
    model, x = tiny("drcnet"), planes((5, 21, 17))
    reference = predict_planes(model, x, batch_size=1)
    for batch_size in (2, 5, 8):
        np.testing.assert_allclose(predict_planes(model, x, batch_size=batch_size), reference, atol=1e-5)
        np.testing.assert_allclose(predict_planes(model, x, tile=8, batch_size=batch_size), reference,
                                   atol=1e-4)


def test_probe_finds_the_exact_receptive_field_of_a_cnn():
    # head conv (1) + 2 residual blocks of two 3x3 convs (4) + tail conv (1) = 6 pixels
    assert receptive_halo(tiny("drcnet")) == 6
    a2i = tiny("a2i")
    assert size_multiple(a2i) == 8 and receptive_halo(a2i) % 8 == 0


def test_probe_leaves_the_model_untouched():
    model = tiny("drcnet")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    predict_planes(model, planes((2, 20, 20)), tile=8, halo=None)
    assert model.training                                   # train/eval flag restored
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_tensor_in_tensor_out():
    model, x = tiny("drcnet"), torch.from_numpy(planes((2, 12, 15)))
    y = predict_planes(model, x, tile=8)
    assert isinstance(y, torch.Tensor) and y.shape == x.shape
    np.testing.assert_allclose(y.numpy(), predict_planes(model, x.numpy()), atol=1e-4)


def test_global_pooling_model_warns_that_tiling_is_approximate():
    torch.manual_seed(0)
    model = create_model("rcan", n_feats=8, n_groups=1, n_blocks=1, reduction=4)
    with pytest.warns(UserWarning, match="whole plane"):
        receptive_halo(model)


def test_probe_works_under_the_callers_inference_mode():
    torch.manual_seed(0)
    model, x = create_model("drcnet", n_feats=4, n_blocks=3), planes((2, 30, 30))   # halo 8: not cached
    with torch.inference_mode():
        tiled = predict_planes(model, x, tile=8)
    np.testing.assert_allclose(tiled, predict_planes(model, x), atol=1e-4)


def test_bad_tile_is_refused():
    from isovox.errors import IsovoxError

    with pytest.raises(IsovoxError, match="tile needs"):
        predict_planes(tiny("drcnet"), planes((1, 10, 10)), tile=0)
