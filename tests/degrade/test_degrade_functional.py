"""The functional layer: physical units, sampling positions, k-space band, noise and artifacts."""

import numpy as np
import pytest
import scipy.fft

from isovox.degrade import functional as F
from isovox.errors import IsovoxError


def measured_fwhm(profile: np.ndarray) -> float:
    """Full width at half maximum of a single peak, in samples, by linear interpolation."""
    half = profile.max() / 2
    above = np.flatnonzero(profile >= half)
    left, right = above[0], above[-1]
    x_left = left - 1 + (half - profile[left - 1]) / (profile[left] - profile[left - 1])
    x_right = right + (profile[right] - half) / (profile[right] - profile[right + 1])
    return float(x_right - x_left)


def impulse(n: int = 101, axis: int = 0) -> np.ndarray:
    shape = [3, 3, 3]
    shape[axis] = n
    array = np.zeros(shape, dtype=np.float32)
    index = [1, 1, 1]
    index[axis] = n // 2
    array[tuple(index)] = 1.0
    return array


# --- slice profiles ---------------------------------------------------------------------------------

@pytest.mark.parametrize("spacing", [2.0, 5.0])
def test_gaussian_profile_fwhm_is_physical(spacing):
    fwhm = 20.0                                         # nm, whatever the voxel size
    blurred = F.gaussian_profile(impulse(), 0, fwhm, spacing)
    measured = measured_fwhm(blurred[:, 1, 1]) * spacing
    assert measured == pytest.approx(fwhm, rel=0.05)
    assert blurred.dtype == np.float32
    assert blurred.sum() == pytest.approx(1.0, rel=1e-5)


def test_gaussian_profile_other_axis_and_zero_width():
    blurred = F.gaussian_profile(impulse(axis=2), 2, 12.0, 3.0)
    assert measured_fwhm(blurred[1, 1, :]) * 3.0 == pytest.approx(12.0, rel=0.05)
    source = impulse()
    assert np.array_equal(F.gaussian_profile(source, 0, 0.0, 1.0), source)


def test_box_profile_of_three_voxels_is_three_tap_mean():
    data = np.random.default_rng(1).random((30, 4, 5)).astype(np.float32)
    spacing = 4.0
    boxed = F.box_profile(data, 0, 3 * spacing, spacing)
    expected = (data[:-2] + data[1:-1] + data[2:]) / 3
    np.testing.assert_allclose(boxed[1:-1], expected, rtol=1e-5)


@pytest.mark.parametrize("voxels", [0.6, 2.5, 3.7, 6.25])
def test_box_profile_fractional_thickness_conserves_mass(voxels):
    boxed = F.box_profile(impulse(), 0, voxels * 2.0, 2.0)
    line = boxed[:, 1, 1]
    assert line.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(line, line[::-1], atol=1e-7)      # centred
    assert F.box_weights(voxels).max() == pytest.approx(min(1.0, 1.0 / voxels))


# --- sampling ---------------------------------------------------------------------------------------

def test_take_slices_integer_step_is_exact():
    data = np.random.default_rng(2).integers(0, 65535, (40, 6, 7)).astype(np.uint16)
    taken = F.take_slices(data, 0, 4, 2)
    assert np.array_equal(taken, data[2::4].astype(np.float32))
    assert np.array_equal(F.take_slices(data, 2, 3), data[:, :, ::3].astype(np.float32))


def test_take_slices_non_integer_step_positions():
    n = 60
    positions = F.slice_positions(n, 6.5)
    assert len(positions) == 10 and positions[-1] == 58.5       # 58.5 <= 59 < 65
    ramp = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, 3, 3))
    taken = F.take_slices(ramp, 0, 6.5)
    assert taken.shape == (10, 3, 3)
    # Keys cubic reproduces a ramp wherever its 4 taps are inside the array (all but the last).
    np.testing.assert_allclose(taken[:-1, 1, 1], positions[:-1], atol=1e-4)
    data = np.random.default_rng(3).random((n, 3, 3)).astype(np.float32)
    taken = F.take_slices(data, 0, 6.5)
    assert np.array_equal(taken[0::2], data[0::13])            # even k: integer positions, exact


def test_slice_positions_bad_input():
    with pytest.raises(IsovoxError):
        F.slice_positions(10, 0)
    with pytest.raises(IsovoxError):
        F.slice_positions(10, 2, offset=10)


@pytest.mark.parametrize("factor", [2.5, 4])
def test_cubic_downsample_of_constant_is_constant(factor):
    data = np.full((41, 3, 4), 7.25, dtype=np.float32)
    down = F.cubic_downsample(data, 0, factor)
    assert down.shape[0] == len(F.slice_positions(41, factor))
    np.testing.assert_allclose(down, 7.25, rtol=1e-6)


def test_cubic_downsample_antialiases_nyquist():
    nyquist = np.broadcast_to((-1.0) ** np.arange(64)[:, None, None], (64, 2, 2)).astype(np.float32)
    aliased = F.take_slices(nyquist, 0, 2)
    filtered = F.cubic_downsample(nyquist, 0, 2)
    assert np.abs(aliased).min() == 1.0                          # plain sampling keeps it at full amplitude
    assert np.abs(filtered[2:-2]).max() < 0.05


def test_cubic_downsample_single_output_is_antialiased():
    nyquist = ((-1.0) ** np.arange(12)).reshape(12, 1, 1).astype(np.float32)
    assert np.abs(F.cubic_downsample(nyquist, 0, 8, offset=5)).max() < 0.2


# --- k-space ----------------------------------------------------------------------------------------

def test_kspace_truncate_keeps_shape_and_band():
    data = np.random.default_rng(4).random((32, 20, 6)).astype(np.float32)
    out = F.kspace_truncate(data, [0], [4])
    assert out.shape == data.shape and out.dtype == np.float32
    spectrum = np.abs(scipy.fft.fft(out.astype(np.float64), axis=0)) ** 2
    outside = np.abs(scipy.fft.fftfreq(32)) >= 0.5 / 4
    assert spectrum[outside].sum() / spectrum.sum() < 1e-10


def test_kspace_truncate_passes_low_frequencies():
    z, y = np.meshgrid(np.arange(32), np.arange(16), indexing="ij")
    low = (5 + np.cos(2 * np.pi * 3 * z / 32) + np.sin(2 * np.pi * y / 16))[..., None].repeat(4, axis=2)
    out = F.kspace_truncate(low.astype(np.float32), [0, 1], [2, 2])    # the paper's 2 x 2
    np.testing.assert_allclose(out, low, atol=1e-5)
    np.testing.assert_allclose(F.kspace_truncate(low, [0], [1]), low, atol=1e-5)   # factor 1: identity


def test_kspace_truncate_bad_factor():
    with pytest.raises(IsovoxError):
        F.kspace_truncate(np.zeros((4, 4, 4)), [0], [0.5])


# --- noise ------------------------------------------------------------------------------------------

def test_gaussian_noise_sigma_is_fraction_of_range():
    data = np.linspace(0, 200, 40 * 40 * 40, dtype=np.float32).reshape(40, 40, 40)
    noisy = F.gaussian_noise(data, 0.05, 7)
    assert np.std(noisy - data) == pytest.approx(0.05 * 200, rel=0.02)
    assert np.array_equal(noisy, F.gaussian_noise(data, 0.05, 7))
    assert not np.array_equal(noisy, F.gaussian_noise(data, 0.05, 8))


def test_poisson_noise_scales_with_photons():
    data = np.full((30, 30, 30), 100.0, dtype=np.float32)
    data[0, 0, 0] = 200.0                                          # max 200 -> photons counts
    noisy = F.poisson_noise(data, 50, 1)
    # value 100 is 25 photons: mean kept, relative std 1 / sqrt(25)
    assert noisy[1:].mean() == pytest.approx(100, rel=0.01)
    assert noisy[1:].std() == pytest.approx(100 / 5, rel=0.05)
    assert F.poisson_noise(data, 5000, 1)[1:].std() < noisy[1:].std() / 5


# --- section artifacts ------------------------------------------------------------------------------

def test_drop_sections_fill_modes():
    data = np.arange(1, 7, dtype=np.float32)[:, None, None] * np.ones((6, 2, 2), np.float32)
    zero = F.drop_sections(data, 0, [2, 3], "zero")
    assert zero[:, 0, 0].tolist() == [1, 2, 0, 0, 5, 6]
    previous = F.drop_sections(data, 0, [0, 2, 3], "previous")
    assert previous[:, 0, 0].tolist() == [2, 2, 2, 2, 5, 6]        # leading gap copies the first kept
    with pytest.raises(IsovoxError):
        F.drop_sections(data, 0, [1], "smear")


def test_darken_and_flicker_sections():
    data = np.ones((4, 3, 3), np.float32) * np.arange(3, dtype=np.float32)[None, :, None]   # range 2
    dark = F.darken_sections(data, 0, [1, 3], [0.5, 0.25])
    np.testing.assert_allclose(dark[:, 2, 0], [2, 1, 2, 0.5])
    flicker = F.flicker_sections(data, 0, [1, 2, 1, 1], [0, 0, 0.5, 0])
    np.testing.assert_allclose(flicker[:, 2, 0], [2, 4, 3, 2])     # bias 0.5 of range 2 = +1


def test_shift_sections_moves_in_plane():
    data = np.random.default_rng(5).random((3, 16, 16)).astype(np.float32)
    shifted = F.shift_sections(data, 0, [[2, -1]], indices=[1])
    np.testing.assert_allclose(shifted[1, 4:-4, 4:-4], np.roll(data[1], (2, -1), (0, 1))[4:-4, 4:-4], atol=1e-5)
    assert np.array_equal(shifted[[0, 2]], data[[0, 2]])
    ramp = np.broadcast_to(np.arange(32, dtype=np.float32)[None, None, :], (8, 4, 32)).copy()
    half = F.shift_sections(ramp, 1, [[0.0, 0.5]] * 4)             # sections along y, plane (z, x)
    # away from the reflected border the spline moves the ramp by exactly half a voxel
    np.testing.assert_allclose(half[:, :, 10:-10], ramp[:, :, 10:-10] - 0.5, atol=1e-3)
