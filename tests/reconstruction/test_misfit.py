"""The uncertainty's misfit term: the output re-acquired with the card's slice profile against the
acquired sections, spread between them; zero where the output reproduces them, absent when the
card records no profile, and the same block by block as in memory."""

import numpy as np
import pytest

import isovox
from isovox import io
from isovox.blockwise import reconstruct_blockwise
from isovox.reconstruction import reconstruct, reconstruct_with_model_uncertainty, reconstruct_with_uncertainty
from isovox.store import ModelCard, save_model
from isovox.volume import Volume
from reconstruction_nets import identity_drcnet, random_drcnet

GAUSSIAN = {"recipe": "gaussian", "thickness": 37.0}


def card_for(model, degradation):
    return ModelCard(method="test", architecture=model.build_config, factor=4.0, lowres_spacing=40.0,
                     target_spacing=10.0, unit="nm", normalisation={"low": -1.0, "high": 3.0},
                     degradation=degradation)


def volume(shape=(6, 14, 11), seed=0):
    data = np.random.default_rng(seed).normal(1, 1, shape).astype(np.float32)
    return Volume(data, (40.0, 10.0, 10.0), "nm", origin=(3.0, -2.0, 5.0))


def uncertainty_of(vol, model, degradation, **options):
    return reconstruct_with_model_uncertainty(vol, model, card_for(model, degradation), progress=False, **options)


def test_the_uncertainty_of_a_mirror_blind_network_is_its_misfit():
    # The identity network returns the cubic interpolation for every variant: no spread, so the
    # uncertainty is the misfit alone, recomputed here with the public functions.
    vol = volume()
    result, spread = uncertainty_of(vol, identity_drcnet(), GAUSSIAN)
    cubic = reconstruct(vol, "cubic", detect_defects=False)
    np.testing.assert_allclose(result.numpy(), cubic.numpy(), atol=1e-5)
    again = isovox.simulate(cubic, 4.0, axis=0, recipe="gaussian", thickness=37.0).lowres.numpy()
    squared = vol.replace(data=(again - vol.numpy()) ** 2)
    expected = np.sqrt(reconstruct(squared, "linear", detect_defects=False).numpy())
    np.testing.assert_allclose(spread.numpy(), expected, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(spread.numpy()[::4], np.abs(again - vol.numpy()), atol=1e-5, rtol=1e-4)
    assert spread.numpy().min() > 0           # cubic blurred by the profile does not give the sections back


def test_an_output_that_gives_the_sections_back_has_no_misfit():
    # Thin sections ('take'): the cubic interpolation passes through every acquired slice.
    _, spread = uncertainty_of(volume(), identity_drcnet(), {"recipe": "take"})
    assert spread.numpy().max() < 1e-5


@pytest.mark.parametrize("degradation", [{}, {"recipe": "kspace"}], ids=["none", "not-a-profile"])
def test_without_a_slice_profile_the_uncertainty_is_the_spread_alone(degradation):
    _, spread = uncertainty_of(volume(), identity_drcnet(), degradation)
    assert np.all(spread.numpy() == 0)


def test_kept_acquired_slices_have_zero_uncertainty_with_the_misfit():
    vol = volume()
    result, spread = uncertainty_of(vol, random_drcnet(), GAUSSIAN, keep_acquired=True)
    np.testing.assert_array_equal(result.numpy()[::4], vol.numpy())
    assert np.all(spread.numpy()[::4] == 0) and spread.numpy()[1::4].min() > 0


def test_misfit_adds_to_the_spread_as_a_variance():
    vol, model = volume(), random_drcnet()
    _, spread_only = uncertainty_of(vol, model, {})
    result, both = uncertainty_of(vol, model, GAUSSIAN)
    again = isovox.simulate(result.replace(data=result.numpy()), 4.0, axis=0, recipe="gaussian",
                            thickness=37.0).lowres.numpy()
    misfit = reconstruct(vol.replace(data=(again - vol.numpy()) ** 2), "linear", detect_defects=False).numpy()
    np.testing.assert_allclose(both.numpy() ** 2, spread_only.numpy() ** 2 + misfit, atol=1e-4, rtol=1e-4)


def test_blockwise_uncertainty_with_the_misfit_equals_in_memory(tmp_path):
    # A thick profile (FWHM 3 sections) reads ~20 output voxels along z around a section, far
    # beyond the network's own halo (4): blocks must widen theirs.
    model = random_drcnet()
    folder = save_model(tmp_path / "drcnet", model, card_for(model, {"recipe": "gaussian", "thickness": 120.0}))
    vol = volume((16, 12, 10), seed=3)
    reconstruct_blockwise(vol, tmp_path / "out.zarr", model=folder, block_size=(8, 12, 10),
                          uncertainty=tmp_path / "std.zarr", device="cpu", progress=False)
    _, spread = reconstruct_with_uncertainty(vol, folder, device="cpu")
    np.testing.assert_allclose(io.read(tmp_path / "std.zarr").numpy(), spread.numpy(), atol=1e-4, rtol=0)
