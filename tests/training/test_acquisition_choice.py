"""Recipe 'auto': the estimated acquisition checked against thin sections on withheld sections."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from isovox.simulation import simulate
from isovox.store import read_card
from isovox.training import SelfSupConfig, train_selfsup
from isovox.volume import Volume
from isovox.training.recipes import acquisition_choice as choice

QUICK = dict(arch="drcnet", model_kwargs={"n_feats": 8, "n_blocks": 1}, patch_size=32, batch_size=4,
             validate_every=5, checkpoint_every=5, validation_pairs=8, device="cpu")


def scores(*psnrs):
    return [{"recipe": name, "isovox_psnr": value} for name, value in zip(("gaussian", "take"), psnrs)]


def test_candidates_are_the_estimate_then_thin_sections():
    assert choice.candidate_recipes("gaussian", 31.0) == [("gaussian", 31.0), ("take", None)]
    assert choice.candidate_recipes("box", 40.0) == [("box", 40.0), ("take", None)]
    assert choice.candidate_recipes("take", None) == [("take", None)]


def test_the_best_withheld_psnr_wins_and_ties_go_to_the_estimate():
    assert choice.pick(scores(22.0, 23.0))["recipe"] == "take"
    assert choice.pick(scores(23.0, 22.0))["recipe"] == "gaussian"
    assert choice.pick(scores(22.0, 22.0 + choice.TIE_DB / 2))["recipe"] == "gaussian"


def test_a_small_budget_gives_each_candidate_a_third_of_it():
    assert choice.selection_iterations(SelfSupConfig(iterations=30)) == 10
    assert choice.selection_iterations(SelfSupConfig(iterations=1)) == 1
    assert choice.selection_iterations(SelfSupConfig(iterations=100_000)) == choice.SELECTION_ITERATIONS
    assert choice.selection_iterations(SelfSupConfig(iterations=None, minutes=5)) == choice.SELECTION_ITERATIONS


def test_too_few_sections_or_selection_off_train_for_the_estimate(blobs):
    few = blobs.crop((0, 0, 0), (choice.MIN_SECTIONS - 1, 64, 64))
    config, record = choice.choose_acquisition(few, SelfSupConfig(), "gaussian", 12.0, 0)
    assert (config.recipe, config.thickness) == ("gaussian", 12.0) and "too few" in record["reason"]
    config, record = choice.choose_acquisition(blobs, SelfSupConfig(select_acquisition=False), "box", 5.0, 0)
    assert (config.recipe, config.thickness, record) == ("box", 5.0, {"chosen_by": "estimate"})


def test_auto_training_records_both_candidates_and_trains_for_the_winner(tmp_path, monkeypatch):
    # isotropic membrane-like texture seen through a Gaussian thicker than the spacing: the
    # estimate is a profile, not 'take', so both candidates are checked
    rng = np.random.default_rng(0)
    smooth = ndi.gaussian_filter(rng.standard_normal((64, 64, 64)), 2.0)
    field = np.tanh(3 * smooth / smooth.std())
    texture = Volume((120 + 100 * field / np.abs(field).max()).astype(np.float32), (10.0, 10.0, 10.0), "nm")
    thick = simulate(texture, 4, recipe="gaussian", thickness=60).lowres
    monkeypatch.setattr(choice, "SELECTION_CROP", 48)
    card = read_card(train_selfsup(thick, tmp_path / "model", iterations=6, **QUICK))
    made = card.degradation["estimated_acquisition"]
    assert made["recipe"] != "take", "fixture no longer estimates a profile: pick another"
    candidates = made["choice"]["candidates"]
    assert [c["recipe"] for c in candidates] == [made["recipe"], "take"]
    best = choice.pick(candidates)
    assert (card.degradation["recipe"], card.degradation["thickness"]) == (best["recipe"], best["thickness"])
    assert all(c["linear_psnr"] == pytest.approx(candidates[0]["linear_psnr"]) for c in candidates)


def test_the_check_bins_lateral_pixels_when_its_factor_would_be_large():
    data = np.random.default_rng(0).uniform(0, 100, (10, 40, 40)).astype(np.float32)
    fine = Volume(data, (40.0, 2.0, 2.0), "nm")             # withheld: 80 nm over 2 nm, factor 40
    window = choice.coarse_window(fine, 0)
    b = int(np.ceil(40 / choice.MAX_CHECK_FACTOR))
    assert window.spacing == (40.0, 2.0 * b, 2.0 * b) and window.shape == (10, 40 // b, 40 // b)
    assert window.numpy()[3, 1, 2] == pytest.approx(data[3, b:2 * b, 2 * b:3 * b].mean(), rel=1e-5)
    coarse = Volume(data, (40.0, 10.0, 10.0), "nm")         # factor 8: checked as it is
    assert choice.coarse_window(coarse, 0).spacing == coarse.spacing
