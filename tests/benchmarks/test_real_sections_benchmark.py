"""The pure helpers of benchmarks/real_sections.py: withholding, the output grid, blank sections."""

import numpy as np
import pytest

import isovox
from isovox import Volume

import real_sections                       # benchmarks/ is on sys.path (conftest.py)
import real_sections_data


def linear_in_z(n_sections: int, spacing=(40.0, 10.0, 10.0)) -> Volume:
    """Each section constant plus a lateral pattern, its level linear in z (3 per section)."""
    pattern = np.add.outer(np.arange(16.0), np.arange(16.0))
    data = np.stack([10 + 3 * z + pattern for z in range(n_sections)]).astype(np.float32)
    return Volume(data, spacing, "nm")


@pytest.mark.parametrize("n_sections, factor", [(9, 8), (10, 8), (7, 4)])
def test_withheld_sections_land_on_output_slices_where_linear_is_exact(n_sections, factor):
    volume = linear_in_z(n_sections)
    split = real_sections.withhold_every_other(volume, target_spacing=80.0 / factor)
    assert split.factor == factor
    np.testing.assert_array_equal(split.kept.data, volume.data[::2])
    assert split.kept.spacing == (80.0, 10.0, 10.0)
    # odd sections inside the kept span only: with an even count the last one lies outside
    last_kept = 2 * ((n_sections - 1) // 2)
    np.testing.assert_array_equal(split.sections, np.arange(1, last_kept, 2))
    np.testing.assert_array_equal(split.output_indices, (split.sections // 2) * factor + factor // 2)

    output = isovox.reconstruct(split.kept, "linear", target_spacing=split.target_spacing)
    groups = real_sections.section_groups(split.sections, real_sections.blank_sections(volume))
    scored = real_sections.score_method(volume, split, groups, output)
    np.testing.assert_allclose(output.data[split.output_indices], volume.data[split.sections], atol=1e-4)
    assert scored["scores"]["all"]["n"] == len(split.sections)
    assert scored["scores"]["all"]["psnr"] > 80                     # exact up to float32 rounding
    assert scored["scores"]["near"] == {"n": 0, "psnr": None, "ssim": None}


def test_odd_factor_puts_withheld_sections_between_slices():
    with pytest.raises(AssertionError, match="between output slices"):
        real_sections.withhold_every_other(linear_in_z(7), target_spacing=80.0 / 5)


def test_blank_sections_are_skipped_and_their_neighbours_reported_apart():
    volume = linear_in_z(11)
    data = np.array(volume.data)
    data[4] = 0.0                    # a kept section is missing: withheld 3 and 5 lean on it
    data[7] = 0.3                    # a withheld section is blank: not scored at all
    volume = volume.replace(data=data)
    split = real_sections.withhold_every_other(volume, target_spacing=20.0)
    blank = real_sections.blank_sections(volume)
    np.testing.assert_array_equal(np.flatnonzero(blank), [4, 7])
    groups = real_sections.section_groups(split.sections, blank)
    named = {name: split.sections[positions].tolist() for name, positions in groups.items()}
    assert named == {"away": [1, 9], "near": [3, 5], "all": [1, 3, 5, 9]}

    output = isovox.reconstruct(split.kept, "linear", target_spacing=split.target_spacing)
    scored = real_sections.score_method(volume, split, groups, output)
    assert [s["section"] for s in scored["per_section"]] == [1, 3, 5, 9]
    assert scored["scores"]["near"]["n"] == 2
    assert scored["scores"]["near"]["psnr"] < scored["scores"]["away"]["psnr"]


def test_area_downsampling_averages_blocks_and_keeps_the_footprint_centre():
    weights = real_sections_data.area_weights(10, 4)                             # ratio 2.5: partial pixels
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(weights[0], [0.4, 0.4, 0.2] + [0.0] * 7)
    volume = Volume(np.arange(2 * 10 * 10, dtype=np.float32).reshape(2, 10, 10), (50, 4, 4), "nm")
    binned = real_sections_data.area_downsample_lateral(volume, 5)
    np.testing.assert_allclose(binned.data[0, 0, 0], volume.data[0, :2, :2].mean())
    assert binned.spacing == (50.0, 8.0, 8.0)
    assert np.allclose(binned.origin, (0.0, 2.0, 2.0))             # centre of the first 2x2 block


def test_method_specs_take_json_settings():
    assert real_sections.parse_method_spec("cubic") == ("cubic", {})
    assert real_sections.parse_method_spec("selfsup:recipe=box,fwhm=40") == ("selfsup", {"recipe": "box", "fwhm": 40})
    assert real_sections.parse_method_spec("selfsup:percentiles=[1, 99],arch=a2i") == \
        ("selfsup", {"percentiles": [1, 99], "arch": "a2i"})
    assert real_sections.parse_method_spec("degradation-learning:cycle_minutes=null")[1] == {"cycle_minutes": None}
    with pytest.raises(ValueError, match="unknown method"):
        real_sections.parse_method_spec("supervised3d")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        real_sections.parse_method_spec("selfsup:arch")
