"""Every format: write a volume, read it back, get the same values, dtype and geometry."""

from __future__ import annotations

import numpy as np
import pytest

from isovox import io
from isovox.io import SUPPORTED_SUFFIXES, format_of, split_dataset_path

# suffix -> dtypes the format stores exactly (beyond uint8 / uint16 / float32 for all).
EXTRA_DTYPES = {
    ".tif": ["int8", "int16", "int32", "uint32", "int64", "float64"],
    ".ome.tif": ["int8", "int16", "int32", "uint32", "float64"],
    ".nii.gz": ["int8", "int16", "int32", "uint32", "int64", "float64"],
    ".h5": ["int8", "int16", "int32", "uint32", "int64", "float64", "bool"],
    ".zarr": ["int8", "int16", "int32", "uint32", "int64", "float64", "bool"],
    ".mrc": ["int8", "int16", "float16", "complex64", "bool"],
}
CASES = [(suffix, dtype) for suffix, extra in EXTRA_DTYPES.items()
         for dtype in ["uint8", "uint16", "float32"] + extra]


@pytest.mark.parametrize("suffix,dtype", CASES)
def test_values_dtype_and_geometry_survive(tmp_path, make_volume, suffix, dtype):
    unit = "mm" if suffix == ".nii.gz" else "nm"      # NIfTI has no nm: it would convert to um
    volume = make_volume(dtype, unit=unit)
    path = io.write(volume, tmp_path / f"out{suffix}")
    back = io.read(path)
    assert back.dtype == volume.dtype
    assert back.shape == volume.shape
    np.testing.assert_array_equal(back.data, volume.data)
    assert back.unit == (unit if suffix != ".mrc" else "angstrom")
    expected = volume if suffix != ".mrc" else volume.in_unit("angstrom")
    np.testing.assert_allclose(back.spacing, expected.spacing, rtol=1e-6)
    np.testing.assert_allclose(back.origin, expected.origin, rtol=1e-6, atol=1e-6)
    assert back.meta["source"] == str(path.resolve())


@pytest.mark.parametrize("suffix", [".tif", ".ome.tif", ".nii", ".h5", ".zarr", ".mrc"])
def test_lazy_read_gives_same_values(tmp_path, make_volume, suffix):
    volume = make_volume("uint16", unit="mm")
    path = io.write(volume, tmp_path / f"out{suffix}")
    back = io.read(path, lazy=True)
    assert not isinstance(back.data, np.ndarray) or isinstance(back.data, np.memmap)
    np.testing.assert_array_equal(np.asarray(back.data), volume.data)
    assert back.dtype == volume.dtype


def test_lazy_mrc_uint8_keeps_dtype(tmp_path, make_volume):
    volume = make_volume("uint8")
    back = io.read(io.write(volume, tmp_path / "v.mrc"), lazy=True)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(back.data), volume.data)


@pytest.mark.parametrize("suffix", [".tif", ".ome.tif", ".nii.gz", ".h5", ".zarr", ".mrc"])
def test_lazy_volume_writes_to_every_format(tmp_path, make_volume, suffix):
    """A dask-backed volume (as a lazy read gives) can be written without loading it first."""
    da = pytest.importorskip("dask.array")
    source = make_volume("uint16", unit="mm")
    lazy = source.replace(data=da.from_array(source.data, chunks=(3, 4, 5)))
    back = io.read(io.write(lazy, tmp_path / f"out{suffix}"))
    np.testing.assert_array_equal(back.data, source.data)


def test_hdf5_dataset_name_round_trips(tmp_path, volume):
    io.write(volume, f"{tmp_path / 'v.h5'}:/group/raw")
    back = io.read(f"{tmp_path / 'v.h5'}:/group/raw")
    assert back.meta["dataset"] == "/group/raw"
    np.testing.assert_array_equal(back.data, volume.data)


def test_direction_round_trips_where_the_format_stores_it(tmp_path, make_volume):
    flip = np.diag([1.0, -1.0, 1.0])
    volume = make_volume("float32", unit="mm", direction=flip)
    for suffix in (".nii.gz", ".h5", ".zarr"):
        back = io.read(io.write(volume, tmp_path / f"d{suffix}"))
        np.testing.assert_allclose(back.affine, volume.affine, atol=1e-5)


def test_formats_without_orientation_warn(tmp_path, make_volume):
    volume = make_volume("float32", direction=np.diag([1.0, -1.0, 1.0]))
    with pytest.warns(UserWarning, match="direction"):
        io.write(volume, tmp_path / "d.mrc")


def test_suffix_table():
    assert {".tif", ".tiff", ".ome.tif", ".ome.tiff", ".nii", ".nii.gz", ".h5", ".hdf5", ".hdf",
            ".zarr", ".ome.zarr", ".mrc", ".map", ".rec", ".st"} == set(SUPPORTED_SUFFIXES)
    assert format_of("a/B.OME.TIF") == ("ome-tiff", ".ome.tif")
    assert format_of("x.nii.gz")[0] == "nifti"
    assert format_of("x.ome.zarr")[0] == "zarr"


@pytest.mark.parametrize("text,expected", [
    ("a/b.h5:/raw", ("a/b.h5", "/raw")),
    ("a/b.hdf5:/g/raw", ("a/b.hdf5", "/g/raw")),
    ("b.h5", ("b.h5", None)),
    ("b.h5:", ("b.h5", None)),
    ("C:/data/b.h5:/raw", ("C:/data/b.h5", "/raw")),
    ("C:/data/b.tif", ("C:/data/b.tif", None)),
])
def test_split_dataset_path(text, expected):
    path, dataset = split_dataset_path(text)
    assert (str(path), dataset) == (str(type(path)(expected[0])), expected[1])


@pytest.mark.parametrize("suffix", [".tiff", ".ome.tiff", ".hdf5", ".ome.zarr", ".map", ".rec", ".st"])
def test_alternative_suffixes(tmp_path, volume, suffix):
    back = io.read(io.write(volume, tmp_path / f"alt{suffix}"))
    np.testing.assert_array_equal(back.data, volume.data)
