"""Random wrappers: drawn parameters are recorded, and a record replays bit for bit."""

import json

import numpy as np
import pytest

from isovox.degrade import ops as O
from isovox.degrade.random import (RandomCompose, RandomGaussianNoise, RandomPoissonNoise, RandomProfile,
                                   RandomSectionArtifacts, replay)
from isovox.errors import IsovoxError


def pipeline() -> RandomCompose:
    return RandomCompose([
        RandomProfile(axis=0, fwhm=(10.0, 40.0)),
        O.TakeSlices(0, 2.5),
        RandomSectionArtifacts(axis=0, p_missing=0.2, p_dark=0.2, p_shift=0.3, max_shift=1.5),
        RandomPoissonNoise((50, 500)),
        RandomGaussianNoise((0.0, 0.05)),
    ])


def test_replay_reproduces_exactly(random_volume):
    out, record = pipeline()(random_volume, 11)
    assert out.dtype == np.uint8 and out.shape == (24, 20, 20)
    names = [d["op"] for d in record]
    assert names[0] == "gaussian_profile" and names[1] == "take_slices" and names[-1] == "gaussian_noise"
    replayed = replay(json.loads(json.dumps(record)))(random_volume)
    assert np.array_equal(replayed.data, out.data)
    assert replayed.spacing == out.spacing and replayed.origin == out.origin


def test_same_seed_same_output_different_seed_different(random_volume):
    a, record_a = pipeline()(random_volume, 5)
    b, record_b = pipeline()(random_volume, 5)
    c, record_c = pipeline()(random_volume, 6)
    assert record_a == record_b and np.array_equal(a.data, b.data)
    assert record_a != record_c and not np.array_equal(a.data, c.data)


def test_drawn_parameters_lie_in_ranges(random_volume):
    rng = np.random.default_rng(0)
    for _ in range(20):
        noise = RandomGaussianNoise((0.01, 0.02)).draw(random_volume, rng)
        assert 0.01 <= noise.sigma <= 0.02 and isinstance(noise.seed, int)
        shot = RandomPoissonNoise((20, 1000)).draw(random_volume, rng)
        assert 20 <= shot.photons <= 1000
        assert 5.0 <= RandomProfile(1, (5, 8)).draw(random_volume, rng).fwhm <= 8.0


def test_section_artifacts_draw(random_volume):
    everything = RandomSectionArtifacts(axis=2, p_missing=1, p_dark=1, p_shift=1, max_shift=1)
    drawn = everything.draw(random_volume.shape, 0)
    assert [op.name for op in drawn.ops] == ["shift_sections", "flicker_sections", "darken_sections",
                                             "drop_sections"]
    assert len(drawn.ops[-1].indices) == 19                        # one section always kept
    assert all(abs(s) <= 1 for pair in drawn.ops[0].shifts for s in pair)
    nothing = RandomSectionArtifacts(p_missing=0, p_dark=0, p_shift=0, flicker_gain=1, flicker_bias=0)
    assert nothing.draw(random_volume, 0).ops == ()
    out, record = RandomCompose([nothing])(random_volume, 0)
    assert record == [] and np.array_equal(out.data, random_volume.data)


def test_bad_ranges():
    with pytest.raises(IsovoxError):
        RandomGaussianNoise((0.05, 0.01))
    with pytest.raises(IsovoxError):
        RandomSectionArtifacts(p_missing=1.5)
    with pytest.raises(IsovoxError):
        RandomCompose(["blur"])(None, 0)
