"""MRC: voxel size in angstrom (x, y, z), origin, dtype labels, axis mapping."""

from __future__ import annotations

import mrcfile
import numpy as np
import pytest

from isovox import io
from isovox.errors import IsovoxError

DATA = (np.arange(7 * 9 * 11) % 120).reshape(7, 9, 11).astype(np.float32)


def test_voxel_size_is_reversed_and_in_angstrom(tmp_path):
    path = tmp_path / "t.mrc"
    with mrcfile.new(str(path)) as mrc:
        mrc.set_data(DATA)
        mrc.voxel_size = (1.5, 2.5, 3.5)                    # x, y, z
        mrc.header.origin = (10.0, 20.0, 30.0)              # x, y, z
    volume = io.read(path)
    assert volume.spacing == pytest.approx((3.5, 2.5, 1.5))
    assert volume.unit == "angstrom"
    assert volume.origin == pytest.approx((30.0, 20.0, 10.0))
    np.testing.assert_array_equal(volume.data, DATA)


def test_nanometre_volume_is_written_in_angstrom(tmp_path, make_volume):
    volume = make_volume("float32", spacing=(50.0, 4.0, 4.0), unit="nm")
    path = io.write(volume, tmp_path / "nm.mrc")
    with mrcfile.open(str(path)) as mrc:
        assert tuple(float(v) for v in mrc.voxel_size.tolist()) == pytest.approx((40.0, 40.0, 500.0))


def test_uncalibrated_mrc_needs_spacing_and_defaults_to_angstrom(tmp_path):
    path = tmp_path / "raw.mrc"
    with mrcfile.new(str(path)) as mrc:
        mrc.set_data(DATA)
    with pytest.raises(IsovoxError, match="no voxel spacing.*--spacing"):
        io.read(path)
    volume = io.read(path, spacing=(2, 1, 1))
    assert volume.unit == "angstrom"


def test_uint8_is_labelled_and_cast_back(tmp_path, make_volume):
    volume = make_volume("uint8")
    path = io.write(volume, tmp_path / "u8.mrc")
    with mrcfile.open(str(path)) as mrc:
        assert mrc.data.dtype == np.uint16                  # what mrcfile actually stores
        labels = [bytes(label).decode().strip() for label in mrc.header.label[: mrc.header.nlabl]]
    assert "isovox dtype=uint8" in labels
    back = io.read(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back.data, volume.data)


@pytest.mark.parametrize("dtype", ["int32", "uint32", "float64", "int64"])
def test_dtypes_without_an_mrc_mode_are_refused(tmp_path, make_volume, dtype):
    with pytest.raises(IsovoxError, match=f"MRC cannot store dtype {dtype}"):
        io.write(make_volume(dtype), tmp_path / "bad.mrc")
    assert list(tmp_path.iterdir()) == []


def test_non_standard_axis_mapping_is_transposed(tmp_path):
    path = tmp_path / "mapped.mrc"
    stored = DATA.transpose(2, 1, 0)                        # sections along x
    with mrcfile.new(str(path)) as mrc:
        mrc.set_data(np.ascontiguousarray(stored))
        mrc.header.mapc, mrc.header.mapr, mrc.header.maps = 3, 2, 1
        mrc.voxel_size = (1.0, 1.0, 1.0)
    np.testing.assert_array_equal(io.read(path).data, DATA)


def test_volume_stack_needs_a_channel(tmp_path):
    path = tmp_path / "stack.mrc"
    with mrcfile.new(str(path)) as mrc:
        mrc.set_data(np.stack([DATA, DATA + 1]))
        mrc.header.ispg = 401
        mrc.voxel_size = (1.0, 1.0, 1.0)
    with pytest.raises(IsovoxError, match="4D"):
        io.read(path)
    np.testing.assert_array_equal(io.read(path, channel=1).data, DATA + 1)
