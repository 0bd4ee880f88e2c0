"""Resolution per axis and isotropy on volumes whose resolution is known (see conftest.py)."""

import json
import math

import numpy as np
import pytest

from isovox.assess import assess, directional_spectra, format_summary
from isovox.errors import IsovoxError
from isovox.reconstruction import reconstruct
from isovox.volume import Volume

# Every estimate below lands within 8 % of the value derived in conftest.py (most within 3 %);
# 10 % leaves room for other seeds without hiding a wrong formula (a factor sqrt(2) or 2).
RTOL = 0.10


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0, 3.0])
def test_isotropic_blur_gives_the_derived_resolution_on_every_axis(make_blurred, expected, sigma):
    report = assess(Volume(make_blurred((sigma,) * 3), (1, 1, 1), "nm"))
    want = expected((sigma,) * 3)
    for axis, value in zip(report.axes, want):
        assert axis.resolution == pytest.approx(value, rel=RTOL), axis
        assert axis.limited_by == "blur or noise"
    assert report.isotropy.score > 0.93


def test_resolution_grows_with_the_blur(make_blurred):
    z_resolutions = [assess(Volume(make_blurred((s, 1.0, 1.0)), (1, 1, 1), "nm")).resolution("z")
                     for s in (1.0, 1.5, 2.0, 3.0, 4.0)]
    assert np.all(np.diff(z_resolutions) > 0), z_resolutions


@pytest.mark.parametrize("sigmas, axial", [((3.0, 1.5, 1.5), "z"), ((1.2, 2.4, 1.2), "y"),
                                           ((1.0, 1.0, 2.5), "x")])
def test_anisotropic_blur_gives_the_ratio_as_isotropy(make_blurred, expected, sigmas, axial):
    report = assess(Volume(make_blurred(sigmas), (1, 1, 1), "nm"))
    want = expected(sigmas)
    assert [a.resolution for a in report.axes] == pytest.approx(want, rel=RTOL)
    axial_index = "zyx".index(axial)
    lateral = np.mean([want[a] for a in range(3) if a != axial_index])
    assert report.isotropy.axial_axis == axial_index
    assert report.isotropy.score == pytest.approx(lateral / want[axial_index], rel=RTOL)
    assert report.isotropy.lateral_resolution == pytest.approx(lateral, rel=RTOL)


def test_resolution_is_in_physical_units(make_blurred):
    data = make_blurred((1.5,) * 3)
    in_voxels = assess(Volume(data, (1, 1, 1), "um"))
    in_um = assess(Volume(data, (0.25, 0.25, 0.25), "um"))
    assert in_um.unit == "um"
    for a, b in zip(in_voxels.axes, in_um.axes):
        assert b.resolution == pytest.approx(0.25 * a.resolution, rel=1e-9)
        assert b.cutoff_frequency == pytest.approx(4 * a.cutoff_frequency, rel=1e-9)
    assert in_um.isotropy.score == pytest.approx(in_voxels.isotropy.score, rel=1e-9)


def test_noise_floor_is_the_added_white_noise(make_blurred):
    report = assess(Volume(make_blurred((1.0, 2.0, 1.5), noise=0.05), (1, 1, 1), "nm"))
    assert report.noise.level == pytest.approx(0.05 ** 2, rel=0.1)
    assert report.noise.threshold == pytest.approx(2 * report.noise.level)
    white = np.random.default_rng(1).standard_normal((32, 40, 48))
    for spectrum in directional_spectra(Volume(white, (4, 1, 1), "nm")):   # flat at the variance
        assert np.median(spectrum.power) == pytest.approx(1.0, rel=0.05)
        assert spectrum.frequency[-1] == pytest.approx(spectrum.nyquist)


def test_coarse_z_sampling_reports_the_sampling_limit(make_blurred, expected):
    fine = make_blurred((1.0, 1.0, 1.0), shape=(128, 48, 48))
    coarse = Volume(fine[::4], (40, 10, 10), "nm")          # 32 sections 40 nm apart, 10 nm pixels
    report = assess(coarse)
    z, y, x = report.axes
    assert z.limited_by == "sampling" and z.resolution == pytest.approx(80.0)
    assert z.sampling_limit == pytest.approx(80.0)
    lateral = expected((1.0, 1.0, 1.0), spacing=10.0)[1]
    assert y.resolution == pytest.approx(lateral, rel=RTOL) and x.resolution == pytest.approx(lateral, rel=RTOL)
    assert report.isotropy.axial_axis == 0
    assert report.isotropy.score == pytest.approx(lateral / 80.0, rel=RTOL)


def test_cubic_interpolation_keeps_z_coarse_although_voxels_are_small(make_blurred):
    fine = make_blurred((1.0, 1.0, 1.0), shape=(128, 48, 48))
    coarse = Volume(fine[::4], (40, 10, 10), "nm")
    upsampled = reconstruct(coarse, "cubic")                 # 10 nm voxels along z as well
    assert upsampled.spacing == pytest.approx((10, 10, 10))
    before, after = assess(coarse), assess(upsampled)
    assert after.resolution("z") >= 40.0                     # not finer than the section spacing
    assert after.resolution("z") >= 1.8 * after.isotropy.lateral_resolution
    assert after.isotropy.score < 0.6
    assert after.isotropy.lateral_resolution == pytest.approx(before.isotropy.lateral_resolution, rel=0.05)


def test_given_axial_axis(make_blurred):
    report = assess(Volume(make_blurred((3.0, 1.5, 1.5)), (1, 1, 1), "nm"), axis="x")
    assert report.isotropy.axial_axis == 2
    assert report.isotropy.score > 1          # x is finer than the mean of z and y


def test_lazy_volume_is_read_plane_by_plane_within_the_budget(make_blurred):
    data = make_blurred((1.5,) * 3)

    class CountingArray:
        """A lazy array: records what is read, refuses to be read whole."""

        shape, dtype = data.shape, data.dtype

        def __init__(self):
            self.reads = []

        def __getitem__(self, index):
            self.reads.append(index)
            assert sum(isinstance(i, int) for i in index) == 1, "reads one plane at a time"
            return data[index]

    lazy = CountingArray()
    budget = 16 * 64 * 64                                    # 16 planes of each family
    report = assess(Volume(lazy, (1, 1, 1), "nm"), voxel_budget=budget)
    assert len(lazy.reads) == 32
    whole = assess(Volume(data, (1, 1, 1), "nm"))
    assert [a.resolution for a in report.axes] == pytest.approx([a.resolution for a in whole.axes], rel=0.05)


def test_report_holds_every_number_it_prints(make_blurred):
    report = assess(Volume(make_blurred((3.0, 1.5, 1.5)), (40, 10, 10), "nm"))
    payload = json.loads(report.to_json())
    assert payload["unit"] == "nm" and payload["spacing"] == [40, 10, 10]
    for axis in report.axes:
        entry = payload["resolution"][axis.name]
        assert entry["resolution"] == pytest.approx(axis.resolution, rel=1e-5)
        assert entry["limited_by"] == axis.limited_by
        assert len(payload["spectra"][axis.name]["power"]) == len(report.spectra[axis.axis].power)
    assert payload["isotropy"]["score"] == pytest.approx(report.isotropy.score, rel=1e-5)
    assert payload["noise_floor"]["power_per_voxel"] == pytest.approx(report.noise.level, rel=1e-5)
    text = format_summary(report)
    for axis in report.axes:
        assert f"{axis.resolution:.3g} nm" in text
    assert f"isotropy: {report.isotropy.score:.2f}" in text


def test_reference_adds_its_assessment_and_psnr_ssim(make_blurred):
    from isovox.evaluate import compare

    truth = Volume(make_blurred((1.0,) * 3), (1, 1, 1), "nm")
    test = Volume(make_blurred((2.0, 1.0, 1.0), seed=0), (1, 1, 1), "nm")
    report = assess(test, reference=truth)
    scores = compare(truth, test)
    assert report.comparison["volume"]["psnr"] == pytest.approx(scores["volume"]["psnr"])
    assert report.comparison["xz"]["ssim"] == pytest.approx(scores["xz"]["ssim"])
    assert "per_plane" not in report.comparison["xz"]
    assert report.reference.isotropy.score > 0.93 and report.isotropy.score < 0.8
    payload = json.loads(report.to_json())
    assert payload["reference"]["resolution"]["z"]["resolution"] == pytest.approx(
        report.reference.resolution("z"), rel=1e-5)
    assert f"SSIM {scores['volume']['ssim']:.4f}" in format_summary(report)


def test_bad_inputs(make_blurred):
    with pytest.raises(IsovoxError, match="too small"):
        assess(Volume(np.zeros((4, 32, 32), np.float32), (1, 1, 1), "nm"))
    with pytest.raises(IsovoxError, match="no high-frequency content"):
        assess(Volume(np.full((16, 16, 16), 7, np.uint8), (1, 1, 1), "nm"))
    with pytest.raises(IsovoxError, match="spacing"):
        assess(make_blurred((1.0,) * 3))
    with pytest.raises(IsovoxError, match="axis"):
        assess(Volume(make_blurred((1.0,) * 3), (1, 1, 1), "nm"), axis="w")
    nan = make_blurred((1.0,) * 3)
    nan[3, 3, 3] = math.nan
    with pytest.raises(IsovoxError, match="NaN"):
        assess(Volume(nan, (1, 1, 1), "nm"))
    with pytest.raises(IsovoxError, match="same grid"):
        assess(Volume(make_blurred((1.0,) * 3), (1, 1, 1), "nm"),
               reference=Volume(make_blurred((1.0,) * 3, shape=(32, 64, 64)), (1, 1, 1), "nm"))
