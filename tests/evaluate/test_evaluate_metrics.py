"""compare(): per-plane PSNR / SSIM / NRMSE against closed forms and scikit-image."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from isovox.errors import IsovoxError
from isovox.evaluate import compare
from isovox.evaluate._planes import ssim_map_interior
from isovox.evaluate.metrics import PLANE_AXES
from isovox.volume import Volume


def vol(data, spacing=(1.0, 1.0, 1.0), unit="nm", **kw):
    return Volume(data, spacing, unit, **kw)


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (24, 30, 36), dtype=np.uint8)
    noisy = np.clip(ref + rng.normal(0, 12, ref.shape), 0, 255).astype(np.uint8)
    return ref, noisy


@pytest.mark.parametrize("family", ["xy", "xz", "yz"])
def test_vectorised_ssim_equals_skimage_per_plane(pair, family):
    ref, noisy = pair
    border = 2
    result = compare(vol(ref), vol(noisy), planes=[family], border=border)
    per_plane = result[family]["per_plane"]
    axis = PLANE_AXES[family]
    core = (slice(border, -border),) * 3
    ref_c, test_c = ref[core], noisy[core]
    for k, index in enumerate(per_plane["index"]):
        take = [slice(None)] * 3
        take[axis] = index - border
        expected = structural_similarity(ref_c[tuple(take)], test_c[tuple(take)], data_range=255)
        assert per_plane["ssim"][k] == pytest.approx(expected, abs=1e-5)
    assert len(per_plane["index"]) == ref.shape[axis] - 2 * border


def test_ssim_map_matches_skimage_full_map_interior():
    rng = np.random.default_rng(1)
    x, y = rng.random((3, 20, 25)), rng.random((3, 20, 25))
    ours = ssim_map_interior(x, y, 1.0)
    for k in range(3):
        _, full = structural_similarity(x[k], y[k], data_range=1.0, full=True)
        np.testing.assert_allclose(ours[k], full[3:-3, 3:-3], atol=1e-10)


def test_psnr_of_known_mse_is_closed_form():
    rng = np.random.default_rng(2)
    ref = rng.random((16, 16, 16))
    offset = 0.05
    result = compare(vol(ref), vol(ref + offset), data_range=2.0, border=0)
    expected = 10 * np.log10(2.0 ** 2 / offset ** 2)
    for name in ("xy", "xz", "yz", "volume"):
        assert result[name]["psnr"] == pytest.approx(expected, rel=1e-9)
        assert result[name]["nrmse"] == pytest.approx(offset / 2.0, rel=1e-9)
    assert result["volume"]["psnr"] == pytest.approx(-20 * np.log10(result["volume"]["nrmse"]))


def test_identical_volumes_are_exact_everywhere(pair):
    ref, _ = pair
    result = compare(vol(ref), vol(ref.copy()))
    for name in ("xy", "xz", "yz"):
        entry = result[name]
        assert entry["n_exact"] == entry["n_planes"] == ref.shape[PLANE_AXES[name]] - 8
        assert entry["psnr"] == np.inf
        assert entry["ssim"] == pytest.approx(1.0)
        assert entry["nrmse"] == 0.0
    assert result["volume"]["psnr"] == np.inf
    assert result["volume"]["ssim"] == pytest.approx(1.0)


def test_exact_planes_are_counted_and_left_out_of_the_psnr_mean(pair):
    ref, noisy = pair
    test = noisy.copy()
    test[::3] = ref[::3]  # acquired sections kept exactly
    result = compare(vol(ref), vol(test), planes="xy", border=0)
    per_plane = result["xy"]["per_plane"]
    assert result["xy"]["n_exact"] == len(range(0, ref.shape[0], 3))
    finite = per_plane["psnr"][np.isfinite(per_plane["psnr"])]
    assert result["xy"]["psnr"] == pytest.approx(finite.mean())
    assert result["xy"]["nrmse"] == pytest.approx(per_plane["nrmse"].mean())


def test_more_noise_means_lower_psnr_and_ssim():
    rng = np.random.default_rng(3)
    ref = rng.random((20, 24, 24))
    noise = rng.normal(size=ref.shape)
    results = [compare(vol(ref), vol(ref + s * noise), data_range=1.0) for s in (0.01, 0.05, 0.2)]
    for name in ("xy", "xz", "yz", "volume"):
        psnr = [r[name]["psnr"] for r in results]
        ssim = [r[name]["ssim"] for r in results]
        assert psnr[0] > psnr[1] > psnr[2]
        assert ssim[0] > ssim[1] > ssim[2]


def test_border_decides_which_voxels_count():
    ref = np.zeros((20, 20, 20))
    test = ref.copy()
    test[0, 5, 5] = 1.0  # error only in the outermost z plane
    seen = compare(vol(ref), vol(test), border=0, data_range=1.0)
    assert np.isfinite(seen["volume"]["psnr"])
    assert seen["xy"]["n_exact"] == 19
    for border in (1, 4):
        cropped = compare(vol(ref), vol(test), border=border, data_range=1.0)
        assert cropped["volume"]["psnr"] == np.inf
        assert cropped["xy"]["n_planes"] == 20 - 2 * border


def test_shape_mismatch_raises():
    with pytest.raises(IsovoxError, match=r"shape \(10, 12, 12\) differs from reference"):
        compare(vol(np.zeros((12, 12, 12))), vol(np.zeros((10, 12, 12))))


def test_spacing_mismatch_raises_but_unit_conversion_is_accepted():
    data = np.random.default_rng(4).random((12, 12, 12))
    ref = vol(data, (10, 10, 10), "nm")
    with pytest.raises(IsovoxError, match="spacing .* differs from reference"):
        compare(ref, vol(data, (50, 10, 10), "nm"), border=0)
    same = compare(ref, vol(data, (0.01, 0.01, 0.01), "um"), border=0)
    assert same["volume"]["psnr"] == np.inf


def test_origin_mismatch_raises():
    data = np.zeros((12, 12, 12))
    with pytest.raises(IsovoxError, match="origin"):
        compare(vol(data, origin=(0, 0, 0)), vol(data, origin=(0, 0.5, 0)), data_range=1)
    compare(vol(data, origin=(0, 0, 0)), vol(data, origin=(0, 1e-4, 0)), data_range=1, border=0)


def test_mask_excludes_voxels(pair):
    ref, noisy = pair
    mask = np.zeros(ref.shape, dtype=bool)
    mask[:, :15, :] = True
    test = ref.copy()
    test[:, 15:, :] = noisy[:, 15:, :]  # errors only outside the mask
    result = compare(vol(ref), vol(test), mask=mask, border=0)
    for name in ("xy", "xz", "yz"):
        assert result[name]["psnr"] == np.inf
        assert result[name]["n_exact"] == result[name]["n_planes"]
    assert result["volume"]["psnr"] == np.inf
    assert result["xz"]["n_planes"] == 15  # xz planes at y >= 15 hold no masked voxel: skipped
    unmasked = compare(vol(ref), vol(test), border=0)
    assert np.isfinite(unmasked["volume"]["psnr"])


def test_masked_mse_uses_masked_voxels_only():
    ref = np.zeros((10, 10, 10))
    test = ref.copy()
    test[:, :, :5] = 0.1
    mask = np.zeros(ref.shape, dtype=bool)
    mask[:, :, 3:7] = True  # half of the masked voxels carry error 0.1
    result = compare(vol(ref), vol(test), mask=vol(mask), border=0, data_range=1.0)
    assert result["volume"]["psnr"] == pytest.approx(10 * np.log10(1 / (0.1 ** 2 / 2)))


def test_data_range_from_dtype_or_values():
    rng = np.random.default_rng(5)
    ref8 = rng.integers(10, 20, (12, 12, 12), dtype=np.uint8)
    assert compare(vol(ref8), vol(ref8), border=0)["settings"]["data_range"] == 255
    ref16 = ref8.astype(np.int16)
    assert compare(vol(ref16), vol(ref16), border=0)["settings"]["data_range"] == 65535
    reff = ref8.astype(np.float32) / 10
    expected = float(reff.max()) - float(reff.min())
    assert compare(vol(reff), vol(reff), border=0)["settings"]["data_range"] == pytest.approx(expected)
    custom = compare(vol(ref8), vol(ref8), data_range=100, border=0)
    assert custom["settings"]["data_range"] == 100


def test_bad_requests_raise():
    data = np.zeros((12, 12, 12), dtype=np.uint8)
    with pytest.raises(IsovoxError, match="planes"):
        compare(vol(data), vol(data), planes=["zz"])
    with pytest.raises(IsovoxError, match="SSIM needs at least 7 x 7"):
        compare(vol(data), vol(data), border=3)
    with pytest.raises(IsovoxError, match="constant"):
        compare(vol(data.astype(float)), vol(data.astype(float)), border=0)
    with pytest.raises(IsovoxError, match="NaN"):
        compare(vol(np.full((12, 12, 12), np.nan)), vol(data.astype(float)), data_range=1, border=0)


def test_plain_arrays_and_chunking_agree(monkeypatch, pair):
    ref, noisy = pair
    whole = compare(ref, noisy, border=1)
    import isovox.evaluate.metrics as metrics
    monkeypatch.setattr(metrics, "_CHUNK_VOXELS", 1)  # one plane per chunk
    chunked = compare(vol(ref), vol(noisy), border=1)
    for name in ("xy", "xz", "yz", "volume"):
        for key in ("psnr", "ssim", "nrmse"):
            assert chunked[name][key] == pytest.approx(whole[name][key], rel=1e-12)


def test_full_mask_equals_no_mask(pair):
    ref, noisy = pair
    plain = compare(vol(ref), vol(noisy), border=1)
    masked = compare(vol(ref), vol(noisy), border=1, mask=np.ones(ref.shape, dtype=np.uint8))
    for name in ("xy", "xz", "yz", "volume"):
        for key in ("psnr", "ssim", "nrmse"):
            assert masked[name][key] == pytest.approx(plain[name][key], rel=1e-12)


def test_lazy_volumes_are_read_chunk_by_chunk(pair):
    da = pytest.importorskip("dask.array")
    ref, noisy = pair
    lazy = compare(vol(da.from_array(ref, chunks=8)), vol(da.from_array(noisy, chunks=8)))
    eager = compare(vol(ref), vol(noisy))
    assert lazy["volume"]["ssim"] == pytest.approx(eager["volume"]["ssim"], rel=1e-12)


def test_evaluate_imports_only_the_core_modules():
    """evaluate must be able to score any tool's output: no imports of reconstruction code."""
    import ast
    from pathlib import Path

    import isovox.evaluate

    allowed = {"volume", "units", "errors", "io"}
    for source in Path(isovox.evaluate.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert (node.module or "").split(".")[0] in allowed, (source.name, node.module)
            if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and node.level == 0):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(n and n.startswith("isovox.") and n.split(".")[1] not in allowed
                               for n in names), (source.name, names)
