"""Zarr: OME-NGFF 0.5 layout written, 0.4 and plain arrays read, dask writes, empty outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr

from isovox import io
from isovox.errors import IsovoxError
from isovox.io import create_zarr_output

DATA = (np.arange(7 * 9 * 11) % 250).reshape(7, 9, 11).astype(np.uint16)


def test_ome_ngff_05_attributes(tmp_path, make_volume):
    volume = make_volume("uint16", shape=(70, 9, 130))
    path = io.write(volume, tmp_path / "v.ome.zarr")
    attrs = json.loads((path / "zarr.json").read_text())["attributes"]
    ome = attrs["ome"]
    assert ome["version"] == "0.5"
    multiscale = ome["multiscales"][0]
    assert multiscale["axes"] == [{"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"]
    dataset = multiscale["datasets"][0]
    assert dataset["path"] == "0"
    assert dataset["coordinateTransformations"] == [
        {"type": "scale", "scale": list(volume.spacing)},
        {"type": "translation", "translation": list(volume.origin)}]
    array = zarr.open_array(str(path / "0"), mode="r")
    assert array.metadata.zarr_format == 3
    assert array.chunks == (64, 9, 64)
    assert array.compressors                                   # compressed
    assert tuple(array.metadata.dimension_names) == ("z", "y", "x")


def _write_ome_04(path, scale, translation, unit="micrometer", axes="zyx", data=DATA, outer=None):
    group = zarr.open_group(str(path), mode="w", zarr_format=2)
    multiscale = {"version": "0.4", "name": "image",
                  "axes": [{"name": a, "type": "space" if a in "zyx" else "channel",
                            **({"unit": unit} if a in "zyx" else {})} for a in axes],
                  "datasets": [{"path": "0", "coordinateTransformations": [
                      {"type": "scale", "scale": scale},
                      {"type": "translation", "translation": translation}]}]}
    if outer:
        multiscale["coordinateTransformations"] = outer
    group.attrs["multiscales"] = [multiscale]
    group.create_array("0", shape=data.shape, dtype=data.dtype, chunks=data.shape)[...] = data


def test_reads_ome_ngff_04_zarr_v2(tmp_path):
    path = tmp_path / "old.ome.zarr"
    _write_ome_04(path, [0.5, 0.1, 0.1], [1.0, 2.0, 3.0])
    volume = io.read(path)
    assert volume.spacing == pytest.approx((0.5, 0.1, 0.1)) and volume.unit == "um"
    assert volume.origin == pytest.approx((1.0, 2.0, 3.0))
    np.testing.assert_array_equal(volume.data, DATA)


def test_multiscale_level_transform_is_composed(tmp_path):
    path = tmp_path / "outer.zarr"
    _write_ome_04(path, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0],
                  outer=[{"type": "scale", "scale": [40.0, 4.0, 4.0]},
                         {"type": "translation", "translation": [5.0, 6.0, 7.0]}], unit="nanometer")
    volume = io.read(path)
    assert volume.spacing == (40.0, 4.0, 4.0) and volume.origin == (5.0, 6.0, 7.0)


def test_ome_channel_axis(tmp_path):
    path = tmp_path / "czyx.ome.zarr"
    data = np.stack([DATA, DATA * 2])
    _write_ome_04(path, [1.0, 0.5, 0.1, 0.1], [0, 0, 0, 0], axes="czyx", data=data)
    with pytest.raises(IsovoxError, match="4D"):
        io.read(path)
    np.testing.assert_array_equal(io.read(path, channel=1).data, DATA * 2)


def test_plain_array_with_and_without_attributes(tmp_path):
    path = tmp_path / "plain.zarr"
    array = zarr.create_array(str(path), shape=DATA.shape, dtype=DATA.dtype, chunks=(4, 4, 4))
    array[...] = DATA
    with pytest.raises(IsovoxError, match="no voxel spacing"):
        io.read(path)
    assert io.read(path, spacing=(3, 2, 1)).unit == "nm"
    array.attrs.update({"spacing": [30, 4, 4], "unit": "nm"})
    volume = io.read(path)
    assert volume.spacing == (30.0, 4.0, 4.0)
    np.testing.assert_array_equal(volume.data, DATA)


def test_lazy_read_is_dask(tmp_path, volume):
    lazy = io.read(io.write(volume, tmp_path / "l.zarr"), lazy=True)
    assert type(lazy.data).__module__.startswith("dask")
    np.testing.assert_array_equal(lazy.data.compute(), volume.data)


def test_create_zarr_output_for_blockwise_writing(tmp_path, make_volume):
    volume = make_volume("float32")
    grid = volume.on_new_grid(np.broadcast_to(np.zeros((), np.float32), (7, 9, 41)), scale=(1, 1, 0.25))
    out = create_zarr_output(tmp_path / "blocks.ome.zarr", grid.shape, np.float32, grid,
                             chunks=(4, 9, 16))
    assert out.shape == (7, 9, 41) and out.chunks == (4, 9, 16)
    out[:4, :, :16] = 1.5                                       # write one block
    back = io.read(tmp_path / "blocks.ome.zarr")
    assert back.spacing == pytest.approx(grid.spacing) and back.origin == pytest.approx(grid.origin)
    assert back.data[0, 0, 0] == 1.5 and back.data[6, 8, 40] == 0
    with pytest.raises(IsovoxError, match="exists"):
        create_zarr_output(tmp_path / "blocks.ome.zarr", grid.shape, np.float32, grid)
