"""The gigavoxel benchmark's own arithmetic: sizes, mirrored tiling, the check region, memory summary."""

import numpy as np

from gigavoxel import input_shape, memory_summary, mirrored_indices, output_shape, straddling_range, tiled_chunk


def test_one_gigavoxel_is_a_near_cube_of_1e9_output_voxels():
    shape = input_shape(1.0)
    assert shape == (251, 1000, 1000)
    assert output_shape(shape) == (1001, 1000, 1000)


def test_mirrored_tiling_reflects_without_repeating_the_end_sample():
    np.testing.assert_array_equal(mirrored_indices(0, 9, 4), [0, 1, 2, 3, 2, 1, 0, 1, 2])
    np.testing.assert_array_equal(mirrored_indices(5, 8, 4), [1, 0, 1])


def test_a_tiled_chunk_is_the_source_mirrored_at_its_location():
    source = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    chunk = tiled_chunk(source, {None: {"array-location": [(2, 5), (0, 4), (3, 7)]}})
    expected = np.pad(source, [(0, 2), (0, 0), (0, 2)], mode="reflect")[2:5, 0:4, 3:7]
    np.testing.assert_array_equal(chunk, expected)


def test_the_check_region_crosses_a_block_boundary_and_stays_inside():
    assert straddling_range(1001, 128, 160) == (432, 592)          # around the boundary at 512
    assert straddling_range(100, 128, 160) == (0, 100)             # clipped to a small output


def test_memory_at_progress_is_the_first_sample_past_each_fraction():
    samples = [{"seconds": t, "rss_mb": 100.0 + t, "blocks_done": done}
               for t, done in enumerate([0, 0, 1, 5, 9, 10, 10])]
    summary = memory_summary(samples, total_blocks=10)
    assert summary["rss_mb_at_blocks_done"] == {"10%": 102.0, "25%": 103.0, "50%": 103.0, "75%": 104.0,
                                                "90%": 104.0}
    assert summary["peak_sampled_mb"] == 106.0
    assert summary["blocks_done_at_seconds"] == 5
    assert summary["growth_10_to_90_mb"] == 2.0 and summary["growth_25_to_75_mb"] == 1.0
