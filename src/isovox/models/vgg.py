"""VGG19 (Simonyan and Zisserman 2014) for the perceptual loss of Meta-SRGAN (paper 002, sec. 2.2).

Paper 002 (eq. 5) compares "feature representations" of a VGG19 pretrained on ImageNet, "extracted
before the last layer of the network", with a mean squared distance. isovox cannot download
weights and cannot import torchvision, so the network is defined here, layer for layer as
torchvision's ``vgg19`` (configuration "E"), and the weights come from a file the user gives in
torchvision's state-dict layout (``features.0.weight``, ``features.0.bias``, ... e.g. the
``vgg19-dcbb9e9d.pth`` torchvision itself downloads). Asking for the perceptual loss without such
a file is an :class:`~isovox.errors.IsovoxError`; nothing falls back to random features silently.

Choices written down:

* "Before the last layer" of the *feature stack*: every layer of ``features`` but its final max
  pool, i.e. the activations after conv5_4's ReLU, Ledig et al.'s VGG5,4 (the SRGAN loss paper
  002 inherits). The classifier (fully connected layers fixed to 224x224 inputs) is not built,
  and its ``classifier.*`` entries in a weights file are ignored.
* Grey planes are repeated to three channels and normalised with ImageNet's mean and standard
  deviation, reading isovox's normalised intensities (the 0.1-99.9 percentile range mapped to
  [0, 1]) as [0, 1] image values.
* eq. 5's ``1 / (CHW) ||phi(y_hat) - phi(y)||^2`` is the mean squared difference of the features.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import IsovoxError
from .registry import FEATURE_EXTRACTOR, create_model, register_model

__all__ = ["VGG19", "VGG19_LAYOUT", "load_vgg19", "PerceptualLoss"]

#: torchvision's configuration "E": conv widths, "M" for a 2x2 max pool.
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# One size only, the paper's, so "paper" is the default: every registered network has both names.
# Five 2x2 max pools need at least 32x32 pixels to leave one.
@register_model("vgg19", family="2d", role=FEATURE_EXTRACTOR, presets={"paper": {}}, input_size=(3, 32, 32),
                paper="Simonyan and Zisserman 2014 (VGG19), the perceptual loss of paper 002 eq. 5")
class VGG19(nn.Module):
    """The convolutional part of torchvision's VGG19: ``features`` with the same layer indices
    (conv, ReLU, ..., max pool; 37 layers), so its state-dict keys are torchvision's."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                channels = int(item)
        self.features = nn.Sequential(*layers)

    def perceptual_features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations before the last layer (the final max pool): conv5_4 after its ReLU."""
        for layer in list(self.features)[:-1]:
            x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def load_vgg19(path: str | Path) -> VGG19:
    """A frozen, eval-mode :class:`VGG19` with weights from ``path`` (torchvision layout)."""
    path = Path(path)
    if not path.is_file():
        raise IsovoxError(f"VGG19 weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a state dict
        raise IsovoxError(f"cannot read VGG19 weights from {path}: {str(error).strip().splitlines()[0]}") from None
    if not isinstance(state, dict):
        raise IsovoxError(f"{path} holds a {type(state).__name__}, not a state dict of VGG19 weights")
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    net = create_model("vgg19")
    expected = net.state_dict()
    missing = sorted(set(expected) - set(features), key=_layer_order)
    unexpected = sorted(set(features) - set(expected))
    if missing or unexpected:
        what = f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(unexpected[:3])}"
        raise IsovoxError(f"{path} is not a VGG19 state dict in torchvision's layout ({what}, ...)")
    wrong = [k for k in expected if tuple(features[k].shape) != tuple(expected[k].shape)]
    if wrong:
        k = wrong[0]
        raise IsovoxError(f"{path}: {k} has shape {tuple(features[k].shape)}, VGG19 needs {tuple(expected[k].shape)}")
    net.load_state_dict(features)
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net.eval()


def _layer_order(key: str) -> tuple[int, str]:
    parts = key.split(".")
    return int(parts[1]), parts[2]


class PerceptualLoss(nn.Module):
    """Paper 002 eq. 5: mean squared difference of VGG19 features of prediction and target.

    ``weights``: path of a VGG19 state dict in torchvision's layout (required: there is no
    download and no random fallback). The VGG stays frozen and in eval mode; gradients flow to
    the prediction only.
    """

    def __init__(self, weights: str | Path | None) -> None:
        super().__init__()
        if weights is None:
            raise IsovoxError("the perceptual loss needs VGG19 weights: give vgg_weights=PATH, a state dict "
                              "in torchvision's layout (e.g. vgg19-dcbb9e9d.pth); isovox downloads none")
        self.vgg = load_vgg19(weights)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> "PerceptualLoss":
        super().train(mode)
        self.vgg.eval()              # frozen: never in training mode
        return self

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise IsovoxError(f"the perceptual loss takes 1 or 3 channels, got {x.shape[1]}")
        return self.vgg.perceptual_features((x - self.mean) / self.std)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            reference = self._features(target)
        return F.mse_loss(self._features(prediction), reference)

    def describe(self) -> str:
        return "VGG19 conv5_4 features (before the last max pool), mean squared difference"
