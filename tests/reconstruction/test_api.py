import numpy as np
import pytest

from isovox.errors import IsovoxError
from isovox.reconstruction import reconstruct, reconstruction_grid
from isovox.volume import Volume


def anisotropic(spacing=(4, 1, 1), shape=(8, 10, 10), dtype=np.uint8):
    data = np.random.default_rng(1).integers(0, 255, shape).astype(dtype)
    return Volume(data, spacing, "nm")


def axis_and_target(grid):
    return grid.axis, grid.target


def test_default_target_is_the_lateral_spacing_on_the_lowres_axis_only():
    assert axis_and_target(reconstruction_grid(anisotropic((50, 4, 5)))) == (0, (4, 4, 5))
    assert axis_and_target(reconstruction_grid(anisotropic((1, 1, 4)))) == (2, (1, 1, 1))


def test_scalar_target_applies_to_the_lowres_axis():
    assert axis_and_target(reconstruction_grid(anisotropic((50, 4, 4)), 10)) == (0, (10, 4, 4))


def test_grid_knows_its_factors_shape_and_output_spacing():
    grid = reconstruction_grid(anisotropic((50, 4, 5)))
    assert grid.factors == (12.5, 1.0, 1.0) and grid.factor == 12.5 and grid.refined == (0,)
    assert grid.output_shape((3, 7, 9)) == (26, 7, 9)
    assert grid.output_spacing == (4, 4, 5)


def test_reconstruct_keeps_dtype_and_reaches_target():
    out = reconstruct(anisotropic((6.5, 1, 1), (7, 5, 5)), "cubic")
    assert out.dtype == np.uint8 and out.spacing == (1, 1, 1) and out.shape == (40, 5, 5)


def test_isotropic_input_is_refused():
    with pytest.raises(IsovoxError, match="isotropic"):
        reconstruct(anisotropic((2, 2, 2)))


def test_factor_below_one_is_refused():
    with pytest.raises(IsovoxError, match="factor 0.5"):
        reconstruct(anisotropic((4, 1, 1)), target_spacing=8)


def test_nan_input_is_refused():
    vol = anisotropic((4, 1, 1), dtype=np.float32)
    data = vol.numpy().copy()
    data[0, 0, 0] = np.nan
    with pytest.raises(IsovoxError, match="NaN"):
        reconstruct(vol.replace(data=data))


def test_unknown_method_is_refused():
    with pytest.raises(IsovoxError, match="unknown interpolation method"):
        reconstruct(anisotropic(), "bilinear-ish")


def test_three_target_values_need_no_single_lowres_axis():
    """k-space MRI is coarse along two axes: interpolation to three spacings must not ask which."""
    import numpy as np
    from isovox import reconstruct
    from isovox.volume import Volume
    volume = Volume(np.random.default_rng(0).random((6, 5, 5)).astype(np.float32), spacing=(1.0, 2.0, 2.0), unit="mm")
    result = reconstruct(volume, "cubic", target_spacing=(1.0, 1.0, 1.0))
    assert result.shape == (6, 9, 9) and result.spacing == (1.0, 1.0, 1.0)
