"""NIfTI: axis order, affines (through-plane x, flips, obliques), headers, resampling overlay."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest

from isovox import io
from isovox.cli import main
from isovox.errors import DiskFull, IsovoxError
from isovox.resample import resample


def _rotation(degrees: float) -> np.ndarray:
    """Rotation about the world z axis (an oblique acquisition)."""
    a = np.deg2rad(degrees)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])


def _nib_affine(zooms_ijk, rotation=np.eye(3), flips=(1, 1, 1), translation=(-20.0, 13.0, 7.5)):
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(np.asarray(zooms_ijk) * np.asarray(flips))
    affine[:3, 3] = translation
    return affine


def _save(path, data_ijk, affine, **header_fields):
    image = nib.Nifti1Image(data_ijk, affine)
    image.header.set_xyzt_units("mm", "sec")
    for key, value in header_fields.items():
        image.header[key] = value
    nib.save(image, str(path))
    return path


def _world(affine, index):
    return (affine @ np.append(np.asarray(index, dtype=float), 1.0))[:3]


AFFINES = {
    "through-plane x": _nib_affine((4.0, 1.0, 1.0)),
    "flipped": _nib_affine((4.0, 1.0, 1.0), flips=(-1, 1, -1)),
    "oblique": _nib_affine((4.0, 1.0, 1.0), rotation=_rotation(30.0), flips=(1, -1, 1)),
}


@pytest.mark.parametrize("name", list(AFFINES))
def test_axes_are_reversed_and_affine_is_kept(tmp_path, name):
    affine = AFFINES[name]
    data_ijk = np.random.default_rng(0).integers(0, 255, (11, 9, 7), dtype=np.uint8)
    path = _save(tmp_path / "in.nii.gz", data_ijk, affine)
    volume = io.read(path)
    assert volume.shape == (7, 9, 11)
    assert volume.spacing == pytest.approx((1.0, 1.0, 4.0))      # x is the through-plane axis
    assert volume.unit == "mm"
    np.testing.assert_array_equal(volume.data, data_ijk.transpose(2, 1, 0))
    for zyx in [(0, 0, 0), (6, 8, 10), (3, 1, 7)]:
        # isovox world coordinates are (z, y, x) order: nibabel's (R, A, S) reversed
        np.testing.assert_allclose(_world(volume.affine, zyx), _world(affine, zyx[::-1])[::-1], atol=1e-5)
    out = io.write(volume, tmp_path / "out.nii.gz")
    np.testing.assert_allclose(nib.load(str(out)).affine, affine, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(nib.load(str(out)).dataobj), data_ijk)


def test_header_fields_survive(tmp_path):
    path = _save(tmp_path / "in.nii", np.zeros((11, 9, 7), np.int16), AFFINES["flipped"],
                 descrip=b"isovox header test", intent_code=1002, qform_code=1, sform_code=4)
    volume = io.read(path)
    header = nib.load(str(io.write(volume, tmp_path / "out.nii"))).header
    assert header["descrip"].item() == b"isovox header test"
    assert int(header["intent_code"]) == 1002
    assert (int(header["qform_code"]), int(header["sform_code"])) == (1, 4)
    assert header.get_xyzt_units() == ("mm", "sec")
    assert header.get_data_dtype() == np.int16


def test_header_is_updated_for_a_new_grid_and_dtype(tmp_path):
    path = _save(tmp_path / "in.nii.gz", np.ones((11, 9, 7), np.uint8), AFFINES["oblique"],
                 descrip=b"keep me")
    volume = io.read(path)
    bigger = volume.on_new_grid(np.ones((7, 9, 41), np.float32), scale=(1, 1, 0.25))
    image = nib.load(str(io.write(bigger, tmp_path / "out.nii.gz")))
    assert image.shape == (41, 9, 7)
    assert image.get_data_dtype() == np.float32
    assert image.header.get_zooms()[:3] == pytest.approx((1.0, 1.0, 1.0))
    assert image.header["descrip"].item() == b"keep me"


def test_resampled_volume_overlays_the_original_in_world_coordinates(tmp_path):
    """Every 4th output voxel along x is an input voxel: their world positions must agree."""
    for name, affine in AFFINES.items():
        data_ijk = np.random.default_rng(1).random((11, 9, 7)).astype(np.float32)
        source = _save(tmp_path / f"{name}.nii.gz", data_ijk, affine)
        volume = io.read(source)
        iso = resample(volume, (1.0, 1.0, 1.0), method="linear")
        assert iso.shape == (7, 9, 41)
        out = io.write(iso, tmp_path / f"{name}_iso.nii.gz")
        in_affine, out_affine = nib.load(str(source)).affine, nib.load(str(out)).affine
        back = io.read(out)
        for z, y, k in [(0, 0, 0), (6, 8, 10), (2, 5, 3), (4, 0, 7)]:
            # nibabel indices are (i, j, k) = (x, y, z)
            np.testing.assert_allclose(_world(out_affine, (4 * k, y, z)), _world(in_affine, (k, y, z)),
                                       atol=1e-4, err_msg=name)
            np.testing.assert_allclose(_world(back.affine, (z, y, 4 * k)),
                                       _world(volume.affine, (z, y, k)), atol=1e-4, err_msg=name)
            assert back.data[z, y, 4 * k] == pytest.approx(volume.data[z, y, k], abs=1e-5)


def test_volume_without_header_gets_one_from_its_affine(tmp_path, make_volume):
    volume = make_volume("float32", unit="mm", spacing=(1.0, 1.0, 4.0), origin=(1.0, 2.0, 3.0))
    image = nib.load(str(io.write(volume, tmp_path / "new.nii.gz")))
    assert int(image.header["sform_code"]) > 0
    assert image.header.get_xyzt_units()[0] == "mm"
    np.testing.assert_allclose(image.affine[:3, 3], volume.origin[::-1])
    np.testing.assert_allclose(image.header.get_zooms(), (4.0, 1.0, 1.0))


def test_nanometre_volume_is_written_in_micron_with_a_warning(tmp_path, make_volume):
    volume = make_volume("uint8", unit="nm", spacing=(50.0, 4.0, 4.0))
    with pytest.warns(UserWarning, match=r"NIfTI output is in micron .*read its spacing as mm"):
        path = io.write(volume, tmp_path / "em.nii.gz")
    assert nib.load(str(path)).header.get_xyzt_units()[0] == "micron"
    back = io.read(path)
    assert back.unit == "um"
    assert back.spacing == pytest.approx((0.05, 0.004, 0.004))


def test_millimetre_volume_is_written_without_a_warning(tmp_path, make_volume):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        io.write(make_volume("uint8", unit="mm"), tmp_path / "mri.nii.gz")


def test_failed_write_gives_no_unit_warning(tmp_path, make_volume, monkeypatch):
    def full_disk(image, filename):
        raise OSError(28, "No space left on device", filename)

    monkeypatch.setattr(nib, "save", full_disk)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(DiskFull):
        warnings.simplefilter("always")
        io.write(make_volume("uint8", unit="nm"), tmp_path / "em.nii.gz")
    assert not [w for w in caught if "NIfTI output" in str(w.message)]


@pytest.mark.parametrize("unit, warned", [("nm", True), ("mm", False)])
def test_command_line_prints_the_unit_warning_on_one_line(tmp_path, capsys, make_volume, unit, warned):
    source = io.write(make_volume("float32", unit=unit, spacing=(4.0, 1.0, 1.0)), tmp_path / "lr.tif")
    assert main(["reconstruct", str(source), "-o", str(tmp_path / "iso.nii.gz")]) == 0
    lines = capsys.readouterr().err.splitlines()
    notes = [line for line in lines if line.startswith("warning: NIfTI output is in micron")]
    assert len(notes) == (1 if warned else 0), lines


def test_unknown_units_mean_millimetres(tmp_path):
    path = tmp_path / "u.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.uint8), np.diag([2.0, 3.0, 4.0, 1.0])), str(path))
    volume = io.read(path)
    assert volume.unit == "mm" and volume.spacing == pytest.approx((4.0, 3.0, 2.0))


def test_4d_nifti_needs_a_channel(tmp_path):
    data = np.random.default_rng(2).random((11, 9, 7, 3)).astype(np.float32)
    path = _save(tmp_path / "t.nii.gz", data, AFFINES["through-plane x"])
    with pytest.raises(IsovoxError, match="4D"):
        io.read(path)
    np.testing.assert_array_equal(io.read(path, channel=1).data, data[..., 1].transpose(2, 1, 0))
    with pytest.raises(IsovoxError, match="channel 3 out of range.*3 channels"):
        io.read(path, channel=3)


def test_single_volume_4d_nifti_is_3d(tmp_path):
    path = _save(tmp_path / "t1.nii.gz", np.zeros((11, 9, 7, 1), np.float32), AFFINES["flipped"])
    assert io.read(path).shape == (7, 9, 11)


def test_lazy_read_of_uncompressed_nifti_is_a_memmap(tmp_path):
    path = _save(tmp_path / "m.nii", np.zeros((11, 9, 7), np.int16), AFFINES["flipped"])
    assert isinstance(io.read(path, lazy=True).data, np.memmap)


def test_tiff_volume_written_as_nifti_has_standard_orientation(tmp_path, make_volume):
    """Identity direction in (z, y, x) world must become RAS with i = x, j = y, k = z."""
    volume = make_volume("uint8", unit="mm", spacing=(3.0, 1.0, 1.0))
    image = nib.load(str(io.write(volume, tmp_path / "plain.nii.gz")))
    assert nib.aff2axcodes(image.affine) == ("R", "A", "S")
    np.testing.assert_allclose(image.header.get_zooms(), (1.0, 1.0, 3.0))


def test_real_colin27(real_data):
    path = real_data("colin27_t1_1mm.nii.gz")
    image = nib.load(str(path))
    volume = io.read(path)
    assert volume.shape == image.shape[::-1]
    assert volume.spacing == pytest.approx((1.0, 1.0, 1.0))
    assert volume.unit == "mm"
    np.testing.assert_allclose(_world(volume.affine, (0, 0, 0)), image.affine[:3, 3][::-1])
    np.testing.assert_allclose(_world(volume.affine, (10, 20, 30)), _world(image.affine, (30, 20, 10))[::-1])
    assert volume.data[10, 20, 30] == np.asarray(image.dataobj)[30, 20, 10]


def test_default_read_is_in_memory(tmp_path):
    path = _save(tmp_path / "m.nii", np.zeros((11, 9, 7), np.int16), AFFINES["flipped"])
    array = io.read(path).data
    while array is not None:                     # nothing in the chain of views is a memmap
        assert not isinstance(array, np.memmap)
        array = array.base if isinstance(array, np.ndarray) else None
