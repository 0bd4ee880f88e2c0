"""Supervised 3D training (paper 004): patch pairs, L1 and WGAN-GP phases, the model folder."""

import json

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

import isovox
from isovox.errors import IsovoxError
from isovox.pairs3d import VolumePairs, degrade_axes, input_and_target
from isovox.store import read_card, read_history
from isovox.training import train
from isovox.volume import Volume

TINY = {"blocks": 1, "units": 2, "growth": 4}          # mdcsrn keywords (isovox/models/dense3d.py)


@pytest.fixture(scope="module")
def cube() -> Volume:
    """Smooth isotropic blobs, 40^3 at 1 mm."""
    data = ndi.gaussian_filter(np.random.default_rng(1).standard_normal((40, 40, 40)), 2)
    return Volume((100 + 400 * data).astype(np.float32), spacing=(1.0, 1.0, 1.0), unit="mm")


def test_kspace_two_axes_halves_the_grid_then_cubic_restores_it(cube):
    lowres = degrade_axes(cube, "kspace", (1, 2), 2)
    assert lowres.shape == (40, 20, 20) and lowres.spacing == (1.0, 2.0, 2.0)
    # truncating k-space then taking every 2nd voxel is the IFFT of the central 20 x 20 spectrum
    # (without its Nyquist row and column, which kspace_truncate drops to stay symmetric)
    spectrum = np.fft.fftshift(np.fft.fftn(cube.data.astype(np.float64), axes=(1, 2)), axes=(1, 2))
    central = spectrum[:, 10:30, 10:30].copy()
    central[:, 0, :] = central[:, :, 0] = 0
    small = np.fft.ifftn(np.fft.ifftshift(central, axes=(1, 2)), axes=(1, 2)).real / 4
    assert np.abs(lowres.data - small).max() < 1e-3 * np.abs(small).max()
    upsampled, target = input_and_target(cube, "kspace", (1, 2), 2)
    assert upsampled.shape == target.shape == (40, 39, 39) and upsampled.spacing == cube.spacing


def test_patches_are_aligned_and_validation_is_held_out(cube):
    pairs = VolumePairs(cube, factor=2, axes="z", recipe="take", patch_size=8, seed=3)
    x, y = pairs.sample(6, np.random.default_rng(0))
    assert x.shape == y.shape == (6, 1, 8, 8, 8)
    # acquired slices of 'take' are exact: every even z of the input equals the target, in some flip
    assert any(np.allclose(x[i, 0, ::2], y[i, 0, ::2], atol=1e-5) or np.allclose(x[i, 0, 1::2], y[i, 0, 1::2], atol=1e-5)
               for i in range(6))
    (train_region,), (held,) = pairs.train_regions, pairs.validation_regions
    axis = next(a for a in range(3) if held[a] != (0, pairs.inputs[0].shape[a]))
    assert train_region[axis][1] == held[axis][0]            # the slab touches, never overlaps
    a, b = pairs.batch_sampler(4)(7), pairs.batch_sampler(4)(7)
    assert np.array_equal(a[0], b[0])                         # a pure function of the iteration


def test_bad_references_are_refused(cube):
    with pytest.raises(IsovoxError, match="not isotropic"):
        VolumePairs(cube.replace(spacing=(2.0, 1.0, 1.0)), factor=2, patch_size=8)
    with pytest.raises(IsovoxError, match="smaller than"):
        VolumePairs(cube, factor=2, patch_size=64)
    with pytest.raises(IsovoxError, match="factor"):
        train(None, "unused", method="supervised3d", highres=[cube])


@pytest.fixture(scope="module")
def model_dir(cube, tmp_path_factory):
    out = tmp_path_factory.mktemp("s3d") / "model"
    return train(None, out, method="supervised3d", highres=[cube], factor=2, axes="z", recipe="gaussian",
                 model_kwargs=TINY, patch_size=12, batch_size=2, iterations=6, validate_every=3,
                 device="cpu", gan=True, gan_iterations=3, critic_warmup=2, critic_steps=1,
                 critic_extra_every=2, critic_extra_steps=1, critic_preset="default")


def test_model_folder_records_both_phases(model_dir):
    card = read_card(model_dir)
    assert card.method == "supervised3d" and card.factor == 2 and card.degradation["axes"] == ["z"]
    assert card.training["iterations"] == 6 and card.training["gan"]["iterations"] == 3
    terms = card.training["gan"]["terms"]
    assert set(terms) == {"loss", "l1", "adversarial", "critic", "wasserstein"} and len(terms["critic"]) == 3
    l1, gan = read_history(model_dir)                 # the folder's history holds both loops
    assert (l1["name"], l1["iterations"], gan["name"], gan["iterations"]) == ("l1", 6, "gan", 3)
    assert set(gan["steps"][-1]["losses"]) == set(terms) and gan["steps"][-1]["iteration"] == 3
    assert not (model_dir.parent / f".{model_dir.name}.isovox-train").exists()


def test_reconstruction_with_the_folder_has_the_cubic_grid_and_tiles_exactly(cube, model_dir):
    lowres = isovox.simulate(cube, 2, axis="z", recipe="gaussian").lowres
    whole = isovox.reconstruct(lowres, model=model_dir, device="cpu", tile=0, dtype="float32")
    tiled = isovox.reconstruct(lowres, model=model_dir, device="cpu", tile=(5, 16, 9), dtype="float32")
    cubic = isovox.reconstruct(lowres, "cubic")
    assert whole.shape == cubic.shape and whole.spacing == cubic.spacing and whole.origin == cubic.origin
    assert np.abs(whole.data - tiled.data).max() < 1e-3
    with pytest.raises(IsovoxError, match="trained for factor 2"):
        isovox.reconstruct(isovox.simulate(cube, 4, axis="z").lowres, model=model_dir, device="cpu")


def test_a_z_model_applies_to_a_volume_coarse_along_x(cube, model_dir):
    lowres = isovox.simulate(cube, 2, axis="x", recipe="gaussian").lowres
    result = isovox.reconstruct(lowres, model=model_dir, device="cpu", dtype="float32")
    assert result.shape == isovox.reconstruct(lowres, "cubic").shape and result.spacing == (1.0, 1.0, 1.0)


def test_interrupted_l1_phase_resumes(cube, tmp_path, interrupt_sampling):
    from isovox.pairs3d import VolumePairs

    options = dict(method="supervised3d", highres=[cube], factor=2, model_kwargs=TINY, patch_size=12,
                   batch_size=2, iterations=6, checkpoint_every=2, device="cpu")
    full = train(None, tmp_path / "full", **options)
    resume = interrupt_sampling(VolumePairs, after=4)
    with pytest.raises(KeyboardInterrupt):
        train(None, tmp_path / "cut", **options)
    resume()
    resumed = train(None, tmp_path / "cut", **options)
    a = torch.load(full / "weights.pt", weights_only=True)
    b = torch.load(resumed / "weights.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((resumed / "config.json").read_text())["training"]["runs"] == 2
