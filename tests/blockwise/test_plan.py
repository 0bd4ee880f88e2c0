"""The block plan: regions start on the output grid and cover every tap and the receptive halo."""

import numpy as np
import pytest

from isovox.blockwise.plan import as_fraction, make_plan
from isovox.errors import IsovoxError
from isovox.resample import resampling_matrix
from isovox.volume import input_positions


@pytest.mark.parametrize("factor, q", [(2.5, 2), (4.0, 1), (6.5, 2), (50 / 12, 6), (0.3 / 0.1, 1)])
def test_factor_becomes_a_small_fraction(factor, q):
    assert as_fraction(factor).denominator == q


def test_a_factor_without_small_fraction_is_refused():
    with pytest.raises(IsovoxError, match="not a ratio of small integers"):
        make_plan((10, 10, 10), (np.pi, 1, 1), 4)


@pytest.mark.parametrize("method, radius", [("linear", 1), ("cubic", 2), ("lanczos3", 3)])
@pytest.mark.parametrize("factor", [2.5, 4.0, 10 / 3])
def test_regions_start_on_the_grid_and_hold_every_tap(method, radius, factor):
    n_in = 23
    plan = make_plan((n_in, 5, 5), (factor, 1, 1), (7, 5, 5), kernel_radius=radius)
    matrix = resampling_matrix(n_in, input_positions(n_in, factor), method).tocsr()
    assert plan.output_shape[0] == matrix.shape[0]
    for block in plan.blocks():
        k0, k1 = block.region_start[0], block.region_stop[0]
        assert abs(k0 * factor - block.region_offset[0]) < 1e-9       # region starts on an output voxel
        rows = matrix[block.start[0]:block.stop[0]]
        taps = rows.indices[rows.data != 0]
        assert taps.min() >= k0 and taps.max() < k1, (block, taps.min(), taps.max())


def test_halo_is_measured_on_the_output_grid_and_clipped_at_borders():
    plan = make_plan((20, 30, 30), (4.0, 1, 1), (16, 10, 10), kernel_radius=2, halo=5)
    block = plan.block((1, 1, 0))
    assert block.region_start[1:] == (5, 0) and block.region_stop[1:] == (25, 15)
    # output rows 16-31 need rows 11-36 interpolated: input slices floor(11 / 4) - 2 = 0 up to
    # floor(36 / 4) + 2 taps + 1 margin = 12, inclusive
    assert block.region_start[0] == 0 and block.region_stop[0] == 13
    assert block.crop[0] == slice(16, 32)


def test_window_multiple_aligns_region_starts_on_the_output_grid():
    plan = make_plan((40, 40, 40), (2.5, 1, 1), 16, kernel_radius=2, halo=8, multiple=8)
    for block in plan.blocks():
        assert all(o % 8 == 0 for o in block.region_offset)


def test_bad_block_size_is_refused():
    with pytest.raises(IsovoxError, match="block size"):
        make_plan((10, 10, 10), (2, 1, 1), (4, 0, 4))
