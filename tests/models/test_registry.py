"""The registry itself, the 2D reconstruction networks' shared behaviour, and layer specifics.

The checks every network gets (forward and backward on its declared input, rebuild from
``build_config``, weights round trip, presets) live in test_every_model.py.
"""

import ast
import sys
from pathlib import Path

import pytest
import torch

from isovox.models import (
    CRITIC,
    ONE_AXIS_UPSAMPLING,
    PREUPSAMPLED,
    create_model,
    list_models,
    model_info,
    register_model,
)
from isovox.models import registry
from isovox.models.registry import ARBITRARY_SCALE
from isovox.models.layers import (
    OneAxisPixelShuffle,
    relative_position_index,
    window_partition,
    window_reverse,
)

MODELS = list_models()
# the tests below feed 2D planes to same-size or one-axis networks; 3D: test_models3d.py,
# arbitrary-scale networks (which take a scale): test_meta_upscale.py
MODELS_2D = [n for n in list_models("2d") if model_info(n).convention != ARBITRARY_SCALE]
ONE_AXIS = [n for n in MODELS if ONE_AXIS_UPSAMPLING in model_info(n).conventions]


def test_zoo_is_complete():
    expected = {"a2i", "drcnet", "isonet1", "isonet2", "vdsr", "edsr", "rdn", "rcan"}
    assert expected <= set(MODELS)
    assert set(list_models("2d")) >= expected
    assert set(ONE_AXIS) == {"edsr", "rdn", "rcan", "srgan"}
    # isovox's default everywhere: every 2D network without a scale argument is built pre-upsampled
    assert all(model_info(name).convention == PREUPSAMPLED for name in MODELS_2D)


@pytest.mark.parametrize("name", MODELS_2D)
def test_channels_in_and_out(name):
    model = create_model(name, in_channels=2, out_channels=3)
    assert not model.residual  # an image residual needs matching channels
    assert model(torch.randn(1, 2, 16, 20)).shape == (1, 3, 16, 20)


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("name", ONE_AXIS)
def test_one_axis_upsampling_shape(name, scale):
    model = create_model(name, scale=scale)
    assert model.convention == ONE_AXIS_UPSAMPLING and not model.residual
    y = model(torch.randn(2, 1, 9, 13))
    assert y.shape == (2, 1, 9 * scale, 13)
    y.mean().backward()


def test_one_axis_pixel_shuffle_interleaves_rows():
    s, h, w = 3, 2, 4
    x = torch.arange(2 * s * h * w, dtype=torch.float32).view(1, 2 * s, h, w)
    y = OneAxisPixelShuffle(s)(x)
    assert y.shape == (1, 2, h * s, w)
    for c in range(2):
        for i in range(s):
            assert torch.equal(y[0, c, i::s], x[0, c * s + i])  # channel c*s+i -> rows i, i+s, ...


def test_unknown_model_and_preset():
    with pytest.raises(ValueError, match="registered models: .*a2i"):
        create_model("no-such-net")
    with pytest.raises(ValueError, match="presets: default, paper"):
        create_model("a2i", preset="huge")
    with pytest.raises(TypeError):
        create_model("vdsr", n_filters=3)  # keyword typos are not swallowed


def test_register_rejects_duplicates_and_bad_metadata():
    with pytest.raises(ValueError, match="already registered"):
        register_model("a2i", family="2d")(lambda: None)
    with pytest.raises(ValueError, match="family"):
        register_model("x", family="4d")
    with pytest.raises(ValueError, match="conventions"):
        register_model("x", family="2d", conventions=("sideways",))
    with pytest.raises(ValueError, match="implicit"):
        register_model("x", family="2d", presets={"default": {}})
    with pytest.raises(ValueError, match="role"):
        register_model("x", family="2d", role="judge")
    with pytest.raises(ValueError, match="only reconstruction networks have conventions"):
        register_model("x", family="2d", role=CRITIC, conventions=(PREUPSAMPLED,))
    with pytest.raises(ValueError, match="input_size"):
        register_model("x", family="3d", input_size=(1, 8, 8))
    tmp = register_model("_tmp_test_net", family="3d", presets={"paper": {"k": 2}})
    tmp(lambda k=1: torch.nn.Linear(k, k))
    register_model("_tmp_test_critic", family="2d", role=CRITIC)(lambda: torch.nn.Linear(1, 1))
    try:
        assert "_tmp_test_net" in list_models("3d") and "_tmp_test_net" not in list_models("2d")
        assert create_model("_tmp_test_net", preset="paper").in_features == 2
        assert model_info("_tmp_test_net").input_size == (1, 9, 11, 7)     # the family's default
        # a critic is built like any network but is no architecture to train or reconstruct with
        assert "_tmp_test_critic" not in list_models() and "_tmp_test_critic" in list_models(role=CRITIC)
        assert model_info("_tmp_test_critic").convention is None
        assert create_model("_tmp_test_critic").build_config["name"] == "_tmp_test_critic"
    finally:
        del registry._REGISTRY["_tmp_test_net"], registry._REGISTRY["_tmp_test_critic"]


@pytest.mark.parametrize("hw", [(1, 1), (5, 70), (33, 40), (32, 32), (64, 48)])
def test_transformer_any_size(hw):
    model = create_model("a2i", window_size=4, levels=2).eval()
    assert model.size_multiple == 8
    x = torch.randn(1, 1, *hw)
    with torch.no_grad():
        assert model(x).shape == x.shape


def test_transformer_global_residual_and_levels():
    model = create_model("a2i", levels=4, depths=(1, 0, 1, 1, 0, 1, 1), num_heads=(1, 1, 2, 2))
    assert model.size_multiple == 8 * 2**3
    torch.nn.init.zeros_(model.output_proj.weight)
    torch.nn.init.zeros_(model.output_proj.bias)
    x = torch.randn(1, 1, 10, 12)
    assert torch.equal(model(x), x)  # zero correction leaves the interpolated input untouched
    with pytest.raises(ValueError, match="depths"):
        create_model("a2i", levels=3, depths=(1, 1))


def test_window_helpers():
    x = torch.randn(2, 8, 12, 5)
    win = window_partition(x, 4)
    assert win.shape == (2 * 2 * 3, 16, 5)
    assert torch.equal(win[0, 5], x[0, 1, 1])  # token 5 of window 0 is row 1, column 1
    assert torch.equal(window_reverse(win, 4, 8, 12), x)
    idx = relative_position_index(3)
    assert idx.shape == (9, 9) and idx.min() == 0 and idx.max() == 24
    assert idx[0, 4] == idx[4, 8]  # same offset (+1, +1) -> same bias entry
    assert idx[0, 4] != idx[4, 0]


def test_models_import_only_torch_numpy_and_stdlib():
    """Package rule: isovox.models must not pull in isovox.io / degrade / train (or anything else)."""
    allowed = {"torch", "numpy", "__future__"} | set(sys.stdlib_module_names)
    package = Path(registry.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue  # relative imports stay inside isovox.models
            assert set(roots) <= allowed, f"{path.name} imports {roots}"
