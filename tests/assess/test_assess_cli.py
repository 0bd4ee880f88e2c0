"""`isovox assess`: report folder, printed summary, JSON, reference scores, refusals and errors."""

import json

import numpy as np
import pytest

import isovox.cli.assess  # noqa: F401  (registers the command)
from isovox import io
from isovox.assess import assess
from isovox.cli import main
from isovox.volume import Volume


def run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def sections(tmp_path, make_blurred):
    """16 sections 40 nm apart with 10 nm pixels (z sampling-limited), and the same on the fine
    grid as a reference for tests that need one."""
    fine = make_blurred((1.0, 1.0, 1.0), shape=(64, 48, 48))
    lowres = io.write(Volume(fine[::4], (40, 10, 10), "nm"), tmp_path / "lr.tif")
    truth = io.write(Volume(fine, (10, 10, 10), "nm"), tmp_path / "gt.tif")
    blurred = io.write(Volume(make_blurred((2.5, 1.0, 1.0), shape=(64, 48, 48)), (10, 10, 10), "nm"),
                       tmp_path / "blurred.tif")
    return {"lowres": lowres, "truth": truth, "blurred": blurred}


def test_writes_report_and_figure_and_prints_the_same_numbers(tmp_path, capsys, sections):
    folder = tmp_path / "report"
    code, out, err = run(["assess", sections["lowres"], "-o", folder], capsys)
    assert code == 0, err
    payload = json.loads((folder / "report.json").read_text())
    assert (folder / "spectra.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert payload["resolution"]["z"]["resolution"] == pytest.approx(80.0)
    assert payload["resolution"]["z"]["limited_by"] == "sampling"
    expected = assess(io.read(sections["lowres"]))
    for name in "zyx":
        value = payload["resolution"][name]["resolution"]
        assert value == pytest.approx(expected.resolution(name), rel=1e-5)
        assert f"{value:.3g} nm" in out
    assert f"isotropy: {payload['isotropy']['score']:.2f}" in out
    assert "axial z" in out and "report.json" in out


def test_json_prints_the_report(tmp_path, capsys, sections):
    code, out, _ = run(["assess", sections["lowres"], "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert set(payload["resolution"]) == {"z", "y", "x"}
    assert payload["isotropy"]["axial_axis"] == "z" and 0 < payload["isotropy"]["score"] < 0.5
    assert not any(tmp_path.glob("*report*"))               # no -o: nothing written


def test_reference_adds_psnr_and_ssim(tmp_path, capsys, sections):
    code, out, err = run(["assess", sections["blurred"], "--reference", sections["truth"], "--json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["comparison"]["volume"]["ssim"] < 1 and payload["comparison"]["volume"]["psnr"] > 0
    assert payload["reference"]["isotropy"]["score"] > 0.9 > payload["isotropy"]["score"]
    code, out, _ = run(["assess", sections["blurred"], "--reference", sections["truth"], "--axis", "z"], capsys)
    assert code == 0
    assert f"PSNR {payload['comparison']['volume']['psnr']:.2f} dB" in out
    assert "reference isotropy" in out


def test_refuses_to_replace_a_report_without_overwrite(tmp_path, capsys, sections, assert_one_line_error):
    folder = tmp_path / "report"
    assert run(["assess", sections["lowres"], "-o", folder], capsys)[0] == 0
    before = (folder / "report.json").read_text()
    code, _, err = run(["assess", sections["blurred"], "-o", folder], capsys)
    assert_one_line_error(code, err, "exists", "--overwrite")
    assert (folder / "report.json").read_text() == before
    code, _, err = run(["assess", sections["blurred"], "-o", folder, "--overwrite"], capsys)
    assert code == 0, err
    assert json.loads((folder / "report.json").read_text())["spacing"] == [10, 10, 10]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporaries


@pytest.mark.parametrize("case", ["missing input", "missing reference", "missing output folder",
                                  "other grid", "bad axis", "report onto the input"])
def test_errors_in_one_line(tmp_path, capsys, sections, case, assert_one_line_error):
    args = {"missing input": ["assess", tmp_path / "nothere.tif"],
            "missing reference": ["assess", sections["lowres"], "--reference", tmp_path / "nothere.tif"],
            "missing output folder": ["assess", sections["lowres"], "-o", tmp_path / "no" / "report"],
            "other grid": ["assess", sections["lowres"], "--reference", sections["truth"]],
            "bad axis": ["assess", sections["lowres"], "--axis", "w"],
            "report onto the input": ["assess", sections["lowres"], "-o", sections["lowres"],
                                      "--overwrite"]}[case]
    words = {"missing input": ["nothere.tif"], "missing reference": ["nothere.tif"],
             "missing output folder": ["does not exist"], "other grid": ["grid"], "bad axis": ["axis"],
             "report onto the input": ["input"]}[case]
    code, _, err = run(args, capsys)
    assert_one_line_error(code, err, *words)
    assert io.read(sections["lowres"]).shape == (16, 48, 48)  # the input is untouched


def test_a_nifti_mri_in_mm_is_assessed_in_mm(tmp_path, capsys, make_blurred, expected):
    """Thick MRI slices (4 mm apart, 1 mm in-plane) written as NIfTI: sampling-limited through
    the slices, the blur's resolution in-plane, all in mm."""
    fine = make_blurred((1.0, 1.0, 1.0), shape=(128, 48, 48))
    path = io.write(Volume(fine[::4], (4.0, 1.0, 1.0), "mm"), tmp_path / "t1.nii.gz")
    code, out, err = run(["assess", path, "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["unit"] == "mm" and report["resolution"]["z"]["resolution"] == pytest.approx(8.0)
    lateral = expected((1.0, 1.0, 1.0))[1]
    assert report["resolution"]["y"]["resolution"] == pytest.approx(lateral, rel=0.15)


def test_another_tools_output_is_judged_from_the_file_alone(tmp_path, capsys, make_blurred):
    """A cubic up-sampling made with scipy and saved with tifffile, not by isovox: its voxels are
    isotropic, its resolution is not."""
    import tifffile
    from scipy import ndimage as ndi

    fine = make_blurred((1.0, 1.0, 1.0), shape=(128, 48, 48))
    upsampled = ndi.zoom(fine[::4], (4, 1, 1), order=3).astype(np.float32)
    path = tmp_path / "scipy_cubic.tif"
    tifffile.imwrite(path, upsampled, imagej=True, resolution=(1 / 10, 1 / 10),
                     metadata={"spacing": 10.0, "unit": "nm", "axes": "ZYX"})
    code, out, err = run(["assess", path, "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["spacing"] == pytest.approx([10, 10, 10]) and report["unit"] == "nm"
    assert report["resolution"]["z"]["resolution"] >= 40.0                 # the section spacing
    assert report["isotropy"]["score"] < 0.6
