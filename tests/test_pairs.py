"""Training pairs: lateral (self-supervised, paper 001 section II-A) and axial (oracle)."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from isovox.degrade.recipes import recipe_ops
from isovox.errors import IsovoxError
from isovox.pairs import AxialPairs, LateralPairs, dihedral
from isovox.resample import apply_along_axis, resampling_matrix
from isovox.volume import Volume, input_positions, output_length


def smooth(shape, seed=0, sigma=2.0):
    return ndi.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), sigma).astype(np.float32)


def anisotropic(axis, factor, n_low=12, n_lateral=40):
    shape, spacing = [n_lateral] * 3, [1.0] * 3
    shape[axis], spacing[axis] = n_low, factor
    return Volume(smooth(tuple(shape)), spacing=tuple(spacing), unit="nm")


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("factor", [4.0, 6.5])
def test_pair_shapes_along_every_axis(axis, factor):
    pairs = LateralPairs(anisotropic(axis, factor), patch_size=32)
    assert pairs.axis == axis and pairs.factor == factor
    n_lr = int(np.floor(31 / factor)) + 1
    rows = output_length(n_lr, factor)
    assert (pairs.n_lowres, pairs.rows) == (n_lr, rows)
    inputs, targets = pairs.sample(5)
    assert inputs.shape == targets.shape == (5, 1, rows, 32)
    assert inputs.dtype == targets.dtype == np.float32
    assert pairs.validation_set(4)[0].shape == (4, 1, rows, 32)


def test_take_recipe_input_is_cubic_upsampling_of_every_factor_th_target_row():
    pairs = LateralPairs(anisotropic(0, 4.0), recipe="take", patch_size=32)
    inputs, targets = pairs.sample(6)
    lowres = targets[:, 0, ::4]                                  # rows 0, 4, 8, ... (factor 4)
    matrix = resampling_matrix(lowres.shape[1], input_positions(lowres.shape[1], 4.0), "cubic")
    np.testing.assert_allclose(inputs[:, 0], apply_along_axis(lowres, matrix, 1), atol=1e-6)
    np.testing.assert_array_equal(inputs[:, 0, ::4], targets[:, 0, ::4])   # alignment k -> k * factor


def test_gaussian_recipe_matches_the_degrade_ops():
    pairs = LateralPairs(anisotropic(0, 4.0), recipe="gaussian", patch_size=32)
    inputs, targets = pairs.sample(3)
    ops = recipe_ops("gaussian", 1, 4.0, 1.0)
    lowres = ops.apply(Volume(np.ascontiguousarray(targets[:, 0]), (1, 1, 1), "nm")).numpy()
    # the target is the first `rows` of the patch; the blur's mirror border sits below them, so
    # compare the rows whose Gaussian support lies inside the crop
    matrix = resampling_matrix(pairs.n_lowres, input_positions(pairs.n_lowres, 4.0), "cubic")
    expected = apply_along_axis(lowres[:, :pairs.n_lowres], matrix, 1)
    np.testing.assert_allclose(inputs[:, 0, :16], expected[:, :16], atol=1e-5)


def test_non_integer_factor_keeps_even_rows():
    pairs = LateralPairs(anisotropic(0, 6.5), recipe="take", patch_size=40)
    inputs, targets = pairs.sample(4)
    np.testing.assert_allclose(inputs[:, 0, ::13], targets[:, 0, ::13], atol=1e-6)   # k * 6.5, k even


def test_dihedral_transforms():
    patch = np.arange(16.0).reshape(1, 4, 4)
    results = [dihedral(patch, np.array([code]))[0] for code in range(8)]
    assert all(r.shape == (4, 4) for r in results)
    assert len({r.tobytes() for r in results}) == 8                        # 8 distinct transforms
    np.testing.assert_array_equal(results[1], np.rot90(patch[0]))
    np.testing.assert_array_equal(results[4], patch[0][:, ::-1])


def test_in_plane_axis_coarser_than_the_target_never_becomes_rows():
    volume = Volume(smooth((12, 48, 48)), spacing=(4.0, 1.0, 1.5), unit="nm")
    pairs = LateralPairs(volume, patch_size=32)
    assert set(pairs._codes % 2) == {0}                          # only y (1.0) on the rows
    pairs = LateralPairs(volume, patch_size=32, target_spacing=1.5)   # rows resampled 1.0 -> 1.5
    assert set(pairs._codes % 2) == {0, 1} and pairs.sample(4)[0].shape[-1] == 32


def test_validation_pairs_come_from_held_out_planes_only():
    planes = np.broadcast_to(np.arange(20, dtype=np.float32)[:, None, None], (20, 36, 36)).copy()
    pairs = LateralPairs(Volume(planes, (4, 1, 1), "nm"), recipe="take", patch_size=32, validation_fraction=0.1)
    assert list(pairs.validation_planes) == [18, 19] and list(pairs.train_planes) == list(range(18))
    norm = pairs.normalisation

    def plane_of(targets):
        return set(np.rint(norm.invert(targets[:, 0, 0, 0].copy())).astype(int))

    assert plane_of(pairs.validation_set(30)[1]) <= {18, 19}
    assert plane_of(pairs.sample(200)[1]) <= set(range(18))
    first, second = pairs.validation_set(8), LateralPairs(Volume(planes, (4, 1, 1), "nm"), recipe="take",
                                                           patch_size=32).validation_set(8)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], pairs.validation_set(8)[1])


def test_seeded_batches_are_reproducible():
    volume = anisotropic(0, 4.0)
    a, b = LateralPairs(volume, patch_size=32, seed=3), LateralPairs(volume, patch_size=32, seed=3)
    np.testing.assert_array_equal(a.sample(4)[0], b.sample(4)[0])
    np.testing.assert_array_equal(a.batch_sampler(4)(7)[1], b.batch_sampler(4)(7)[1])
    assert not np.array_equal(a.batch_sampler(4)(7)[1], a.batch_sampler(4)(8)[1])


def test_augmentation_changes_inputs_only():
    volume = anisotropic(0, 4.0)
    clean = LateralPairs(volume, patch_size=32, seed=1)
    noisy = LateralPairs(volume, patch_size=32, seed=1, noise=0.05, poisson=True, artifacts=True,
                         augment_probability=1.0)
    (xc, yc), (xn, yn) = clean.batch_sampler(6)(0), noisy.batch_sampler(6)(0)
    np.testing.assert_array_equal(yc, yn)
    assert xn.shape == xc.shape and not np.allclose(xn, xc)
    assert noisy.describe()["noise"] == 0.05


@pytest.mark.parametrize("kwargs, message", [
    ({"factor": 12.0}, "factor 12 needs lateral planes of at least 25 pixels"),
    ({"patch_size": 16}, "needs patches of at least 17 pixels"),
    ({"patch_size": 64}, "lateral planes are 40 x 40"),
    ({"target_spacing": 0.5}, "finer than the lateral spacing"),
    ({"recipe": "nope"}, "unknown recipe"),
])
def test_geometry_errors(kwargs, message):
    volume = anisotropic(0, 8.0, n_low=8, n_lateral=40) if "factor" not in kwargs else \
        Volume(smooth((8, 20, 20)), (12.0, 1, 1), "nm")
    with pytest.raises(IsovoxError, match=message):
        LateralPairs(volume, **{"patch_size": 20, **kwargs})


def test_isotropic_and_too_few_planes_raise():
    with pytest.raises(IsovoxError, match="isotropic"):
        LateralPairs(Volume(smooth((20, 20, 20)), (1, 1, 1), "nm"), patch_size=16)
    with pytest.raises(IsovoxError, match="too few for a validation split"):
        LateralPairs(Volume(smooth((1, 20, 20)), (4, 1, 1), "nm"), patch_size=16)
    pairs = LateralPairs(Volume(smooth((1, 20, 20)), (4, 1, 1), "nm"), patch_size=16, validation_fraction=0)
    with pytest.raises(IsovoxError, match="no validation"):
        pairs.validation_set(2)


def test_axial_pairs_from_ground_truth():
    truth = Volume(smooth((64, 40, 48)), (1, 1, 1), "nm")
    lowres = truth.replace(data=truth.data[::4], spacing=(4, 1, 1))
    pairs = AxialPairs(lowres, truth, patch_size=32, seed=0)
    assert pairs.factor == 4.0 and pairs.validation_region == (36, 40)
    inputs, targets = pairs.sample(6)
    assert inputs.shape == targets.shape == (6, 1, 32, 32)
    # flips keep rows on the low-res axis: the acquired rows (every 4th, at some phase set by the
    # patch position and a vertical flip) agree between input and target (take + cubic)
    rows_match = [any(np.allclose(x[0, q::4], y[0, q::4], atol=1e-5) for q in range(4))
                  for x, y in zip(inputs, targets)]
    assert all(rows_match)
    val_a, val_b = pairs.validation_set(5), pairs.validation_set(5)
    np.testing.assert_array_equal(val_a[0], val_b[0])
    assert pairs.describe()["pairs"] == "axial ground truth"


def test_axial_pairs_errors():
    truth = Volume(smooth((64, 40, 48)), (1, 1, 1), "nm")
    lowres = truth.replace(data=truth.data[::4, :30], spacing=(4, 1, 1))
    with pytest.raises(IsovoxError, match="lateral axes"):
        AxialPairs(lowres, truth, patch_size=32)
    lowres = truth.replace(data=truth.data[::4], spacing=(4, 1, 1))
    with pytest.raises(IsovoxError, match="ground-truth slices"):
        AxialPairs(lowres, truth, patch_size=64)


def test_excluded_planes_stay_out_of_the_normalisation():
    data = np.random.default_rng(0).uniform(60, 200, (16, 48, 48)).astype(np.float32)
    data[5] = 0                                   # a blank section
    volume = Volume(data, (4.0, 1.0, 1.0), "nm")
    assert LateralPairs(volume, patch_size=32).normalisation.low == 0
    assert LateralPairs(volume, patch_size=32, exclude_planes=[5]).normalisation.low > 60
