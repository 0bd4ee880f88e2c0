import numpy as np
import pytest

from isovox.resample import METHODS, mirror_index, resample, resampling_matrix
from isovox.volume import Volume, input_positions


@pytest.mark.parametrize("method", METHODS)
def test_constant_stays_constant(method):
    vol = Volume(np.full((9, 5, 5), 7.0, np.float32), (4, 1, 1), "nm")
    out = resample(vol, (1, 1, 1), method)
    assert np.allclose(out.numpy(), 7.0, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("factor", [4, 6.5])
def test_acquired_slices_are_kept_where_they_land(method, factor):
    rng = np.random.default_rng(0)
    data = rng.random((12, 6, 7)).astype(np.float32)
    vol = Volume(data, (factor, 1, 1), "nm")
    out = resample(vol, (1, 1, 1), method).numpy()
    step = 1 if float(factor).is_integer() else 2        # k * 6.5 is integer for even k
    for k in range(0, 12, step):
        assert np.allclose(out[int(k * factor)], data[k], atol=1e-5)


def test_linear_is_exact_on_a_ramp_and_cubic_on_a_quadratic():
    z = np.arange(10, dtype=np.float32)
    ramp = Volume(np.broadcast_to(z[:, None, None], (10, 2, 2)).copy(), (3, 1, 1), "nm")
    out = resample(ramp, (1, 1, 1), "linear").numpy()[:, 0, 0]
    assert np.allclose(out, input_positions(10, 3.0), atol=1e-5)
    quad = Volume(np.broadcast_to((z ** 2)[:, None, None], (10, 2, 2)).copy(), (2, 1, 1), "nm")
    interior = resample(quad, (1, 1, 1), "cubic").numpy()[4:14, 0, 0]
    assert np.allclose(interior, (np.arange(4, 14) / 2.0) ** 2, atol=1e-3)


def test_downsampling_with_antialias_removes_nyquist_pattern():
    pattern = np.tile([1.0, -1.0], 32)
    matrix = resampling_matrix(64, np.arange(0, 63, 4.0), "cubic", antialias=True)
    aliased = resampling_matrix(64, np.arange(0, 63, 4.0), "cubic", antialias=False)
    assert np.abs(matrix @ pattern).max() < 0.05
    assert np.abs(aliased @ pattern).max() > 0.9


def test_rows_sum_to_one_and_mirror_folds():
    matrix = resampling_matrix(5, np.linspace(0, 4, 17), "lanczos3")
    assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-6)
    assert mirror_index(np.array([-2, -1, 0, 4, 5, 6]), 5).tolist() == [2, 1, 0, 4, 3, 2]


def test_integer_output_is_rounded_and_clipped():
    data = np.zeros((6, 3, 3), np.uint8)
    data[2] = 255                                         # cubic overshoots next to a step
    out = resample(Volume(data, (4, 1, 1), "nm"), (1, 1, 1), "cubic")
    assert out.dtype == np.uint8 and out.numpy().max() == 255 and out.numpy().min() == 0


def test_spacing_and_origin_after_resampling_any_axis():
    vol = Volume(np.zeros((5, 6, 9), np.float32), (1, 1, 2.5), "mm", origin=(3, 4, 5))
    out = resample(vol, (1, 1, 1), "linear")
    assert out.shape == (5, 6, 21) and out.spacing == (1, 1, 1) and out.origin == (3, 4, 5)
