"""Named acquisition recipes."""

import numpy as np
import pytest

from isovox.degrade import ops as O
from isovox.degrade.recipes import RECIPES, recipe_ops
from isovox.errors import IsovoxError


def test_recipe_contents():
    assert recipe_ops("take", 0, 4, 10.0).ops == (O.TakeSlices(0, 4),)
    assert recipe_ops("gaussian", "x", 6.5, (10, 5, 2)).ops == (O.GaussianProfile(2, 13.0), O.TakeSlices(2, 6.5))
    assert recipe_ops("box", 1, 3, 5.0, thickness=7.5, offset=1).ops == (O.BoxProfile(1, 7.5),
                                                                        O.TakeSlices(1, 3, 1))
    assert recipe_ops("cubic", 0, 2.5, 1.0).ops == (O.CubicDownsample(0, 2.5),)
    assert recipe_ops("kspace", 0, 2, 1.0).ops == (O.KSpaceTruncate((0,), (2,)),)


def test_recipes_run_and_keep_grid_rules(random_volume):
    for name in RECIPES:
        out = recipe_ops(name, 0, 4, random_volume.spacing)(random_volume)
        assert out.dtype == random_volume.dtype
        expected = random_volume.shape if name == "kspace" else (15, 20, 20)
        assert out.shape == expected


def test_thickness_gap_and_overlap(smooth_volume):
    """A thin section (gap) keeps more contrast than a thick one (overlap)."""
    thin = recipe_ops("box", 0, 4, 4.0, thickness=4.0)(smooth_volume)
    thick = recipe_ops("box", 0, 4, 4.0, thickness=24.0)(smooth_volume)
    assert np.array_equal(thin.data, smooth_volume.data[::4])     # one voxel thick: plain sampling
    assert thick.data.std() < thin.data.std()


def test_recipe_errors():
    with pytest.raises(IsovoxError, match="take, gaussian, box, cubic, kspace"):
        recipe_ops("blur", 0, 2, 1.0)
    with pytest.raises(IsovoxError):
        recipe_ops("take", 0, 2, 1.0, thickness=3.0)
    with pytest.raises(IsovoxError):
        recipe_ops("kspace", 0, 2, 1.0, offset=1)
    for bad in (0.5, float("nan"), float("inf"), "two"):
        with pytest.raises(IsovoxError):
            recipe_ops("take", 0, bad, 1.0)
