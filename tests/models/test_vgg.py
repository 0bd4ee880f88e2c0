"""VGG19 in torchvision's layout, weights from a file, and the perceptual loss (paper 002 eq. 5).

Weights are random and saved to a temporary file: the tests check the plumbing (layout, loading,
errors, gradients), not ImageNet features.
"""

import pytest
import torch

from isovox.errors import IsovoxError
from isovox.models.vgg import VGG19, PerceptualLoss, load_vgg19

# torchvision's vgg19: conv layers of `features` sit at these indices.
TORCHVISION_CONVS = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    torch.manual_seed(0)
    state = VGG19().state_dict()
    # A torchvision file also holds the classifier; it must be accepted and ignored.
    state["classifier.0.weight"] = torch.zeros(4, 3)
    state["classifier.0.bias"] = torch.zeros(4)
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(state, path)
    return path


def test_layout_is_torchvisions():
    net = VGG19()
    assert len(net.features) == 37
    expected = {f"features.{i}.{kind}" for i in TORCHVISION_CONVS for kind in ("weight", "bias")}
    assert set(net.state_dict()) == expected
    assert net.state_dict()["features.34.weight"].shape == (512, 512, 3, 3)


def test_perceptual_features_stop_before_the_last_layer(weights_file):
    net = load_vgg19(weights_file)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        features, full = net.perceptual_features(x), net(x)
    assert features.shape == (1, 512, 2, 2)     # four 2x2 pools: 32 / 16
    assert full.shape == (1, 512, 1, 1)         # the last layer (fifth pool) is left out above
    assert (features >= 0).all()                # after conv5_4's ReLU


def test_loaded_weights_are_the_files_and_frozen(weights_file):
    net = load_vgg19(weights_file)
    saved = torch.load(weights_file, weights_only=True)
    assert torch.equal(net.features[34].weight, saved["features.34.weight"])
    assert not any(p.requires_grad for p in net.parameters()) and not net.training


def test_perceptual_loss_values_and_gradients(weights_file):
    loss = PerceptualLoss(weights_file)
    target = torch.rand(2, 1, 32, 32)
    assert loss(target.clone(), target).item() == 0.0
    prediction = (target + 0.2 * torch.randn_like(target)).requires_grad_(True)
    value = loss(prediction, target)
    assert value.item() > 0
    value.backward()
    assert prediction.grad is not None and prediction.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())
    loss.train()
    assert not loss.vgg.training                # stays in eval mode inside a training loop


def test_perceptual_loss_without_weights_is_a_clear_error():
    with pytest.raises(IsovoxError, match="needs VGG19 weights: give vgg_weights=PATH"):
        PerceptualLoss(None)


def test_bad_weight_files(tmp_path, weights_file):
    with pytest.raises(IsovoxError, match="not found"):
        load_vgg19(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(IsovoxError, match="cannot read VGG19 weights"):
        load_vgg19(tmp_path / "junk.pth")
    state = torch.load(weights_file, weights_only=True)
    del state["features.34.bias"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(IsovoxError, match="missing features.34.bias"):
        load_vgg19(tmp_path / "short.pth")
    state = torch.load(weights_file, weights_only=True)
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    torch.save(state, tmp_path / "grey.pth")
    with pytest.raises(IsovoxError, match=r"features.0.weight has shape \(64, 1, 3, 3\)"):
        load_vgg19(tmp_path / "grey.pth")
