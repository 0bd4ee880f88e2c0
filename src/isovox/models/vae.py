"""Stage I of paper 003 (Xuan et al.): a VAE-GAN over 2D slices of the acquisition plane.

:class:`SliceVAE` maps a square slice (N, 1, S, S) to a diagonal Gaussian posterior
``q(z|x) = N(mu, sigma^2 I)`` and decodes a latent code back to a slice; :class:`PatchCritic` is
the PatchGAN discriminator ``H_omega`` of the Wasserstein-style adversarial term (eq. 7). Losses,
the staged schedule and latent interpolation live in :mod:`isovox.latent` and
:mod:`isovox.training.recipes.vae_two_stage`.

Architecture (paper 003 section 3.1):

* Encoder ``E_phi``: one 3x3 convolution, then ``n_blocks`` blocks of three
  activation-normalisation-convolution steps (LeakyReLU 0.2, instance norm, 3x3 conv, in that
  order, as the paper writes it) each followed by 2x2 average pooling, then one fully connected
  layer to the tuple ``(mu, log sigma^2)`` (2 x ``latent`` numbers).
* Decoder ``D_theta``, "nearly symmetric": a fully connected layer from ``z`` to the encoder's
  last feature map, then ``n_blocks`` blocks of nearest-neighbour 2x up-sampling and three
  activation-normalisation-convolution steps, then an activation and a 3x3 convolution to one
  channel. The output is linear (intensities are normalised, not bounded to [0, 1]).
* Critic ``H_omega``: three convolution-normalisation-activation blocks (4x4 convolutions of
  stride 2), a plain convolution to one map and global average pooling: one unbounded score per
  slice (a Wasserstein critic, no sigmoid).
* LeakyReLU slope 0.2, instance normalisation and Xavier (Glorot uniform) initialisation
  everywhere; spectral normalisation on every critic convolution.

Choices where the paper is vague, written down:

* Channel widths are not given. Block ``i`` has ``min(n_feats * 2**i, max_feats)`` channels.
* Instance normalisation has a learned per-channel scale and shift (``affine=True``).
* "Weights for all convolutional layers are ... regularized with spectral normalization" can be
  read as all three networks. The critic always has it (it is what keeps a Wasserstein critic
  Lipschitz without a gradient penalty); the VAE has it with ``spectral_norm=True``, which the
  ``paper`` preset sets and the CPU default leaves off (it slows the short reconstruction
  warm-up a CPU budget allows).
* ``log sigma^2`` is clamped to [-10, 10] so ``exp`` in the KL terms cannot overflow.

Sizes: the ``paper`` preset is 256x256 slices, latent 512, six blocks (4x4 bottleneck), widths
32 ... 512 (37.8 M parameters), critic widths 64, 128, 256. The CPU default is 32x32 slices,
latent 64, *three* blocks of widths 8, 16, 32 (144 k parameters), critic widths 8, 16, 32: three
poolings keep the paper's 4x4 bottleneck at 32x32 (six would leave less than one pixel; at 1x1
instance normalisation outputs zeros). Why 32 and not 64: on Colin27 x4 planes, after 600
warm-up iterations (batch 16, lr 1e-3) a 32x32 VAE reconstructs with a mean absolute error of
0.078 of the intensity range, while a 64x64 one (four blocks, batch 8, lr 5e-4) still stood at
0.13 after 1000; both cost about the same per iteration. A latent of 64 numbers per 32x32 tile
(16 pixels per number) is also closer to what a CPU budget can fit than the paper's 128 pixels
per number. Planes are handled in tiles of ``slice_size`` (:mod:`isovox.latent`).

Both are registered: ``slice_vae`` (role ``"vae"``) and ``slice_critic`` (role ``"critic"``), so
they are no architecture ``train`` or ``reconstruct`` accepts; build them with
``create_model("slice_vae", preset=...)`` and ``create_model("slice_critic", preset=...)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from .registry import CRITIC, VAE, register_model

__all__ = ["SliceVAE", "PatchCritic"]

XUAN = "Xuan et al., paper 003, sections 2.2 and 3.1"
SLOPE = 0.2
LOGVAR_LIMIT = 10.0


def _widths(n_blocks: int, n_feats: int, max_feats: int) -> list[int]:
    return [min(n_feats * 2 ** i, max_feats) for i in range(n_blocks)]


def _xavier(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every convolution and linear layer."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def _normalise_spectrally(module: nn.Module) -> None:
    """Spectral normalisation (Miyato et al. 2018) on every convolution and linear layer."""
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Conv2d, nn.Linear)):
            setattr(module, name, _spectral_norm(child))
        else:
            _normalise_spectrally(child)


def _act_norm_conv(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.LeakyReLU(SLOPE), nn.InstanceNorm2d(in_channels, affine=True),
            nn.Conv2d(in_channels, out_channels, 3, padding=1)]


def _block(in_channels: int, out_channels: int) -> list[nn.Module]:
    """Three activation-normalisation-convolution steps; the first changes the width."""
    return [*_act_norm_conv(in_channels, out_channels), *_act_norm_conv(out_channels, out_channels),
            *_act_norm_conv(out_channels, out_channels)]


@register_model(
    "slice_vae",
    family="2d",
    role=VAE,
    presets={"paper": {"slice_size": 256, "latent": 512, "n_blocks": 6, "n_feats": 32, "max_feats": 512,
                       "spectral_norm": True}},
    input_size=(1, 32, 32),               # the default slice_size: the VAE takes square slices of it
    paper=XUAN,
)
class SliceVAE(nn.Module):
    """Encoder ``E_phi`` and decoder ``D_theta`` of paper 003 (see the module docstring).

    ``encode(x) -> (mu, logvar)``, ``decode(z) -> x_hat``; ``forward(x)`` reconstructs through
    the posterior mean ``z = mu`` (the paper's test-time rule, section 2.2.1), so the network can
    be scored like any image-to-image model. Training draws ``z`` with :meth:`sample`.
    """

    def __init__(self, slice_size: int = 32, latent: int = 64, n_blocks: int = 3, n_feats: int = 8,
                 max_feats: int = 64, spectral_norm: bool = False) -> None:
        super().__init__()
        if n_blocks < 1:
            raise ValueError(f"n_blocks must be >= 1, got {n_blocks}")
        if slice_size % 2 ** n_blocks or slice_size < 2 ** (n_blocks + 1):
            raise ValueError(f"slice_size {slice_size} must be a multiple of 2**n_blocks = {2 ** n_blocks} "
                             f"leaving a bottleneck of at least 2x2")
        self.slice_size, self.latent, self.n_blocks = int(slice_size), int(latent), int(n_blocks)
        widths = _widths(n_blocks, n_feats, max_feats)
        self.bottleneck = (widths[-1], slice_size // 2 ** n_blocks, slice_size // 2 ** n_blocks)
        flat = widths[-1] * self.bottleneck[1] * self.bottleneck[2]

        layers: list[nn.Module] = [nn.Conv2d(1, widths[0], 3, padding=1)]
        for i, width in enumerate(widths):
            layers += [*_block(widths[max(i - 1, 0)], width), nn.AvgPool2d(2)]
        self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, 2 * latent))

        self.project = nn.Linear(latent, flat)
        layers = []
        for i in reversed(range(n_blocks)):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), *_block(widths[i], widths[max(i - 1, 0)])]
        self.decoder = nn.Sequential(*layers, nn.LeakyReLU(SLOPE), nn.Conv2d(widths[0], 1, 3, padding=1))
        _xavier(self)
        if spectral_norm:
            _normalise_spectrally(self)

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[-2:] != (self.slice_size, self.slice_size):
            raise ValueError(f"SliceVAE takes (N, 1, {self.slice_size}, {self.slice_size}) slices, "
                             f"got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, log sigma^2)`` of the posterior, each (N, latent)."""
        self._check(x)
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-LOGVAR_LIMIT, LOGVAR_LIMIT)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Slices (N, 1, S, S) from codes (N, latent)."""
        return self.decoder(self.project(z).view(-1, *self.bottleneck))

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """One draw of ``z ~ N(mu, sigma^2)`` by re-parametrisation (gradients reach mu, logvar)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])


@register_model("slice_critic", family="2d", role=CRITIC, presets={"paper": {"n_feats": 64}}, paper=XUAN)
class PatchCritic(nn.Module):
    """PatchGAN critic ``H_omega`` (paper 003 section 3.1): slices (N, 1, H, W) -> scores (N, 1).

    Three blocks of 4x4 convolution (stride 2), instance norm and LeakyReLU 0.2 with widths
    ``n_feats``, ``2 n_feats``, ``4 n_feats``; a 3x3 convolution to one map of patch scores;
    their global average. Every convolution is spectrally normalised. Any H, W >= 8 works.
    """

    def __init__(self, in_channels: int = 1, n_feats: int = 8) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = in_channels
        for width in (n_feats, 2 * n_feats, 4 * n_feats):
            layers += [nn.Conv2d(width_in, width, 4, stride=2, padding=1),
                       nn.InstanceNorm2d(width, affine=True), nn.LeakyReLU(SLOPE)]
            width_in = width
        layers += [nn.Conv2d(width_in, 1, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        _xavier(self)
        _normalise_spectrally(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# Shorthands for callers written before the registry held these networks; new code calls
# create_model directly.
