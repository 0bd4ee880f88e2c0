import json

import numpy as np
import pytest

from isovox.errors import IsovoxError
from isovox.intensity import Normalisation
from isovox.store import ModelCard
from isovox.volume import Volume


def ramp(n=10):
    return Volume(np.arange(n ** 3, dtype=np.float32).reshape(n, n, n), (2, 1, 1), "nm")


def test_measure_uses_the_percentiles_and_keeps_them():
    volume = ramp()
    norm = Normalisation.measure(volume)
    assert norm.low == pytest.approx(np.percentile(volume.numpy(), 0.1))
    assert norm.high == pytest.approx(np.percentile(volume.numpy(), 99.9))
    assert norm.percentiles == (0.1, 99.9)


def test_flat_data_gets_a_unit_range():
    flat = Volume(np.full((4, 4, 4), 7.0, np.float32), (2, 1, 1), "nm")
    assert (Normalisation.measure(flat).low, Normalisation.measure(flat).high) == (7.0, 8.0)


def test_several_volumes_are_pooled():
    low, high = ramp(), Volume(ramp().numpy() + 5000, (2, 1, 1), "nm")
    pooled = Normalisation.measure([low, high], (0, 100))
    assert (pooled.low, pooled.high) == (0.0, 5999.0)


def test_apply_then_invert_is_the_identity_in_float32():
    norm = Normalisation(10.0, 250.0)
    values = np.array([10, 130, 250, 300], np.float32)
    scaled = norm.apply(values)
    np.testing.assert_allclose(scaled, [0, 0.5, 1, 290 / 240], rtol=1e-6)
    np.testing.assert_allclose(norm.invert(scaled), values, rtol=1e-6)


@pytest.mark.parametrize("low, high", [(5, 5), (6, 2), (float("nan"), 1), ("0", 1), (True, 2)])
def test_a_range_that_cannot_be_inverted_is_refused(low, high):
    with pytest.raises(IsovoxError, match="normalisation"):
        Normalisation(low, high)


def test_the_card_keeps_the_value_type_and_its_json_form():
    card = ModelCard(method="selfsup", architecture={"name": "drcnet"}, factor=4.0, lowres_spacing=40.0,
                     target_spacing=10.0, unit="nm", normalisation={"low": 1.0, "high": 3.0})
    assert card.normalisation == Normalisation(1.0, 3.0)
    saved = json.loads(card.to_json())["normalisation"]
    assert saved == {"low": 1.0, "high": 3.0}
    assert ModelCard.from_dict(json.loads(card.to_json())) == card
    measured = Normalisation.measure(ramp())
    assert Normalisation.from_dict(json.loads(json.dumps(measured.to_dict()))) == measured


def test_skipped_sections_do_not_enter_the_percentiles():
    # a blank (all-zero) section would drag the 0.1 percentile of tissue at 60-200 down to 0
    data = np.random.default_rng(0).uniform(60, 200, (20, 32, 32)).astype(np.float32)
    data[7] = 0
    volume = Volume(data, (4.0, 1.0, 1.0), "nm")
    assert Normalisation.measure(volume).low == 0
    skipped = Normalisation.measure(volume, skip=(0, [7]))
    assert skipped.low > 60 and skipped.high == pytest.approx(Normalisation.measure(volume).high, abs=0.1)
    assert Normalisation.measure(volume, skip=(0, [])).low == 0
