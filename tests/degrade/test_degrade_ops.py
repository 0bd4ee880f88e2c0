"""Deterministic ops: grids, serialisation, dtype policy."""

import json

import numpy as np
import pytest

from isovox.degrade import functional as F
from isovox.degrade import ops as O
from isovox.errors import IsovoxError
from isovox.volume import Volume


def test_take_slices_grid_integer_step(random_volume):
    out = O.TakeSlices(axis=0, step=4, offset=2)(random_volume)
    assert out.shape == (15, 20, 20)                               # 2, 6, ..., 58
    assert out.spacing == (40.0, 5.0, 5.0)
    assert out.origin == (1.0 + 2 * 10.0, 2.0, 3.0)
    assert out.dtype == np.uint8
    assert np.array_equal(out.data, random_volume.data[2::4])


def test_take_slices_grid_fractional_step(random_volume):
    out = O.TakeSlices(axis="x", step=6.5)(random_volume)
    assert out.shape == (60, 20, 3)                                # 0, 6.5, 13
    assert out.spacing == (10.0, 5.0, 32.5)
    assert out.origin == random_volume.origin
    assert np.array_equal(out.data[:, :, 2], random_volume.data[:, :, 13])


def test_take_slices_grid_follows_direction():
    direction = np.array([[0.0, 0, 1], [0, 1, 0], [1, 0, 0]])     # array z is world x
    volume = Volume(np.zeros((20, 4, 4), np.float32), (3.0, 1.0, 1.0), "um", (0.0, 0.0, 0.0), direction)
    out = O.TakeSlices(0, 4, 1)(volume)
    assert out.origin == (0.0, 0.0, 3.0)


def test_cubic_downsample_grid(random_volume):
    out = O.CubicDownsample(axis=1, factor=2.5, offset=1)(random_volume)
    assert out.shape == (60, 8, 20)                                # 1, 3.5, ..., 18.5
    assert out.spacing == (10.0, 12.5, 5.0)
    assert out.origin == (1.0, 2.0 + 5.0, 3.0)


def test_profiles_read_spacing_from_the_volume(smooth_volume):
    """FWHM and thickness are physical: the op converts them with the volume's own spacing."""
    data = smooth_volume.data
    for spacing in (4.0, 2.0):
        volume = smooth_volume.replace(spacing=(spacing, 4.0, 4.0))
        assert np.array_equal(O.GaussianProfile(0, 12.0).apply(volume).data,
                              F.gaussian_profile(data, 0, 12.0, spacing))
        assert np.array_equal(O.BoxProfile(0, 12.0).apply(volume).data, F.box_profile(data, 0, 12.0, spacing))
    assert O.GaussianProfile(0, 12.0).apply(smooth_volume).dtype == np.float32


def test_compose_round_trip_through_json(random_volume):
    compose = O.Compose((
        O.GaussianProfile(0, 25.0), O.BoxProfile(0, 15.0), O.TakeSlices(0, 2.5, 1),
        O.CubicDownsample(2, 2), O.KSpaceTruncate((1,), (2,)), O.GaussianNoise(0.01, 3),
        O.PoissonNoise(300, 4), O.DropSections(0, (1, 5), "zero"), O.DarkenSections(0, (2,), (0.5,)),
        O.ShiftSections(0, (3, 4), ((0.5, -1.0), (1, 2))), O.FlickerSections(1, [1.0] * 20, [0.0] * 20),
        O.Compose((O.TakeSlices(1, 2),)),
    ))
    text = json.dumps(compose.to_dict())
    rebuilt = O.Compose.from_dict(json.loads(text))
    assert rebuilt == compose
    assert rebuilt.to_dict() == compose.to_dict()
    assert np.array_equal(rebuilt(random_volume).data, compose(random_volume).data)
    assert O.op_from_dict(O.TakeSlices(0, 4).to_dict()) == O.TakeSlices(0, 4)


def test_compose_rounds_once(random_volume):
    data = np.full((8, 2, 2), 3, dtype=np.uint8)
    volume = random_volume.replace(data=data)
    halve, double = O.DarkenSections(0, range(8), (0.5,)), O.DarkenSections(0, range(8), (2.0,))
    assert O.Compose((halve, double))(volume).data.tolist() == data.tolist()     # 3 * 0.5 * 2
    assert double(halve(volume)).data[0, 0, 0] == 4                              # 1.5 -> 2 -> 4
    assert O.Compose()(volume).dtype == np.uint8


def test_integer_results_are_clipped(random_volume):
    bright = O.DarkenSections(0, (0,), (10.0,))(random_volume)
    assert bright.dtype == np.uint8 and bright.data[0].max() == 255


def test_op_from_dict_errors():
    with pytest.raises(IsovoxError, match="known ops"):
        O.op_from_dict({"op": "blurry"})
    with pytest.raises(IsovoxError):
        O.op_from_dict({"op": "take_slices", "axis": 0})
    with pytest.raises(IsovoxError):
        O.op_from_dict({"axis": 0})
    with pytest.raises(IsovoxError):
        O.TakeSlices(3, 2)
    with pytest.raises(IsovoxError):
        O.GaussianProfile(0, -1.0)
