"""A positions file puts an irregular stack on a regular grid (isovox.positions)."""

import numpy as np
import pytest

from isovox.errors import IsovoxError
from isovox.gaps import SectionGaps, fill_gaps
from isovox.positions import RegularGrid, apply_positions, read_positions, regularise
from isovox.volume import Volume


def sections(values, shape=(3, 4), dtype=np.float64):
    """A stack along z whose section k holds ``values[k]`` everywhere."""
    values = np.asarray(values, dtype=np.float64)
    return (values[:, None, None] * np.ones((1, *shape))).astype(dtype)


def write_positions(tmp_path, text, name="positions.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the grid and the data -----------------------------------------------------------------------

@pytest.mark.parametrize("axis", [0, 2])
def test_regular_positions_give_back_the_input_exactly(axis):
    data = np.random.default_rng(0).integers(0, 256, (7, 9, 7)).astype(np.uint8)
    volume = Volume(data, (40, 10, 10) if axis == 0 else (10, 10, 40), "nm")
    positions = 12.5 + 0.35 * np.arange(7)        # decimal steps: not exact in binary
    result = regularise(volume, positions, axis)
    assert result.dtype == np.uint8 and np.array_equal(result.numpy(), data)
    assert result.spacing[axis] == pytest.approx(0.35) and result.origin[axis] == 12.5
    assert result.meta["regularised_from"] == 7 and result.meta["wide_gaps"] == []


def test_irregular_positions_are_interpolated_between_the_sections_around_each_slice():
    values = [3.0, 7.0, -2.0, 11.0, 5.0, 1.0]
    positions = [0, 10, 25, 30, 40, 50]                # steps 10 15 5 10 10: median 10
    result = regularise(Volume(sections(values), (40, 1, 1), "nm"), positions, "z")
    assert result.shape[0] == 6 and result.spacing[0] == 10
    slices = result.numpy()[:, 0, 0]
    assert slices[[0, 1, 3, 4, 5]] == pytest.approx([3, 7, 11, 5, 1])   # on a section: that section
    assert slices[2] == pytest.approx(7 + (20 - 10) / 15 * (-2 - 7))      # at 20, between 10 and 25


def test_a_lost_section_keeps_the_step_and_leaves_a_gap_bridged_linearly():
    values = [10.0, 20.0, 30.0, 50.0, 60.0]
    result = regularise(Volume(sections(values), (40, 1, 1), "nm"), [0, 40, 80, 160, 200], "z")
    assert result.shape[0] == 6 and result.spacing[0] == 40
    assert result.numpy()[3, 0, 0] == pytest.approx((30 + 50) / 2)          # the slice at 120
    assert result.meta["wide_gaps"] == [[80.0, 160.0]]


def test_a_missing_position_is_bridged_exactly_like_a_defective_section():
    full = np.random.default_rng(1).integers(0, 256, (6, 8, 8)).astype(np.uint8)
    kept = np.delete(full, 3, axis=0)
    regular = regularise(Volume(kept, (40, 10, 10), "nm"), [0, 40, 80, 160, 200], "z").numpy()
    bridged = fill_gaps(Volume(full, (40, 10, 10), "nm"), SectionGaps(axis=0, bad=(3,), n=6)).numpy()
    assert np.array_equal(regular, bridged)


def test_the_last_slice_past_the_last_section_takes_its_values():
    grid = RegularGrid.of(np.array([0.0, 10, 20, 35]))      # 3.5 steps round to 4: a slice at 40
    assert grid.count == 5 and grid.positions[-1] == 40
    result = regularise(Volume(sections([1.0, 2, 3, 9]), (10, 1, 1), "nm"), [0, 10, 20, 35], "z")
    assert result.numpy()[:, 0, 0] == pytest.approx([1, 2, 3, 3 + 6 * 10 / 15, 9])


def test_integer_results_are_rounded_into_the_dtype():
    result = regularise(Volume(sections([0, 255, 100], dtype=np.uint8), (5, 1, 1), "nm"), [0, 4, 12], "z")
    # median step 6: slices at 0, 6, 12; the one at 6 is 255 + 2/8 * (100 - 255) = 216.25
    assert result.dtype == np.uint8 and result.numpy()[:, 0, 0].tolist() == [0, 216, 100]


# --- the file ------------------------------------------------------------------------------------

def test_the_file_takes_comments_blank_lines_commas_and_spaces(tmp_path):
    path = write_positions(tmp_path, "# z of each section, nm\n0\n\n40, 80  120\n  # a note\n160 # last\n")
    assert read_positions(path).tolist() == [0, 40, 80, 120, 160]


def test_apply_positions_uses_the_low_resolution_axis_and_records_the_file(tmp_path):
    path = write_positions(tmp_path, "\n".join(str(40 * k) for k in (0, 1, 2, 4, 5)))
    volume = Volume(sections(range(5), shape=(6, 6)), (50, 10, 10), "nm")
    result = apply_positions(volume, path)
    assert result.shape == (6, 6, 6) and result.spacing == (40, 10, 10)
    assert result.meta["positions_file"] == str(path) and result.meta["regularised_axis"] == "z"


@pytest.mark.parametrize("text,words", [
    ("0\n40\n80\n", ["3 positions", "5 sections"]),
    ("0\n40\n40\n80\n120\n", ["40", "twice", "lines 2 and 3"]),
    ("0\n40\n30\n80\n120\n", ["40", "followed by 30", "increase"]),
    ("0\n40\nabc\n80\n120\n", ["line 3", "'abc'", "not a number"]),
    ("0\n40\nnan\n80\n120\n", ["line 3", "finite"]),
    ("", ["no positions"]),
    ("# only a comment\n\n", ["no positions"]),
])
def test_bad_positions_files_are_one_line_errors(tmp_path, text, words):
    path = write_positions(tmp_path, text)
    volume = Volume(sections(range(5)), (50, 10, 10), "nm")
    with pytest.raises(IsovoxError) as error:
        apply_positions(volume, path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    for word in words:
        assert word in message, (word, message)


def test_an_unreadable_file_is_a_one_line_error(tmp_path):
    with pytest.raises(IsovoxError, match="cannot read the positions file"):
        read_positions(tmp_path / "absent.txt")


def test_positions_given_in_python_are_checked_too():
    volume = Volume(sections(range(4)), (50, 10, 10), "nm")
    with pytest.raises(IsovoxError, match="sections 1 and 2"):
        regularise(volume, [0, 5, 5, 9], "z")
    with pytest.raises(IsovoxError, match="one position per section"):
        regularise(volume, [0, 5, 9], "z")
