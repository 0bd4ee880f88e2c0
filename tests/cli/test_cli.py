"""The command line: every bad input gives one line 'error: ...', a non-zero exit, no output."""

from pathlib import Path

import numpy as np
import pytest
import tifffile

from isovox import io
from isovox.cli import main
from isovox.volume import Volume


def run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def anisotropic_tif(path, dtype=np.uint8, values=None):
    data = values if values is not None else np.random.default_rng(0).integers(0, 255, (6, 12, 12))
    io.write(Volume(np.asarray(data).astype(dtype), (4, 1, 1), "nm"), path)
    return path


@pytest.fixture
def lowres(tmp_path):
    return anisotropic_tif(tmp_path / "lr.tif")


def test_2d_image(tmp_path, capsys, assert_one_line_error):
    tifffile.imwrite(tmp_path / "flat.tif", np.zeros((8, 8), np.uint8))
    out = tmp_path / "out.tif"
    code, _, err = run(["reconstruct", tmp_path / "flat.tif", "-o", out, "--spacing", 4, 1, 1], capsys)
    assert_one_line_error(code, err, "2D")
    assert not out.exists()


def test_4d_without_channel_then_with(tmp_path, capsys, assert_one_line_error):
    data = np.random.default_rng(0).integers(0, 255, (6, 2, 10, 10)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "ch.tif", data, imagej=True, metadata={"axes": "ZCYX", "spacing": 4},
                     resolution=(1.0, 1.0))
    out = tmp_path / "out.tif"
    code, _, err = run(["reconstruct", tmp_path / "ch.tif", "-o", out], capsys)
    assert_one_line_error(code, err, "channel")
    assert not out.exists()
    code, _, _ = run(["reconstruct", tmp_path / "ch.tif", "-o", out, "--channel", 1], capsys)
    assert code == 0 and io.read(out).shape == (21, 10, 10)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf(tmp_path, capsys, bad, assert_one_line_error):
    values = np.ones((6, 8, 8), np.float32)
    values[2, 3, 3] = bad
    src = tmp_path / "bad.tif"
    tifffile.imwrite(src, values, imagej=True, metadata={"spacing": 4, "unit": "nm"})
    out = tmp_path / "out.tif"
    code, _, err = run(["reconstruct", src, "-o", out], capsys)
    assert_one_line_error(code, err, "NaN")
    assert not out.exists()


@pytest.mark.parametrize("spacing", [(0, 1, 1), (-4, 1, 1)])
def test_zero_or_negative_spacing(lowres, tmp_path, capsys, spacing, assert_one_line_error):
    out = tmp_path / "out.tif"
    code, _, err = run(["reconstruct", lowres, "-o", out, "--spacing", *spacing], capsys)
    assert_one_line_error(code, err, "spacing")
    assert not out.exists()


def test_factor_below_one(tmp_path, capsys, assert_one_line_error):
    src = tmp_path / "iso.tif"
    io.write(Volume(np.zeros((20, 8, 8), np.uint8), (1, 1, 1), "nm"), src)
    out = tmp_path / "lr.tif"
    code, _, err = run(["simulate", src, "-o", out, "--factor", 0.5], capsys)
    assert_one_line_error(code, err, "factor")
    assert not out.exists() and not (tmp_path / "lr_gt.tif").exists()


def test_missing_file(tmp_path, capsys, assert_one_line_error):
    code, _, err = run(["info", tmp_path / "nowhere.tif"], capsys)
    assert_one_line_error(code, err, "not found")


def test_truncated_file(lowres, tmp_path, capsys, assert_one_line_error):
    broken = tmp_path / "broken.tif"
    broken.write_bytes(lowres.read_bytes()[:300])
    out = tmp_path / "out.tif"
    code, _, err = run(["reconstruct", broken, "-o", out], capsys)
    assert_one_line_error(code, err, "broken.tif")
    assert not out.exists()


def test_output_in_missing_directory(lowres, tmp_path, capsys, assert_one_line_error):
    out = tmp_path / "no" / "such" / "dir" / "out.tif"
    code, _, err = run(["reconstruct", lowres, "-o", out], capsys)
    assert_one_line_error(code, err, "director")
    assert not out.parent.exists()


def test_existing_output_needs_overwrite(lowres, tmp_path, capsys, assert_one_line_error):
    out = tmp_path / "out.tif"
    out.write_bytes(b"precious")
    code, _, err = run(["reconstruct", lowres, "-o", out], capsys)
    assert_one_line_error(code, err, "--overwrite")
    assert out.read_bytes() == b"precious"
    code, _, _ = run(["reconstruct", lowres, "-o", out, "--overwrite"], capsys)
    assert code == 0 and io.read(out).spacing == (1, 1, 1)


def test_isotropic_input_to_reconstruct(tmp_path, capsys, assert_one_line_error):
    src = tmp_path / "iso.tif"
    io.write(Volume(np.zeros((8, 8, 8), np.uint8), (1, 1, 1), "nm"), src)
    out = tmp_path / "out.tif"
    code, _, err = run(["reconstruct", src, "-o", out], capsys)
    assert_one_line_error(code, err, "isotropic")
    assert not out.exists()


def test_simulate_reconstruct_evaluate_json(tmp_path, capsys):
    src = tmp_path / "iso.nii.gz"
    z = np.linspace(0, 6, 40)[:, None, None]
    io.write(Volume((100 + 50 * np.sin(z) * np.ones((40, 9, 9))).astype(np.uint8), (1, 1, 1), "mm"), src)
    assert run(["simulate", src, "-o", tmp_path / "lr.nii.gz", "--factor", 4, "--recipe", "take"], capsys)[0] == 0
    assert (tmp_path / "lr_gt.nii.gz").exists() and (tmp_path / "lr_degradation.json").exists()
    assert run(["reconstruct", tmp_path / "lr.nii.gz", "-o", tmp_path / "iso_rec.nii.gz"], capsys)[0] == 0
    code, out, _ = run(["evaluate", tmp_path / "lr_gt.nii.gz", tmp_path / "iso_rec.nii.gz", "--json",
                        "--border", 0], capsys)
    import json
    scores = json.loads(out)
    assert code == 0 and scores["xz"]["psnr"] > 30


def test_help_has_examples(capsys):
    for command in ["simulate", "reconstruct", "evaluate", "demo", "info"]:
        main([command, "--help"])
        assert "Example" in capsys.readouterr().out


def test_blockwise_reconstruct_writes_zarr_equal_to_in_memory(tmp_path, capsys):
    rng = np.random.default_rng(3)
    source = io.write(Volume(rng.random((9, 20, 18)).astype(np.float32), (2.5, 1, 1), "nm"), tmp_path / "lr.tif")
    code, out, err = run(["reconstruct", source, "-o", tmp_path / "iso.zarr", "--block-size", "7",
                          "--workers", "1"], capsys)
    assert code == 0, err
    code, _, err = run(["reconstruct", source, "-o", tmp_path / "iso.tif"], capsys)
    assert code == 0, err
    blockwise, whole = io.read(tmp_path / "iso.zarr"), io.read(tmp_path / "iso.tif")
    assert blockwise.shape == whole.shape and blockwise.spacing == whole.spacing
    assert np.abs(blockwise.numpy() - whole.numpy()).max() < 1e-5
