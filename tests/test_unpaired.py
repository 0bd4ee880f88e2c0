"""Unpaired sampling for degradation learning: sharp lateral and real axial patches of one volume."""

import numpy as np
import pytest

from isovox.errors import IsovoxError
from isovox.pairs import LateralPairs
from isovox.unpaired import UnpairedPatches
from isovox.volume import Volume


def coordinates(shape=(20, 48, 40), spacing=(4.0, 1.0, 1.0)) -> Volume:
    """Voxel value 10000 z + 100 y + x: every patch says where it was cut from."""
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return Volume((10000 * z + 100 * y + x).astype(np.float64), spacing=spacing, unit="nm")


def raw(patches, sampler):
    return np.rint(sampler.normalisation.invert(np.array(patches, np.float32))).astype(np.int64)


def test_axial_patches_are_real_sections_with_the_lateral_field_of_view():
    volume = coordinates()
    sampler = UnpairedPatches(volume, patch_size=24, seed=3)
    sharp, lowres = sampler.sample(16)
    assert sharp.shape == (16, 1, 24, 24) and lowres.shape == (16, 1, sampler.lowres_rows, 24)
    assert sampler.lowres_rows == 6                                       # sections at sharp rows 0, 4, ..., 20
    assert sampler.rows == (sampler.lowres_rows - 1) * 4 + 1 == 21      # same physical extent: 80 nm
    values = raw(lowres[:, 0], sampler)
    z, rest = values // 10000, values % 10000
    # rows: consecutive acquired sections, unflipped; columns: one lateral axis, step 1 (or -1 flipped)
    assert np.all(np.diff(z, axis=1) == 1) and np.all(np.diff(rest, axis=1) == 0)
    steps = np.unique(np.abs(np.diff(rest, axis=2)))
    assert set(steps) <= {1, 100}
    families = {int(np.abs(np.diff(v[0])).max()) for v in rest}
    assert families == {1, 100}                                           # both xz and yz planes


def test_sharp_patches_are_lateral_and_normalised_like_lateral_pairs():
    volume = coordinates()
    sampler = UnpairedPatches(volume, patch_size=24, seed=0)
    pairs = LateralPairs(volume, patch_size=24, validation_fraction=0.0)
    assert sampler.normalisation == pairs.normalisation
    sharp = raw(sampler.sample(8)[0][:, 0], sampler)
    z = sharp // 10000
    assert np.all(z == z[:, :1, :1])                                      # one lateral plane each
    lateral = sharp % 10000
    assert set(np.unique(np.abs(np.diff(lateral, axis=1)))) <= {1, 100}   # dihedral: x or y on rows
    np.testing.assert_allclose(sampler.normalisation.apply(volume.numpy()).min(), 0.0, atol=0.01)


def test_batches_are_a_pure_function_of_the_iteration():
    sampler = UnpairedPatches(coordinates(), patch_size=24, seed=5)
    draw = sampler.batch_sampler(4)
    first, again, other = draw(7), draw(7), draw(8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    assert sampler.describe()["axial_columns"] == ["y", "x"]


def test_non_integer_factor_and_bad_sizes():
    volume = coordinates(shape=(12, 40, 40), spacing=(6.5, 1.0, 1.0))
    sampler = UnpairedPatches(volume, patch_size=33)
    assert sampler.factor == 6.5 and sampler.lowres_rows == 5 and sampler.rows == 27
    assert sampler.sample(2)[1].shape == (2, 1, 5, 33)
    with pytest.raises(IsovoxError, match="sections along z"):
        UnpairedPatches(coordinates(shape=(3, 48, 48)), patch_size=24)
    with pytest.raises(IsovoxError, match="patch"):
        UnpairedPatches(coordinates(shape=(20, 20, 20)), patch_size=24)
    with pytest.raises(IsovoxError, match="isotropic"):
        UnpairedPatches(coordinates(spacing=(1.0, 1.0, 1.0)), patch_size=24)


def test_lateral_pairs_accept_a_degradation_callable():
    # A callable doing what the 'take' recipe does gives the 'take' pairs exactly (same seed).
    volume = coordinates()
    take = LateralPairs(volume, recipe="take", patch_size=24, seed=1)
    learned = LateralPairs(volume, patch_size=24, seed=1, degradation=lambda sharp: sharp[:, ::4])
    for a, b in zip(take.sample(6, np.random.default_rng(0)), learned.sample(6, np.random.default_rng(0))):
        np.testing.assert_array_equal(a, b)
    assert learned.describe()["recipe"] == "learned" and take.describe()["recipe"] == "take"
