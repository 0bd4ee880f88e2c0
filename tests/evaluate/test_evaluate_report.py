"""format_table, to_json and plane_figure."""

import json
import os

import numpy as np
import pytest

from isovox.errors import IsovoxError
from isovox.evaluate import compare, format_table, plane_figure, segmentation_agreement, to_json
from isovox.volume import Volume


@pytest.fixture
def results():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (16, 20, 24), dtype=np.uint8)
    good = np.clip(ref + rng.normal(0, 3, ref.shape), 0, 255).astype(np.uint8)
    good[::2] = ref[::2]
    bad = np.clip(ref + rng.normal(0, 20, ref.shape), 0, 255).astype(np.uint8)
    return {"cubic": compare(ref, bad), "ours": compare(ref, good), "same": compare(ref, ref)}


def test_single_table_has_families_and_numbers(results):
    table = format_table(results["ours"], title="ours vs reference")
    lines = table.splitlines()
    assert lines[0] == "ours vs reference"
    for family in ("xy", "xz", "yz", "volume"):
        assert any(line.startswith(family) for line in lines)
    assert f"{results['ours']['xz']['psnr']:.2f}" in table
    assert f"{results['ours']['volume']['ssim']:.4f}" in table
    assert "*" not in table
    assert len({len(line) for line in lines[1:3]}) == 1  # header and rule aligned


def test_table_of_methods_marks_the_best(results):
    table = format_table({"cubic": results["cubic"], "ours": results["ours"]})
    rows = [line.split() for line in table.splitlines()[2:]]
    assert len(rows) == 8  # 2 methods x (3 families + volume)
    for row in rows:
        method = row[0]
        starred = [cell.endswith("*") for cell in row[2:5]]
        assert all(starred) if method == "ours" else not any(starred)


def test_table_shows_inf_psnr(results):
    table = format_table(results["same"])
    assert "inf" in table


def test_segmentation_table():
    labels = np.arange(4 * 6 * 6).reshape(4, 6, 6) // 36 + 1
    table = format_table(segmentation_agreement(labels, labels))
    assert "VOI split" in table and "0.0000" in table


def test_table_rejects_other_dicts():
    with pytest.raises(TypeError):
        format_table({"a": 1})


def test_json_parses_and_inf_becomes_null(results):
    text = to_json(results["same"])
    parsed = json.loads(text)
    assert parsed["xy"]["psnr"] is None
    assert parsed["xy"]["n_exact"] == parsed["xy"]["n_planes"]
    assert parsed["settings"]["data_range"] == 255
    parsed = json.loads(to_json(results, per_plane=False))
    assert "per_plane" not in parsed["ours"]["xz"]
    assert parsed["ours"]["xz"]["psnr"] == pytest.approx(results["ours"]["xz"]["psnr"], rel=1e-5)
    assert to_json({"x": 1 / 3}) == '{\n  "x": 0.333333\n}'


def _image_box(path):
    """Rows and columns mostly covered by non-white pixels (the image, not the text)."""
    from matplotlib.image import imread

    pixels = imread(path)[..., :3]
    ink = np.any(pixels < 0.95, axis=-1)
    rows = np.flatnonzero(ink.sum(axis=1) > 0.5 * ink.sum(axis=1).max())
    cols = np.flatnonzero(ink.sum(axis=0) > 0.5 * ink.sum(axis=0).max())
    return pixels, rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize("spacing, expected_ratio", [((4.0, 1.0, 1.0), 1.0),
                                                     ((1.0, 1.0, 1.0), 0.25)])
def test_plane_figure_writes_png_with_physical_aspect(tmp_path, spacing, expected_ratio):
    rng = np.random.default_rng(1)
    data = 0.3 + 0.4 * rng.random((10, 20, 40))  # xz plane: 10 rows (z) x 40 columns (x)
    volume = Volume(data, spacing, "nm")
    path = tmp_path / "xz.png"
    assert plane_figure({"reference": volume}, path, plane="xz") == path
    pixels, height, width = _image_box(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 0.05  # not blank
    assert height / width == pytest.approx(expected_ratio, rel=0.1)
    assert [p.name for p in tmp_path.iterdir()] == ["xz.png"]  # no temporary left behind


def test_plane_figure_matches_planes_by_position(tmp_path):
    rng = np.random.default_rng(2)
    iso = Volume(rng.random((20, 12, 12)), (1, 1, 1), "nm")
    aniso = Volume(iso.data[::4], (4, 1, 1), "nm")
    path = tmp_path / "cmp.png"
    plane_figure({"iso": iso, "aniso": aniso}, path, plane="xy", index=8, title="z = 8 nm")
    assert os.path.getsize(path) > 1000
    with pytest.raises(IsovoxError, match="no z plane"):
        plane_figure({"iso": iso, "aniso": aniso}, path, plane="xy", index=19)
    with pytest.raises(IsovoxError, match="does not exist"):
        plane_figure({"iso": iso}, tmp_path / "missing" / "x.png")
