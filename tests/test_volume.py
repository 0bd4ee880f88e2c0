import numpy as np
import pytest

from isovox.errors import IsovoxError
from isovox.volume import Volume, input_positions, lowres_axis, output_length, resampling_factor


def make(shape=(4, 5, 6), spacing=(3.0, 1.0, 1.0), **kw):
    return Volume(np.zeros(shape, np.float32), spacing, "nm", **kw)


def test_affine_maps_indices_to_world():
    vol = make(spacing=(3, 2, 1), origin=(10, 20, 30))
    world = vol.affine @ np.array([1, 2, 3, 1.0])
    assert np.allclose(world[:3], [13, 24, 33])


def test_on_new_grid_moves_spacing_and_origin_together():
    vol = make(spacing=(3, 2, 1), origin=(10, 20, 30))
    moved = vol.on_new_grid(np.zeros((2, 2, 2)), scale=(0.5, 1, 2), shift=(1, 0, 4))
    assert moved.spacing == (1.5, 2.0, 2.0)
    assert moved.origin == (13.0, 20.0, 34.0)
    # index n of the new grid sits at the world position of old index scale*n + shift
    old_index = np.array([0.5 * 1 + 1, 1 + 0, 2 * 1 + 4, 1])
    assert np.allclose(moved.affine @ np.array([1, 1, 1, 1.0]), vol.affine @ old_index)


def test_direction_is_honoured_in_on_new_grid():
    flip = np.diag([-1.0, 1.0, 1.0])
    vol = make(spacing=(2, 1, 1), origin=(0, 0, 0), direction=flip)
    cropped = vol.crop((1, 0, 0), (3, 5, 6))
    assert cropped.origin == (-2.0, 0.0, 0.0)


def test_crop_keeps_world_positions():
    vol = make(spacing=(3, 2, 1), origin=(1, 1, 1))
    sub = vol.crop((1, 2, 3), (3, 4, 5))
    assert np.allclose(sub.affine @ [0, 0, 0, 1], vol.affine @ [1, 2, 3, 1])


@pytest.mark.parametrize("spacing, axis", [((40, 4, 4), 0), ((1, 1, 4), 2), ((2, 5, 2), 1)])
def test_lowres_axis_finds_any_axis(spacing, axis):
    assert lowres_axis(spacing) == axis


def test_lowres_axis_rejects_isotropic_and_ambiguous():
    with pytest.raises(IsovoxError, match="isotropic"):
        lowres_axis((10, 10, 10))
    with pytest.raises(IsovoxError, match="share the coarsest"):
        lowres_axis((5, 5, 1))


def test_factor_is_a_float_never_rounded():
    assert resampling_factor(65.0, 10.0) == 6.5
    assert resampling_factor(50.0, 4.0) == 12.5


@pytest.mark.parametrize("n_in, factor, n_out", [(63, 4, 249), (20, 6.5, 124), (2, 10, 11), (1, 3, 1)])
def test_output_length_convention(n_in, factor, n_out):
    assert output_length(n_in, factor) == n_out
    positions = input_positions(n_in, factor)
    assert positions[0] == 0 and positions[-1] <= n_in - 1 + 1e-9
    # acquired slice k lands on output index k * factor when that is an integer
    for k in range(n_in):
        j = k * factor
        if float(j).is_integer() and j < n_out:
            assert positions[int(j)] == pytest.approx(k)


def test_output_length_tolerates_float_noise():
    # 0.3 / 0.1 is 2.9999999999999996 in floats; the last slice must not be lost
    assert output_length(11, resampling_factor(0.3, 0.1)) == 31


@pytest.mark.parametrize("bad", [(0, 1, 1), (-1, 1, 1), (np.nan, 1, 1), (1, 1), (np.inf, 1, 1)])
def test_bad_spacing_is_rejected(bad):
    with pytest.raises(IsovoxError, match="spacing"):
        make(spacing=bad)


def test_2d_and_4d_arrays_are_rejected_with_a_hint():
    with pytest.raises(IsovoxError, match="2D image"):
        Volume(np.zeros((4, 4)), (1, 1, 1), "nm")
    with pytest.raises(IsovoxError, match="channel"):
        Volume(np.zeros((2, 4, 4, 4)), (1, 1, 1), "nm")


def test_unknown_unit_is_rejected_and_aliases_are_canonical():
    assert make().replace(unit="micron").unit == "um"
    with pytest.raises(IsovoxError, match="unit"):
        make().replace(unit="furlong")


def test_in_unit_converts_spacing_and_origin():
    vol = make(spacing=(40, 4, 4), origin=(100, 0, 0)).in_unit("um")
    assert vol.spacing == pytest.approx((0.04, 0.004, 0.004)) and vol.origin[0] == pytest.approx(0.1)


