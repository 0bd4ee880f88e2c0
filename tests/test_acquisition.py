"""Estimating the acquisition (slice profile, noise, flicker, misalignment) from the volume itself.

Synthetic tests use an isotropic random texture (filtered white noise, sharpened into sheets by a
tanh, like membranes) degraded with known profiles by :func:`isovox.simulation.simulate`. Real-data
tests use the FlyEM FIB-SEM cube (10 nm isotropic) simulated the same way; they skip without
../shared/data.
"""

import json
import math

import numpy as np
import pytest

from isovox import io
from isovox.acquisition import AcquisitionEstimate, estimate_acquisition, training_recipe
from isovox.degrade import functional as F
from isovox.errors import IsovoxError
from isovox.pairs import LateralPairs
from isovox.simulation import simulate
from isovox.volume import Volume


def isotropic_texture(n: int = 96, correlation: float = 3.0, seed: int = 0,
                      sheets: bool = True) -> np.ndarray:
    """Statistically isotropic (n, n, n) float32 volume in [20, 220]: white noise filtered with
    a Lorentzian-like radial spectrum (``correlation`` voxels), sharpened into sheets by a tanh
    unless ``sheets`` is False."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, n, n)).astype(np.float32)
    k = np.fft.fftfreq(n)
    radius = np.sqrt(k[:, None, None] ** 2 + k[None, :, None] ** 2 + np.fft.rfftfreq(n)[None, None, :] ** 2)
    spectrum = np.fft.rfftn(noise) / (1 + (2 * np.pi * correlation * radius) ** 2)
    field = np.fft.irfftn(spectrum, s=(n,) * 3, axes=(0, 1, 2))
    if sheets:
        field = np.tanh(3 * field / field.std())
    return (20 + 200 * (field - field.min()) / np.ptp(field)).astype(np.float32)


@pytest.fixture(scope="module")
def texture() -> Volume:
    return Volume(isotropic_texture(), (10.0, 10.0, 10.0), "nm")


@pytest.fixture(scope="module")
def gaussian60(texture) -> AcquisitionEstimate:
    """Gaussian FWHM 60 nm at 40 nm spacing: thicker than the spacing."""
    return estimate_acquisition(simulate(texture, 4, axis="z", recipe="gaussian", thickness=60).lowres)


def relative_error(estimate: float, truth: float) -> float:
    return abs(estimate / truth - 1)


# --- the slice profile of an isotropic texture ------------------------------------------------

def test_recovers_a_thick_gaussian_profile(gaussian60):
    assert gaussian60.recipe == "gaussian"
    assert relative_error(gaussian60.thickness, 60) < 0.1
    assert gaussian60.axis == "z" and gaussian60.spacing == 40 and gaussian60.unit == "nm"


@pytest.mark.parametrize("thickness", [20, 40])
def test_recovers_box_widths_thinner_than_the_spacing(texture, thickness):
    estimate = estimate_acquisition(simulate(texture, 4, axis="z", recipe="box", thickness=thickness).lowres)
    assert relative_error(estimate.box_width, thickness) < 0.2
    assert estimate.recipe in ("gaussian", "box")          # the families fit alike; see the docstring


def test_recognises_thin_sections_as_take(texture):
    estimate = estimate_acquisition(simulate(texture, 4, axis="z", recipe="take").lowres)
    assert estimate.recipe == "take" and estimate.thickness is None
    assert training_recipe(estimate) == ("take", None)


def test_same_thickness_at_double_spacing_gives_the_same_width(texture, gaussian60):
    withheld = estimate_acquisition(simulate(texture, 8, axis="z", recipe="gaussian", thickness=60).lowres)
    assert withheld.spacing == 80
    assert relative_error(withheld.fwhm, gaussian60.fwhm) < 0.2


def test_low_resolution_axis_on_x_gives_the_same_estimate(texture, gaussian60):
    sagittal = Volume(np.ascontiguousarray(np.moveaxis(texture.numpy(), 0, 2)), (10.0, 10.0, 10.0), "nm")
    estimate = estimate_acquisition(simulate(sagittal, 4, axis="x", recipe="gaussian", thickness=60).lowres)
    assert estimate.axis == "x"
    assert relative_error(estimate.fwhm, gaussian60.fwhm) < 0.05


# --- what else the acquisition did ----------------------------------------------------------------

def test_blank_section_is_left_out(texture, gaussian60):
    lowres = simulate(texture, 4, axis="z", recipe="gaussian", thickness=60).lowres
    data = lowres.numpy().copy()
    data[10] = 0
    estimate = estimate_acquisition(lowres.replace(data=data))
    assert estimate.blank_sections == (10,)
    assert relative_error(estimate.fwhm, gaussian60.fwhm) < 0.1


def test_flicker_is_measured_and_does_not_thin_the_profile(texture, gaussian60):
    lowres = simulate(texture, 4, axis="z", recipe="gaussian", thickness=60).lowres
    rng = np.random.default_rng(1)
    n = lowres.shape[0]
    gains, offsets = 1 + 0.1 * rng.standard_normal(n), 0.02 * rng.standard_normal(n)
    flickered = F.flicker_sections(lowres.numpy(), 0, gains, offsets)
    estimate = estimate_acquisition(lowres.replace(data=flickered))
    assert 0.05 < estimate.flicker["contrast"] < 0.2
    assert 0.01 < estimate.flicker["offset"] < 0.04
    assert relative_error(estimate.fwhm, gaussian60.fwhm) < 0.1


def test_section_jitter_is_measured_and_undone(texture, gaussian60):
    lowres = simulate(texture, 4, axis="z", recipe="gaussian", thickness=60).lowres
    shifts = np.random.default_rng(2).integers(-3, 4, (lowres.shape[0], 2))
    shaken = lowres.replace(data=F.shift_sections(lowres.numpy(), 0, shifts))
    aligned = estimate_acquisition(shaken)
    assert aligned.misalignment["jitter"] > 15                # nm: pixels of 10 nm
    assert relative_error(aligned.fwhm, gaussian60.fwhm) < 0.1
    unaligned = estimate_acquisition(shaken, align=False)
    assert unaligned.fwhm < 0.8 * aligned.fwhm                # jitter reads as thinner sections


def test_noise_level_is_a_fraction_of_the_data_range():
    """Smooth texture, so that the estimate is the noise's (fine texture would count as noise)."""
    smooth = Volume(isotropic_texture(correlation=8.0, seed=3, sheets=False), (10.0, 10.0, 10.0), "nm")
    clean = estimate_acquisition(simulate(smooth, 4, axis="z", recipe="gaussian").lowres)
    noisy = estimate_acquisition(simulate(smooth, 4, axis="z", recipe="gaussian", noise=0.03).lowres)
    assert clean.noise_sigma < 0.015
    assert relative_error(noisy.noise_sigma, 0.03) < 0.2


# --- the result -------------------------------------------------------------------------------------

def test_training_recipe_feeds_lateral_pairs(texture, gaussian60):
    recipe, thickness = training_recipe(gaussian60)
    assert (recipe, thickness) == ("gaussian", gaussian60.thickness)
    lowres = simulate(texture, 4, axis="z", recipe="gaussian", thickness=60).lowres
    inputs, targets = LateralPairs(lowres, recipe=recipe, thickness=thickness, patch_size=32).sample(2)
    assert inputs.shape == targets.shape and np.isfinite(inputs).all()


def test_to_dict_is_json_ready(gaussian60):
    values = json.loads(json.dumps(gaussian60.to_dict()))
    assert values["recipe"] == "gaussian" and values["axis"] == "z"
    assert math.isclose(values["thickness"], gaussian60.thickness)
    shapes = {shape for shape, _, _ in values["candidates"]}
    assert shapes == {"gaussian", "box"}
    low, high = values["width_range"]
    assert low <= gaussian60.thickness <= high


def test_isotropic_volume_and_too_few_sections_are_refused(texture):
    with pytest.raises(IsovoxError, match="isotropic"):
        estimate_acquisition(texture)
    few = Volume(texture.numpy()[:4], (40.0, 10.0, 10.0), "nm")
    with pytest.raises(IsovoxError, match="at least"):
        estimate_acquisition(few)


# --- FlyEM FIB-SEM, 10 nm isotropic, simulated -------------------------------------------------------

@pytest.fixture(scope="module")
def flyem(shared_data) -> Volume:
    return io.read(shared_data / "flyem_fibsem_sample2_250cube_10nm.tif")


@pytest.fixture(scope="module")
def flyem_estimates(flyem) -> dict:
    """Estimates of the FlyEM simulations, by (factor, recipe, thickness, noise), computed once."""
    cache: dict = {}

    def estimate(factor, recipe, thickness, noise=None):
        key = (factor, recipe, thickness, noise)
        if key not in cache:
            lowres = simulate(flyem, factor, axis="z", recipe=recipe, thickness=thickness, noise=noise).lowres
            cache[key] = estimate_acquisition(lowres)
        return cache[key]
    return estimate


@pytest.mark.parametrize("thickness, noise", [(60, None), (40, None), (40, 0.01)])
def test_flyem_gaussian_profile_within_20_percent(flyem_estimates, thickness, noise):
    """FWHM 60 and 40 nm (the matched default) at 40 nm spacing, with and without 1 % noise."""
    estimate = flyem_estimates(4, "gaussian", thickness, noise)
    assert relative_error(estimate.fwhm, thickness) < 0.2


def test_flyem_withheld_sections_give_the_same_width(flyem_estimates):
    """FWHM 60 nm at 40 and at 80 nm spacing (every other section withheld)."""
    native, withheld = flyem_estimates(4, "gaussian", 60), flyem_estimates(8, "gaussian", 60)
    assert relative_error(withheld.fwhm, native.fwhm) < 0.2
    assert relative_error(withheld.fwhm, 60) < 0.2


def test_flyem_thin_box_is_recognised_as_thin(flyem_estimates):
    """A 20 nm box at 40 nm spacing comes out thinner than half the spacing."""
    assert flyem_estimates(4, "box", 20).box_width < 20


@pytest.mark.xfail(strict=True, reason="FlyEM is anisotropic: 15-40 % more power along z than in plane "
                                       "in the band, which pulls profiles thinner than half the spacing "
                                       "towards 'take' (see isovox.acquisition)")
@pytest.mark.parametrize("factor, recipe, thickness", [(4, "box", 20), (8, "gaussian", 40)])
def test_flyem_thin_profiles_within_20_percent(flyem_estimates, factor, recipe, thickness):
    estimate = flyem_estimates(factor, recipe, thickness)
    width = estimate.box_width if recipe == "box" else estimate.fwhm
    assert relative_error(width, thickness) < 0.2
