"""Bad input: each case raises a one-line IsovoxError that names the problem."""

from __future__ import annotations

import h5py
import mrcfile
import nibabel as nib
import numpy as np
import pytest
import tifffile

from isovox import io
from isovox.errors import IsovoxError


def _one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_2d_image(tmp_path):
    path = tmp_path / "slice.tif"
    tifffile.imwrite(path, np.zeros((9, 11), np.uint8), imagej=True, metadata={"unit": "nm"})
    with pytest.raises(IsovoxError, match="2D image of shape \\(9, 11\\)") as excinfo:
        io.read(path, spacing=(1, 1, 1))
    _one_line(excinfo)


def test_2d_hdf5_and_mrc(tmp_path):
    with h5py.File(tmp_path / "flat.h5", "w") as f:
        f.create_dataset("img", data=np.zeros((9, 11)))
    with pytest.raises(IsovoxError, match="2D image"):
        io.read(tmp_path / "flat.h5", spacing=(1, 1, 1))
    with mrcfile.new(str(tmp_path / "flat.mrc")) as mrc:
        mrc.set_data(np.zeros((9, 11), np.float32))
    with pytest.raises(IsovoxError, match="2D image"):
        io.read(tmp_path / "flat.mrc", spacing=(1, 1, 1))


def test_4d_without_channel_and_channel_out_of_range(tmp_path):
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("v", data=np.zeros((2, 7, 9, 11), np.uint8))
    with pytest.raises(IsovoxError, match="4D array.*--channel N") as excinfo:
        io.read(path, spacing=(1, 1, 1))
    _one_line(excinfo)
    with pytest.raises(IsovoxError, match="channel 2 out of range.*2 channels \\(0 to 1\\)"):
        io.read(path, spacing=(1, 1, 1), channel=2)


def test_channel_on_a_3d_file(tmp_path, volume):
    path = io.write(volume, tmp_path / "v.h5")
    with pytest.raises(IsovoxError, match="channel 1 out of range.*single channel"):
        io.read(path, channel=1)
    assert io.read(path, channel=0).shape == volume.shape


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(tmp_path, make_volume, bad):
    data = make_volume("float32").data.copy()
    data[3, 4, 5] = bad
    path = tmp_path / "nan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("v", data=data).attrs["resolution"] = (1, 1, 1)
    with pytest.raises(IsovoxError, match="1 NaN or Inf value"):
        io.read(path)
    assert io.read(path, lazy=True).shape == data.shape       # lazy reads do not scan the data


@pytest.mark.parametrize("resolution", [(0.0, 4.0, 4.0), (40.0, -4.0, 4.0)])
def test_zero_or_negative_spacing_in_file(tmp_path, resolution):
    path = tmp_path / "zero.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("v", data=np.zeros((7, 9, 11), np.uint8)).attrs["resolution"] = resolution
    with pytest.raises(IsovoxError, match="invalid voxel spacing.*--spacing Z Y X"):
        io.read(path)
    assert io.read(path, spacing=(40, 4, 4)).spacing == (40.0, 4.0, 4.0)  # the user can fix it


def test_zero_spacing_in_nifti_and_mrc(tmp_path):
    header = nib.Nifti1Header()
    header.set_data_shape((4, 5, 6))
    header.set_sform(np.diag([1.0, 0.0, 1.0, 1.0]), code=1)     # a collapsed j axis
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.uint8), None, header=header), str(tmp_path / "z.nii"))
    with pytest.raises(IsovoxError, match="invalid voxel spacing"):
        io.read(tmp_path / "z.nii")
    with mrcfile.new(str(tmp_path / "z.mrc")) as mrc:
        mrc.set_data(np.zeros((4, 5, 6), np.float32))
        mrc.voxel_size = (1.0, 0.0, 1.0)
    with pytest.raises(IsovoxError, match="invalid voxel spacing"):
        io.read(tmp_path / "z.mrc")


def test_bad_user_spacing(tmp_path, volume):
    path = io.write(volume, tmp_path / "v.h5")
    with pytest.raises(IsovoxError, match="spacing must be positive"):
        io.read(path, spacing=(0, 1, 1))


@pytest.mark.parametrize("name", ["missing.tif", "missing.nii.gz", "missing.h5:/v", "missing.zarr",
                                  "missing.mrc"])
def test_missing_file(tmp_path, name):
    with pytest.raises(IsovoxError, match="file not found: .*missing"):
        io.read(tmp_path / name if ":" not in name else f"{tmp_path}/{name}")


def _truncate(path, fraction=0.5):
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * fraction)])


@pytest.mark.parametrize("suffix,fmt", [(".tif", "TIFF"), (".ome.tif", "TIFF"), (".nii.gz", "NIfTI"),
                                        (".nii", "NIfTI"), (".h5", "HDF5"), (".mrc", "MRC")])
@pytest.mark.parametrize("lazy", [False, True])
def test_truncated_file(tmp_path, make_volume, suffix, fmt, lazy):
    path = io.write(make_volume("float32", unit="mm"), tmp_path / f"t{suffix}")
    _truncate(path)
    with pytest.raises(IsovoxError, match=f"cannot read .*t{suffix} as {fmt}: ") as excinfo:
        volume = io.read(path, lazy=lazy)
        np.asarray(volume.data)                 # a lazy reader may only fail here
    _one_line(excinfo)


def test_truncated_int16_tiff(tmp_path, make_volume):
    """The plain (non-ImageJ) TIFF isovox writes for other dtypes is checked the same way."""
    path = io.write(make_volume("int16"), tmp_path / "t.tif")
    _truncate(path, 0.7)
    with pytest.raises(IsovoxError, match="cannot read .* as TIFF"):
        io.read(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "junk.tif"
    path.write_bytes(b"this is not a tiff at all" * 10)
    with pytest.raises(IsovoxError, match="cannot read .*junk.tif as TIFF"):
        io.read(path)


def test_not_a_zarr_directory(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(IsovoxError, match="cannot read .*empty.zarr as Zarr"):
        io.read(tmp_path / "empty.zarr")


def test_no_spacing_anywhere(tmp_path):
    path = tmp_path / "bare.tif"
    tifffile.imwrite(path, np.zeros((7, 9, 11), np.uint8))
    with pytest.raises(IsovoxError, match=r"no voxel spacing in .*bare.tif; give --spacing Z Y X"):
        io.read(path)
    volume = io.read(path, spacing=(40, 4, 4))
    assert volume.unit == "nm" and volume.spacing == (40.0, 4.0, 4.0)


@pytest.mark.parametrize("name", ["image.png", "volume.npy", "noext"])
def test_unknown_suffix(tmp_path, volume, name):
    with pytest.raises(IsovoxError, match="unknown file type.*supported suffixes: .*\\.nii\\.gz"):
        io.read(tmp_path / name)
    with pytest.raises(IsovoxError, match="unknown file type"):
        io.write(volume, tmp_path / name)


def test_output_in_missing_directory(tmp_path, volume):
    with pytest.raises(IsovoxError, match="output directory does not exist: .*nope"):
        io.write(volume, tmp_path / "nope" / "out.tif")


@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_existing_output_without_overwrite(tmp_path, volume, suffix):
    path = io.write(volume, tmp_path / f"out{suffix}")
    with pytest.raises(IsovoxError, match=f"out{suffix} exists; pass --overwrite to replace it"):
        io.write(volume, path)
    io.write(volume.replace(data=volume.data + 1), path, overwrite=True)
    np.testing.assert_array_equal(io.read(path).data, volume.data + 1)


@pytest.mark.parametrize("lazy", [False, True])
def test_output_is_the_input(tmp_path, volume, lazy):
    path = io.write(volume, tmp_path / "in.tif")
    loaded = io.read(path, lazy=lazy)
    for target in (path, tmp_path / "." / "in.tif"):
        with pytest.raises(IsovoxError, match="refusing to overwrite the input file"):
            io.write(loaded, target, overwrite=True)
    np.testing.assert_array_equal(io.read(path).data, volume.data)


def test_write_needs_a_volume(tmp_path):
    with pytest.raises(IsovoxError, match="needs a Volume"):
        io.write(np.zeros((3, 3, 3)), tmp_path / "x.tif")
