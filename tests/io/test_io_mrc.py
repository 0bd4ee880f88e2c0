"""MRC: voxel size in angstrom (x, y, z), origin, dtype labels, axis mapping."""

from __future__ import annotations

import mrcfile
import numpy as np
import pytest

from isovox import io
from isovox.io import mrc as mrc_module
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


def _uint8_with_high_values(make_volume):
    volume = make_volume("uint8")
    return volume.replace(data=(np.asarray(volume.data).astype(np.int64) * 7 % 256).astype(np.uint8))


def test_uint8_is_one_byte_per_voxel_and_reads_back_bit_identical(tmp_path, make_volume):
    volume = _uint8_with_high_values(make_volume)
    assert volume.data.max() > 127                          # the values a signed reading would change
    path = io.write(volume, tmp_path / "u8.mrc")
    with mrcfile.open(str(path)) as mrc:
        assert int(mrc.header.mode) == 0
        header_bytes = 1024 + int(mrc.header.nsymbt)
    assert path.stat().st_size == header_bytes + volume.data.size
    for lazy in (False, True):
        back = io.read(path, lazy=lazy)
        assert back.dtype == np.uint8
        np.testing.assert_array_equal(np.asarray(back.data), volume.data)


def test_uint8_carries_the_imod_unsigned_marker_and_unsigned_statistics(tmp_path, make_volume):
    volume = _uint8_with_high_values(make_volume)
    path = io.write(volume, tmp_path / "u8.mrc")
    stamp, flags = np.frombuffer(path.read_bytes()[152:160], dtype="<i4")
    assert stamp == mrc_module.IMOD_STAMP and not flags & 1    # IMOD: 'bytes are unsigned'
    with mrcfile.open(str(path)) as mrc:
        assert mrc.data.dtype == np.int8                      # what a strict MRC2014 reader sees:
        np.testing.assert_array_equal(mrc.data.view(np.uint8), volume.data)   # the same bytes
        header = mrc.header
        assert (float(header.dmin), float(header.dmax)) == (volume.data.min(), volume.data.max())
        assert float(header.dmean) == pytest.approx(volume.data.mean(), rel=1e-6)
        assert float(header.rms) == pytest.approx(volume.data.std(), rel=1e-6)


@pytest.mark.parametrize("signed_flag, expected", [(0, np.uint8), (1, np.int8)])
def test_mode0_follows_the_imod_signed_bytes_flag(tmp_path, signed_flag, expected):
    path = tmp_path / "imod.mrc"
    stored = np.arange(-60, 60, dtype=np.int8).reshape(2, 6, 10)
    with mrcfile.new(str(path)) as mrc:
        mrc.set_data(stored)
        mrc.voxel_size = (1.0, 1.0, 1.0)
    raw = bytearray(path.read_bytes())
    raw[152:160] = np.array([mrc_module.IMOD_STAMP, signed_flag], dtype="<i4").tobytes()
    path.write_bytes(bytes(raw))
    back = io.read(path)
    assert back.dtype == expected
    np.testing.assert_array_equal(back.data, stored.view(expected))


def test_mode0_without_the_imod_marker_is_int8(tmp_path, make_volume):
    volume = make_volume("int8")
    back = io.read(io.write(volume, tmp_path / "i8.mrc"))
    assert back.dtype == np.int8
    np.testing.assert_array_equal(back.data, volume.data)


def test_uint8_written_as_mode6_by_older_isovox_still_reads_as_uint8(tmp_path, make_volume):
    volume = make_volume("uint8")
    path = tmp_path / "old.mrc"
    with mrcfile.new(str(path)) as mrc:
        mrc.set_data(np.asarray(volume.data).astype(np.uint16))
        mrc.voxel_size = (1.0, 1.0, 1.0)
        mrc.add_label("isovox dtype=uint8")
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
