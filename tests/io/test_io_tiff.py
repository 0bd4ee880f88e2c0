"""TIFF specifics: ImageJ / OME / plain metadata, axes, lazy reads, real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from isovox import io
from isovox.errors import IsovoxError


def _stack(dtype="uint8", shape=(7, 9, 11)):
    return (np.arange(int(np.prod(shape))) % 200).reshape(shape).astype(dtype)


def test_imagej_spacing_from_description_and_resolution_tags(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _stack(), imagej=True, resolution=(1 / 4.0, 1 / 2.5),
                     metadata={"axes": "ZYX", "spacing": 50.0, "unit": "nm"})
    volume = io.read(path)
    assert volume.spacing == pytest.approx((50.0, 2.5, 4.0))
    assert volume.unit == "nm"


@pytest.mark.parametrize("written", ["micron", "\\u00B5m", "um", "microns"])
def test_imagej_micron_spellings(tmp_path, written):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _stack(), imagej=True, resolution=(2.0, 2.0),
                     metadata={"axes": "ZYX", "spacing": 1.5, "unit": written})
    volume = io.read(path)
    assert volume.unit == "um"
    assert volume.spacing == pytest.approx((1.5, 0.5, 0.5))


def test_imagej_origin_in_pixels(tmp_path, make_volume):
    volume = make_volume("uint8", origin=(10.0, -4.0, 6.0))
    path = io.write(volume, tmp_path / "o.tif")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["xorigin"] == pytest.approx(-6.0 / volume.spacing[2])
    assert io.read(path).origin == pytest.approx(volume.origin)


def test_uncalibrated_imagej_file_has_no_spacing(tmp_path):
    path = tmp_path / "raw.tif"
    tifffile.imwrite(path, _stack(), imagej=True, metadata={"axes": "ZYX"})
    with pytest.raises(IsovoxError, match="no voxel spacing.*--spacing Z Y X"):
        io.read(path)
    volume = io.read(path, spacing=(40, 4, 4))
    assert volume.spacing == (40.0, 4.0, 4.0) and volume.unit == "nm"


def test_user_spacing_and_unit_override_the_file(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _stack(), imagej=True, resolution=(0.5, 0.5),
                     metadata={"axes": "ZYX", "spacing": 5.0, "unit": "nm"})
    volume = io.read(path, spacing=(8, 1, 1), unit="um")
    assert (volume.spacing, volume.unit) == ((8.0, 1.0, 1.0), "um")
    assert io.read(path, unit="angstrom").spacing == pytest.approx((5.0, 2.0, 2.0))


def test_imagej_writer_used_for_imagej_dtypes_only(tmp_path, make_volume):
    for dtype in ("uint8", "uint16", "float32"):
        with tifffile.TiffFile(io.write(make_volume(dtype), tmp_path / f"{dtype}.tif")) as tif:
            assert tif.is_imagej, dtype
            assert tif.imagej_metadata["unit"] == "nm"
            assert tif.pages.first.compression == 1         # uncompressed
    volume = make_volume("int16", unit="um")
    with tifffile.TiffFile(io.write(volume, tmp_path / "int16.tif")) as tif:
        assert not tif.is_imagej
        info = json.loads(tif.pages.first.description)["isovox"]
        assert info["spacing"] == list(volume.spacing) and info["unit"] == "um"
        assert tif.pages.first.tags["XResolution"].value[1] != 0


def test_ome_tiff_physical_sizes_and_units(tmp_path, make_volume):
    volume = make_volume("uint16", unit="um")
    path = io.write(volume, tmp_path / "v.ome.tif")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome
        xml = tif.ome_metadata
    assert 'PhysicalSizeZ="5.0"' in xml and 'PhysicalSizeXUnit="\u00b5m"' in xml
    back = io.read(path)
    assert back.unit == "um" and back.spacing == pytest.approx(volume.spacing)


def test_ome_tiff_from_another_writer_with_mixed_units(tmp_path):
    path = tmp_path / "mixed.ome.tif"
    tifffile.imwrite(path, _stack("uint16"), ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeZ": 0.05, "PhysicalSizeZUnit": "\u00b5m",
        "PhysicalSizeY": 4.0, "PhysicalSizeYUnit": "nm", "PhysicalSizeX": 4.0, "PhysicalSizeXUnit": "nm"})
    volume = io.read(path)
    assert volume.unit == "nm" and volume.spacing == pytest.approx((50.0, 4.0, 4.0))


def test_ome_tiff_default_unit_is_micrometre(tmp_path):
    path = tmp_path / "default.ome.tif"
    tifffile.imwrite(path, _stack("uint16"), ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeZ": 2.0, "PhysicalSizeY": 0.5, "PhysicalSizeX": 0.5})
    volume = io.read(path)
    assert volume.unit == "um" and volume.spacing == pytest.approx((2.0, 0.5, 0.5))


def test_channels_in_an_imagej_hyperstack(tmp_path):
    data = _stack("uint16", (7, 3, 9, 11))                   # Z, C, Y, X
    path = tmp_path / "zcyx.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZCYX", "spacing": 3.0, "unit": "nm"})
    with pytest.raises(IsovoxError, match="4D.*channel"):
        io.read(path)
    volume = io.read(path, channel=2)
    np.testing.assert_array_equal(volume.data, data[:, 2])
    np.testing.assert_array_equal(io.read(path, channel=1, lazy=True).data, data[:, 1])


def test_singleton_time_and_channel_axes_are_dropped(tmp_path):
    data = _stack("uint8", (1, 7, 1, 9, 11))                 # T, Z, C, Y, X
    path = tmp_path / "tzcyx.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TZCYX", "spacing": 3.0, "unit": "nm"})
    volume = io.read(path)
    assert volume.shape == (7, 9, 11)


def test_plain_multipage_tiff_pages_are_z(tmp_path):
    data = _stack("uint16")
    path = tmp_path / "plain.tif"
    with tifffile.TiffWriter(path) as writer:                 # no shape metadata at all
        for page in data:
            writer.write(page, metadata=None, contiguous=False)
    volume = io.read(path, spacing=(30, 3, 3))
    np.testing.assert_array_equal(volume.data, data)
    assert volume.unit == "nm"


def test_lazy_read_memory_maps_uncompressed_files(tmp_path, make_volume):
    path = io.write(make_volume("uint16"), tmp_path / "m.tif")
    assert isinstance(io.read(path, lazy=True).data, np.memmap)


def test_lazy_read_of_compressed_file_is_dask(tmp_path):
    data = _stack("uint16")
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, data, imagej=True, compression="zlib",
                     metadata={"axes": "ZYX", "spacing": 3.0, "unit": "nm"})
    volume = io.read(path, lazy=True)
    assert volume.is_lazy and not isinstance(volume.data, np.ndarray)
    np.testing.assert_array_equal(np.asarray(volume.data), data)


def test_real_flyem_fibsem(real_data):
    volume = io.read(real_data("flyem_fibsem_sample2_250cube_10nm.tif"))
    assert volume.shape == (250, 250, 250)
    assert volume.dtype == np.uint8
    assert volume.spacing == pytest.approx((10.0, 10.0, 10.0))
    assert volume.unit == "nm"


def test_real_isbi_sstem(real_data):
    volume = io.read(real_data("isbi2012_sstem_30x512x512_4x4x50nm.tif"))
    assert volume.shape == (30, 512, 512)
    assert volume.dtype == np.uint8
    assert volume.spacing == pytest.approx((50.0, 4.0, 4.0))
    assert volume.unit == "nm"


@pytest.mark.parametrize("unit", ["um", "angstrom", "mm"])
def test_imagej_units_round_trip(tmp_path, make_volume, unit):
    volume = make_volume("uint8", unit=unit)
    back = io.read(io.write(volume, tmp_path / "u.tif"))
    assert back.unit == unit and back.spacing == pytest.approx(volume.spacing)


def test_plain_tiff_keeps_direction(tmp_path, make_volume):
    volume = make_volume("int16", direction=np.diag([-1.0, 1.0, 1.0]))
    back = io.read(io.write(volume, tmp_path / "d.tif"))
    np.testing.assert_allclose(back.affine, volume.affine)


def test_imagej_tiff_warns_about_direction(tmp_path, make_volume):
    with pytest.warns(UserWarning, match="direction matrix is not saved"):
        io.write(make_volume("uint8", direction=np.diag([-1.0, 1.0, 1.0])), tmp_path / "d.tif")


def test_float16_is_refused_for_ome_tiff(tmp_path, make_volume):
    with pytest.raises(IsovoxError, match="OME-TIFF output cannot store dtype float16"):
        io.write(make_volume("float16"), tmp_path / "h.ome.tif")
    assert list(tmp_path.iterdir()) == []
