"""HDF5: dataset selection, CREMI / ilastik spacing attributes, written layout, lazy reads."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from isovox import io
from isovox.errors import IsovoxError

DATA = (np.arange(7 * 9 * 11) % 250).reshape(7, 9, 11).astype(np.uint8)


def test_cremi_resolution_is_nm(tmp_path):
    path = tmp_path / "cremi.hdf"
    with h5py.File(path, "w") as f:
        raw = f.create_dataset("volumes/raw", data=DATA)
        raw.attrs["resolution"] = (40.0, 4.0, 4.0)
        raw.attrs["offset"] = (80.0, 0.0, 8.0)
        f.create_dataset("volumes/labels/neuron_ids", data=DATA.astype(np.uint64))
    volume = io.read(f"{path}:/volumes/raw")
    assert volume.spacing == (40.0, 4.0, 4.0) and volume.unit == "nm"
    assert volume.origin == (80.0, 0.0, 8.0)
    np.testing.assert_array_equal(volume.data, DATA)


def test_element_size_um_is_micrometres(tmp_path):
    path = tmp_path / "ilastik.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("exported_data", data=DATA).attrs["element_size_um"] = (0.5, 0.1, 0.1)
    volume = io.read(path)
    assert volume.spacing == pytest.approx((0.5, 0.1, 0.1)) and volume.unit == "um"


def test_several_datasets_need_a_name(tmp_path):
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("a", data=DATA)
        f.create_dataset("b", data=DATA)
    with pytest.raises(IsovoxError, match=r"several datasets \(/a .*, /b .*\).*:/DATASET"):
        io.read(path, spacing=(1, 1, 1))
    with pytest.raises(IsovoxError, match="no dataset '/c'.*datasets: /a, /b"):
        io.read(f"{path}:/c", spacing=(1, 1, 1))


def test_single_3d_dataset_is_found_among_others(tmp_path):
    path = tmp_path / "one.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("meta/table", data=np.arange(5))
        f.create_dataset("deep/inside/vol", data=DATA)
    volume = io.read(path, spacing=(3, 2, 1))
    assert volume.meta["dataset"] == "/deep/inside/vol"
    assert volume.unit == "nm"


def test_written_layout(tmp_path, make_volume):
    volume = make_volume("uint16", shape=(70, 9, 130), unit="um")
    path = io.write(volume, tmp_path / "out.h5")
    with h5py.File(path, "r") as f:
        node = f["volume"]
        assert node.chunks == (64, 9, 64)
        assert node.compression == "gzip"
        assert tuple(node.attrs["resolution"]) == volume.spacing
        assert node.attrs["unit"] == "um"
        assert tuple(node.attrs["offset"]) == volume.origin


def test_channels_first_and_ilastik_channels_last(tmp_path):
    path = tmp_path / "c.h5"
    czyx = np.stack([DATA, DATA + 1, DATA + 2])
    with h5py.File(path, "w") as f:
        f.create_dataset("czyx", data=czyx)
        f.create_dataset("zyxc", data=np.moveaxis(czyx, 0, -1))
    for name in ("czyx", "zyxc"):
        with pytest.raises(IsovoxError, match="4D"):
            io.read(f"{path}:/{name}", spacing=(1, 1, 1))
        np.testing.assert_array_equal(io.read(f"{path}:/{name}", spacing=(1, 1, 1), channel=2).data,
                                      DATA + 2)


def test_lazy_read_is_dask_and_keeps_file_open(tmp_path, volume):
    path = io.write(volume, tmp_path / "lazy.h5")
    lazy = io.read(path, lazy=True)
    assert lazy.is_lazy and type(lazy.data).__module__.startswith("dask")
    np.testing.assert_array_equal(lazy.data[2:5].compute(), volume.data[2:5])


@pytest.mark.parametrize("spacing, unit, micrometres", [
    ((50.0, 4.0, 4.0), "nm", (0.05, 0.004, 0.004)),
    ((2.0, 0.5, 0.25), "um", (2.0, 0.5, 0.25)),
    ((1.0, 1.5, 3.0), "mm", (1000.0, 1500.0, 3000.0)),
])
def test_element_size_um_is_written_for_ilastik_and_fiji(tmp_path, make_volume, spacing, unit, micrometres):
    path = io.write(make_volume("uint8", spacing=spacing, unit=unit), tmp_path / "out.h5")
    with h5py.File(path, "r") as f:
        written = f["volume"].attrs["element_size_um"]
    assert written.dtype.kind == "f" and written.shape == (3,)     # z, y, x
    assert tuple(written) == pytest.approx(micrometres, rel=1e-6)
    with h5py.File(path, "a") as f:                               # as a reader that knows only it
        del f["volume"].attrs["resolution"], f["volume"].attrs["unit"]
    back = io.read(path)
    assert back.unit == "um" and back.spacing == pytest.approx(micrometres, rel=1e-6)
