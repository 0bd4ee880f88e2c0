"""simulate(): low-res grid, ground-truth alignment, replay, bad input, and the real FlyEM volume."""

import json
from pathlib import Path

import numpy as np
import pytest

from isovox.degrade import RandomPoissonNoise, replay
from isovox.degrade.functional import slice_positions
from isovox.errors import IsovoxError
from isovox.resample import resample
from isovox.simulation import simulate
from isovox.volume import Volume

FLYEM = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "flyem_fibsem_sample2_250cube_10nm.tif"


@pytest.fixture
def volume() -> Volume:
    data = np.random.default_rng(0).integers(0, 256, (60, 20, 20)).astype(np.uint8)
    return Volume(data, spacing=(10.0, 10.0, 10.0), unit="nm", origin=(5.0, -3.0, 2.0))


def axis_volume(volume: Volume, axis: int) -> Volume:
    """The 60-long axis moved to ``axis`` (60 x 20 x 20 -> 20 x 20 x 60 for axis 2)."""
    return volume.replace(data=np.ascontiguousarray(np.moveaxis(volume.data, 0, axis)))


@pytest.mark.parametrize("axis", [0, 2])
@pytest.mark.parametrize("factor", [4, 6.5, 10])
def test_lowres_grid_and_ground_truth_crop(volume, factor, axis):
    volume = axis_volume(volume, axis)
    result = simulate(volume, factor, axis=axis)
    lowres, truth = result.lowres, result.ground_truth
    assert lowres.shape[axis] == len(slice_positions(60, factor))
    assert lowres.spacing[axis] == 10.0 * factor                  # float, never rounded
    assert lowres.dtype == np.uint8 and truth.dtype == np.uint8
    rebuilt = resample(lowres, truth.spacing, "linear")
    assert rebuilt.shape == truth.shape
    assert rebuilt.origin == truth.origin == lowres.origin


def test_take_integer_factor_aligns_exactly(volume):
    result = simulate(volume, 4, recipe="take")
    rebuilt = resample(result.lowres, result.ground_truth.spacing, "cubic")
    assert rebuilt.shape == result.ground_truth.shape == (57, 20, 20)
    assert np.array_equal(rebuilt.data[::4], result.ground_truth.data[::4])
    assert not np.array_equal(rebuilt.data[1::4], result.ground_truth.data[1::4])


def test_take_factor_6_5_aligns_on_even_slices(volume):
    result = simulate(volume, 6.5, recipe="take", axis="z")
    rebuilt = resample(result.lowres, result.ground_truth.spacing, "cubic")
    assert rebuilt.shape == result.ground_truth.shape == (59, 20, 20)
    for index in (0, 13, 26, 39, 52):                              # k * 6.5 for even k
        assert np.array_equal(rebuilt.data[index], result.ground_truth.data[index])


def test_offset_moves_lowres_and_truth_together(volume):
    result = simulate(volume, 4, recipe="take", offset=3)
    assert result.lowres.origin == result.ground_truth.origin == (35.0, -3.0, 2.0)
    assert np.array_equal(result.lowres.data, volume.data[3::4])
    assert np.array_equal(result.ground_truth.data, volume.data[3:60])
    with pytest.raises(IsovoxError, match="whole number"):
        simulate(volume, 4, offset=1.5)


def test_kspace_keeps_the_grid(volume):
    result = simulate(volume, 3, recipe="kspace")
    assert result.lowres.shape == volume.shape and result.lowres.spacing == volume.spacing
    assert result.ground_truth is volume
    assert result.record == [{"op": "kspace_truncate", "axes": [0], "factors": [3.0]}]


def test_record_replays_noise_and_artifacts(volume):
    result = simulate(volume, 2.5, axis=2, recipe="box", thickness=30.0, noise=[0.02, RandomPoissonNoise((50, 200))],
                      artifacts={"p_missing": 0.2, "p_shift": 0.3}, seed=9)
    record = json.loads(json.dumps(result.record))
    names = [d["op"] for d in record]
    assert names[:2] == ["box_profile", "take_slices"] and names[-2:] == ["gaussian_noise", "poisson_noise"]
    assert "drop_sections" in names and all(d.get("axis", 2) == 2 for d in record)
    assert np.array_equal(replay(record)(volume).data, result.lowres.data)
    again = simulate(volume, 2.5, axis=2, recipe="box", thickness=30.0, noise=[0.02, RandomPoissonNoise((50, 200))],
                     artifacts={"p_missing": 0.2, "p_shift": 0.3}, seed=10)
    assert not np.array_equal(again.lowres.data, result.lowres.data)


@pytest.mark.parametrize("kwargs, message", [
    ({"factor": 0.5}, ">= 1"), ({"factor": float("nan")}, ">= 1"), ({"factor": 60}, "at least 2"),
    ({"factor": 2, "recipe": "blur"}, "choose one of"), ({"factor": 2, "noise": "lots"}, "noise"),
    ({"factor": 2, "artifacts": {"p_folds": 1}}, "artifact"), ({"factor": 2, "axis": 3}, "axis"),
])
def test_bad_input(volume, kwargs, message):
    with pytest.raises(IsovoxError, match=message):
        simulate(volume, **kwargs)


def test_float_input_keeps_dtype(volume):
    floats = volume.replace(data=volume.data.astype(np.float32) / 255)
    result = simulate(floats, 3, noise=0.01)
    assert result.lowres.dtype == np.float32


# --- the real FlyEM FIB-SEM volume (10 nm isotropic) ------------------------------------------------

@pytest.fixture(scope="module")
def flyem() -> Volume:
    if not FLYEM.exists():
        pytest.skip(f"real FlyEM volume not found at {FLYEM}")
    import tifffile
    return Volume(tifffile.imread(FLYEM), spacing=(10.0, 10.0, 10.0), unit="nm")


def test_flyem_gaussian_slices(flyem):
    result = simulate(flyem, 5, recipe="gaussian")
    assert result.lowres.shape == (50, 250, 250) and result.lowres.dtype == np.uint8
    assert result.lowres.spacing == (50.0, 10.0, 10.0)
    assert result.ground_truth.shape == (246, 250, 250)
    assert resample(result.lowres, result.ground_truth.spacing, "linear").shape == result.ground_truth.shape
    # a 50 nm thick slice profile averages structure away: less contrast than thin slices
    thin = flyem.data[::5].astype(float)
    assert result.lowres.data.std() < thin.std()
    assert np.abs(result.lowres.data.mean() - thin.mean()) < 2


def test_flyem_noise_and_artifacts_replay(flyem):
    crop = flyem.crop((0, 0, 0), (250, 64, 64))
    result = simulate(crop, 6.5, recipe="box", noise=0.03, artifacts=True, seed=1)
    assert result.lowres.shape == (39, 64, 64)
    assert np.array_equal(replay(result.record)(crop).data, result.lowres.data)
