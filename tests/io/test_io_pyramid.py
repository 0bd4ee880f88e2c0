"""OME-Zarr pyramids: level planning, the streamed local mean, metadata other tools read, atomicity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import zarr

from isovox import io
from isovox.errors import IsovoxError
from isovox.io import pyramid
from isovox.io.pyramid import add_levels, create_level, downsample_mean, fill_level, plan_levels


def reference_mean(data: np.ndarray, step) -> np.ndarray:
    """The level below ``data``, voxel by voxel: the mean of the (up to) ``step`` voxels each
    output voxel covers, windows clipped at the far edge."""
    shape = [-(-n // s) for n, s in zip(data.shape, step)]
    out = np.empty(shape)
    for index in itertools.product(*map(range, shape)):
        window = tuple(slice(i * s, (i + 1) * s) for i, s in zip(index, step))
        out[index] = data[window].mean()
    return out


def level_spacings(plan, spacing):
    return [tuple(s * f for s, f in zip(spacing, level.factor)) for level in plan]


# --- planning --------------------------------------------------------------------------------------

def test_isotropic_volume_halves_every_axis():
    plan = plan_levels((40, 33, 17), (8.0, 8.0, 8.0), levels=3)
    assert [level.step for level in plan] == [(1, 1, 1), (2, 2, 2), (2, 2, 2)]
    assert [level.shape for level in plan] == [(40, 33, 17), (20, 17, 9), (10, 9, 5)]   # odd lengths round up


def test_coarse_axis_waits_until_the_others_catch_up():
    spacing = (40.0, 4.0, 4.0)
    plan = plan_levels((30, 500, 500), spacing, levels=6)
    for level, below, level_spacing in zip(plan, plan[1:], level_spacings(plan, spacing)):
        finest = min(level_spacing)
        for axis in range(3):
            coarse = level_spacing[axis] >= 2 * finest
            assert below.step[axis] == (1 if coarse else 2)
    assert plan[1].step == (1, 2, 2) and plan[-1].step == (2, 2, 2)   # z joins once y, x reach it


def test_single_voxel_axis_is_never_halved():
    plan = plan_levels((1, 64, 64), (1.0, 10.0, 10.0), levels=3)
    assert all(level.shape[0] == 1 and level.factor[0] == 1 for level in plan)


def test_default_stops_at_the_first_level_small_enough():
    shape, limit = (90, 300, 310), 20 ** 3
    plan = plan_levels(shape, (5.0, 5.0, 5.0), max_voxels=limit)
    assert np.prod(plan[-1].shape) <= limit < np.prod(plan[-2].shape)
    assert len(plan_levels((50, 60, 70), (5.0, 5.0, 5.0))) == 1        # small: no pyramid, as before


@pytest.mark.parametrize("levels", [0, -1, 1.5, True, "3"])
def test_bad_level_counts_are_refused(levels):
    with pytest.raises(IsovoxError, match="levels must be a whole number"):
        plan_levels((8, 8, 8), (1.0, 1.0, 1.0), levels)


def test_more_levels_than_halving_allows_is_refused():
    with pytest.raises(IsovoxError, match="at most 3 pyramid levels"):
        plan_levels((4, 3, 2), (1.0, 1.0, 1.0), levels=4)


# --- the local mean --------------------------------------------------------------------------------

@pytest.mark.parametrize("step", [(2, 2, 2), (1, 2, 2), (2, 1, 1)])
def test_downsample_mean_matches_voxel_by_voxel_reference(step):
    data = np.random.default_rng(0).normal(size=(5, 7, 6)).astype(np.float32)
    result = downsample_mean(data, step, data.dtype)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, reference_mean(data, step), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16", "bool"])
def test_integer_levels_are_rounded_to_nearest_and_keep_their_dtype(dtype):
    data = np.random.default_rng(1).integers(0, 2 if dtype == "bool" else 200, size=(6, 5, 4)).astype(dtype)
    result = downsample_mean(data, (2, 2, 2), dtype)
    assert result.dtype == np.dtype(dtype)
    expected = np.rint(reference_mean(data.astype(float), (2, 2, 2)))
    np.testing.assert_array_equal(result.astype(float), expected)


class RecordingArray:
    """A read-only array that remembers the largest region read from it."""

    def __init__(self, data):
        self.data, self.shape, self.dtype, self.largest = data, data.shape, data.dtype, 0

    def __getitem__(self, index):
        region = self.data[index]
        self.largest = max(self.largest, region.size)
        return region


def test_levels_are_filled_chunk_by_chunk(tmp_path):
    data = np.random.default_rng(2).normal(size=(23, 19, 30)).astype(np.float32)
    source = RecordingArray(data)
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", zarr_format=3)
    chunks, step = (4, 3, 5), (2, 2, 1)
    target = create_level(group, "1", [-(-n // s) for n, s in zip(data.shape, step)], data.dtype, chunks)
    fill_level(source, target, step, workers=3)
    np.testing.assert_allclose(target[...], reference_mean(data, step), rtol=1e-6, atol=1e-6)
    assert source.largest <= np.prod(chunks) * np.prod(step)          # never more than one chunk's window


# --- written pyramids ------------------------------------------------------------------------------

def test_pyramid_opens_in_ome_zarr_py_with_every_level_and_its_scale(tmp_path, make_volume):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    volume = make_volume("uint16", shape=(12, 40, 37), spacing=(10.0, 4.0, 4.0), origin=(3.0, -2.0, 5.0))
    path = io.write(volume, tmp_path / "v.ome.zarr", levels=4)
    plan = plan_levels(volume.shape, volume.spacing, 4)
    image = next(iter(Reader(parse_url(str(path)))()))
    assert [tuple(level.shape) for level in image.data] == [level.shape for level in plan]
    assert all(level.dtype == volume.dtype for level in image.data)
    assert [axis["unit"] for axis in image.metadata["axes"]] == ["nanometer"] * 3
    for level, transforms in zip(plan, image.metadata["coordinateTransformations"]):
        scale, translation = transforms[0]["scale"], transforms[1]["translation"]
        assert scale == pytest.approx([s * f for s, f in zip(volume.spacing, level.factor)])
        # the first voxel of a level is the mean of the first factor voxels: its centre is theirs
        assert translation == pytest.approx([o + (f - 1) / 2 * s
                                             for o, s, f in zip(volume.origin, volume.spacing, level.factor)])


def test_pyramid_metadata_passes_the_ome_zarr_0_5_schema(tmp_path, make_volume):
    from ome_zarr_models.v05.image import Image

    path = io.write(make_volume("float32", shape=(9, 30, 31)), tmp_path / "v.zarr", levels=3)
    image = Image.from_zarr(zarr.open_group(str(path), mode="r"))
    assert [d.path for d in image.ome_attributes.multiscales[0].datasets] == ["0", "1", "2"]


def test_isovox_reads_level_0_of_a_pyramid(tmp_path, make_volume):
    volume = make_volume("float32", shape=(9, 30, 31))
    path = io.write(volume, tmp_path / "v.zarr", levels=3)
    back = io.read(path)
    assert back.spacing == volume.spacing and back.origin == volume.origin and back.unit == volume.unit
    np.testing.assert_array_equal(back.data, volume.data)


def test_each_level_is_the_mean_of_the_one_above(tmp_path, make_volume):
    volume = make_volume("float32", shape=(9, 30, 31), spacing=(20.0, 5.0, 5.0))
    path = io.write(volume, tmp_path / "v.zarr", levels=4)
    group = zarr.open_group(str(path), mode="r")
    for above, (index, level) in zip(range(3), enumerate(plan_levels(volume.shape, volume.spacing, 4)[1:], 1)):
        np.testing.assert_allclose(group[str(index)][...], reference_mean(group[str(above)][...], level.step),
                                   rtol=1e-6, atol=1e-5)


def test_lazy_volume_gives_the_same_pyramid(tmp_path, make_volume):
    import dask.array as da

    volume = make_volume("uint8", shape=(9, 30, 31))
    lazy = volume.replace(data=da.from_array(volume.data, chunks=(4, 7, 9)))
    eager_group = zarr.open_group(str(io.write(volume, tmp_path / "a.zarr", levels=3)), mode="r")
    lazy_group = zarr.open_group(str(io.write(lazy, tmp_path / "b.zarr", levels=3)), mode="r")
    for name in "012":
        np.testing.assert_array_equal(lazy_group[name][...], eager_group[name][...])


def test_levels_of_an_earlier_longer_pyramid_are_removed(tmp_path, make_volume):
    path = io.write(make_volume("float32", shape=(16, 16, 16)), tmp_path / "v.zarr", levels=4)
    assert add_levels(path, 2) == 2
    group = zarr.open_group(str(path), mode="r")
    assert sorted(name for name, _ in group.arrays()) == ["0", "1"]
    assert len(group.attrs["ome"]["multiscales"][0]["datasets"]) == 2


def test_levels_apply_only_to_zarr_outputs(tmp_path, make_volume):
    volume = make_volume("uint8")
    with pytest.raises(IsovoxError, match="apply to .zarr"):
        io.write(volume, tmp_path / "v.tif", levels=2)
    assert list(tmp_path.iterdir()) == []
    zarr_path, tif_path = tmp_path / "a.zarr", tmp_path / "a_gt.tif"   # mixed outputs: the Zarr one gets them
    io.write_together([(volume, zarr_path), (volume, tif_path)], levels=2)
    assert len(zarr.open_group(str(zarr_path), mode="r").attrs["ome"]["multiscales"][0]["datasets"]) == 2
    assert io.read(tif_path).shape == volume.shape


def test_failure_while_building_levels_leaves_nothing(tmp_path, make_volume, monkeypatch):
    calls = []

    def failing(block, step, dtype):
        calls.append(step)
        if len(calls) > 3:                      # level 0 and part of level 1 are on disk by now
            raise OSError("device error")
        return downsample_mean(block, step, dtype)

    monkeypatch.setattr(pyramid, "downsample_mean", failing)
    volume = make_volume("float32", shape=(20, 140, 140))
    with pytest.raises(OSError, match="device error"):
        io.write(volume, tmp_path / "v.zarr", levels=3)
    assert len(calls) > 3 and list(tmp_path.iterdir()) == []     # no output, no temporary


def test_failed_pyramid_keeps_the_old_output(tmp_path, make_volume, monkeypatch):
    old = make_volume("float32", shape=(20, 140, 140))
    path = io.write(old, tmp_path / "v.zarr", levels=2)
    monkeypatch.setattr(pyramid, "downsample_mean", lambda *args: (_ for _ in ()).throw(OSError("device error")))
    with pytest.raises(OSError):
        io.write(old.replace(data=old.data + 1), path, levels=3, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["v.zarr"]
    np.testing.assert_array_equal(io.read(path).data, old.data)
    assert len(zarr.open_group(str(path), mode="r").attrs["ome"]["multiscales"][0]["datasets"]) == 2
