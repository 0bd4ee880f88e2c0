"""The withheld-section check trains for the acquisition the checked model was trained for."""

from types import SimpleNamespace

from isovox.training.withheld import same_acquisition


def card(degradation):
    return SimpleNamespace(degradation=degradation)


def test_an_estimated_acquisition_is_reused_in_physical_units():
    estimated = {"recipe": "gaussian", "thickness": 31.0, "factor": 10.0,
                 "estimated_acquisition": {"recipe": "gaussian", "thickness": 31.0, "spacing": 40.0}}
    assert same_acquisition(card(estimated)) == {"recipe": "gaussian", "thickness": 31.0}


def test_thin_sections_estimated_as_take_stay_take():
    estimated = {"recipe": "take", "thickness": None, "estimated_acquisition": {"recipe": "take"}}
    assert same_acquisition(card(estimated)) == {"recipe": "take", "thickness": None}


def test_a_recipe_the_user_gave_adds_nothing():
    # the user's own --recipe / --fwhm already reach the check through the same options
    assert same_acquisition(card({"recipe": "box", "thickness": 40.0})) == {}
    assert same_acquisition(card({})) == {}
    assert same_acquisition(SimpleNamespace()) == {}
