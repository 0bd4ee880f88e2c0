"""The no-reference sharpness measure: blur lowers it, contrast does not change it."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from isovox.errors import IsovoxError
from isovox.evaluate import sharpness


@pytest.fixture(scope="module")
def edges():
    rng = np.random.default_rng(0)
    return (ndi.gaussian_filter(rng.standard_normal((32, 32, 32)), 1.5) > 0).astype(np.float32)


def test_blur_lowers_it_and_contrast_does_not_change_it(edges):
    sharp = sharpness(edges)
    blurred = sharpness(ndi.gaussian_filter(edges, 1.5))
    assert all(blurred[f] < 0.6 * sharp[f] for f in sharp)
    rescaled = sharpness(3 * edges + 7)
    assert all(rescaled[f] == pytest.approx(sharp[f], rel=1e-5) for f in sharp)


def test_blur_along_one_axis_shows_in_the_planes_that_hold_it(edges):
    along_z = sharpness(ndi.gaussian_filter1d(edges, 2.0, axis=0))
    sharp = sharpness(edges)
    assert along_z["xy"] == pytest.approx(sharp["xy"], rel=0.35)   # xy planes: z blur barely shows
    assert along_z["xz"] < 0.8 * sharp["xz"] and along_z["yz"] < 0.8 * sharp["yz"]


def test_bad_input(edges):
    with pytest.raises(IsovoxError, match="constant"):
        sharpness(np.ones((16, 16, 16)))
    with pytest.raises(IsovoxError, match="plane family"):
        sharpness(edges, "zz")
    with pytest.raises(IsovoxError, match="mask"):
        sharpness(edges, mask=np.zeros(edges.shape, bool))
