"""The pure helpers of benchmarks/missing_sections.py: the three stacks, options, scores, counts."""

import dataclasses

import numpy as np
import pytest

import isovox
from isovox import Volume
from isovox.training import TRAIN_METHODS

import missing_sections as ms             # benchmarks/ is on sys.path (conftest.py)


def textured_volume(n_slices: int = 81, size: int = 24) -> Volume:
    """A smooth isotropic volume with lateral texture in every section (so a blank one stands out)."""
    z, y, x = np.meshgrid(np.arange(n_slices), np.arange(size), np.arange(size), indexing="ij")
    data = 120 + 40 * np.sin(0.5 * y + 0.05 * z) * np.cos(0.4 * x - 0.03 * z) + z
    return Volume(data.astype(np.float32), (10.0, 10.0, 10.0), "nm")


@pytest.fixture(scope="module")
def experiment():
    return ms.make_experiment(textured_volume(), factor=4, gaps=0.15, seed=3)


def test_gapped_stacks_blank_the_recorded_sections_and_keep_the_rest(experiment):
    clean, removed, blanked = (experiment.variants[name] for name in ms.VARIANTS)
    n = clean.lowres.shape[0]
    assert n == 21 and len(experiment.lost) == 3                          # round(0.15 * 21)
    assert list(experiment.lost) == sorted(experiment.lost)
    assert 0 not in experiment.lost and n - 1 not in experiment.lost
    assert removed.lowres is blanked.lowres                               # one gapped stack, told two ways
    gapped = np.asarray(removed.lowres.data)
    assert np.all(gapped[list(experiment.lost)] == 0)
    kept = [k for k in range(n) if k not in experiment.lost]
    np.testing.assert_array_equal(gapped[kept], np.asarray(clean.lowres.data)[kept])
    assert experiment.ground_truth.shape == (81, 24, 24)
    assert clean.defect_options() == {"bad_sections": (), "detect_defects": True}
    assert removed.defect_options() == {"bad_sections": experiment.lost, "detect_defects": False}
    assert blanked.defect_options() == {"bad_sections": (), "detect_defects": True}


def test_detection_bridges_blanked_exactly_as_the_given_list(experiment):
    outputs = {name: isovox.reconstruct(variant.lowres, "linear", target_spacing=10.0, **variant.defect_options())
               for name, variant in experiment.variants.items()}
    np.testing.assert_array_equal(outputs["removed"].data, outputs["blanked"].data)
    scores = {name: ms.plane_scores(experiment.ground_truth, output, mean=True) for name, output in outputs.items()}
    diffs = ms.differences(scores)
    assert diffs["removed-clean"] == diffs["blanked-clean"] < 0               # a bridged gap costs something
    # without the list and without detection the blank sections are interpolated as data: far worse
    unbridged = isovox.reconstruct(experiment.variants["removed"].lowres, "linear", target_spacing=10.0,
                                   detect_defects=False)
    worse = ms.plane_scores(experiment.ground_truth, unbridged, mean=True)["mean"]["psnr"]
    assert worse < scores["removed"]["mean"]["psnr"] - 3


def test_dropped_sections_read_from_the_record():
    record = [{"op": "take_slices", "axis": 0, "step": 4.0}, {"op": "drop_sections", "axis": 0, "indices": [2, 9]}]
    assert ms.dropped_sections(record) == (2, 9)
    assert ms.dropped_sections(record[:1]) == ()


@pytest.mark.parametrize("method", list(TRAIN_METHODS))
def test_training_options_are_settings_the_recipe_knows(method, experiment):
    variant = experiment.variants["removed"]
    options = ms.training_options(method, 30, seed=5, target_spacing=10.0, device="cpu",
                                  variant=None if method in ms.TRUTH_TRAINED else variant)
    fields = {f.name for f in dataclasses.fields(TRAIN_METHODS[method].config_class())}
    assert set(options) <= fields, set(options) - fields
    assert options["seed"] == 5
    if method == "selfsup":
        assert options["bad_sections"] == variant.bad_sections and options["detect_defects"] is False
    else:
        assert "bad_sections" not in options
    if method == "vae-two-stage":                  # iterations budget stage II; stage I shares them
        assert options["stage2_iterations"] == 30 and options["warmup_iterations"] == 10
    elif method == "degradation-learning":
        assert options["iterations"] == options["cycle_iterations"] == 30


def test_truth_trained_recipes_are_those_needing_isotropic_data():
    assert set(ms.TRUTH_TRAINED) == {"paired2d", "supervised3d"}
    assert set(ms.STACK_TRAINED) | set(ms.TRUTH_TRAINED) == set(TRAIN_METHODS)


def test_detection_counts_and_totals():
    counts = ms.detection_counts((2, 3, 14), (3, 14, 20))
    assert counts == {"true_positive": 2, "false_positive": 1, "false_negative": 1}
    assert ms.precision_recall(counts) == {"precision": 2 / 3, "recall": 2 / 3}
    assert ms.precision_recall({"true_positive": 0, "false_positive": 0, "false_negative": 0}) == \
        {"precision": None, "recall": None}


def test_tolerance_flags_either_difference():
    assert not ms.outside_tolerance({"removed-clean": -0.49, "blanked-clean": 0.2})
    assert ms.outside_tolerance({"removed-clean": -0.1, "blanked-clean": -0.51})


def test_central_crop_keeps_every_section():
    volume = textured_volume(9, 20)
    cropped = ms.central_crop(volume, 8)
    assert cropped.shape == (9, 8, 8)
    np.testing.assert_array_equal(cropped.data, volume.data[:, 6:14, 6:14])
    assert ms.central_crop(volume, None) is volume


def fake_row(psnr, trained_on=None, bridged=None):
    """A stored row as measure_method writes it: mean scores per variant, differences, budget."""
    variants = {v: {"scores": {"mean": {"psnr": p, "ssim": 0.8}}} for v, p in zip(ms.VARIANTS, psnr)}
    for variant in variants.values():
        if trained_on:
            variant.update(trained_on=trained_on, train_seconds=12.0)
    diffs = {**ms.differences({v: variants[v]["scores"] for v in ms.VARIANTS}), "bridging only": bridged}
    return {**({"iterations": 30} if trained_on else {}), "variants": variants, "differences_db": diffs,
            "outside_tolerance": ms.outside_tolerance({k: diffs[k] for k in ("removed-clean", "blanked-clean")})}


def test_table_rows_in_registry_order_with_flags():
    results = {"settings": {"lowres": "63 x 96 x 96", "lost_sections": [2, 3, 14], "seed": 0},
               "methods": {"selfsup": fake_row((30.0, 29.0, 29.0), "clean", bridged=-0.3),
                           "linear": fake_row((29.2, 28.9, 28.9), bridged=-0.3),
                           "paired2d": fake_row((30.2, 29.8, 29.8), "clean ground truth", bridged=-0.4)},
               "detector": {"seeds": 2, "lost_sections": 6, "true_positive": 6, "false_positive": 0,
                            "precision": 1.0, "recall": 1.0, "stacks_found_exactly": 2, "detect_seconds": 0.1,
                            "detect_seconds_per_stack": 0.05}}
    lines = ms.format_tables(results).splitlines()
    rows = [line for line in lines if line.startswith("| ") and line.split("|")[1].strip() in ms.ALL_METHODS]
    assert [row.split("|")[1].strip() for row in rows] == ["linear", "selfsup", "paired2d"]
    linear, selfsup, paired = ([cell.strip() for cell in row.split("|")[1:-1]] for row in rows)
    assert linear[6:10] == ["-0.30", "-0.30", "yes", "-0.30"]
    assert selfsup[1] == "each stack" and selfsup[6:9] == ["-1.00", "-1.00", "no"] and selfsup[10] == "12 / 12 / 12"
    assert paired[1] == "clean ground truth" and paired[10] == "12 (once)"
    assert any("| 2 | 6 | 6 | 0 | 1.000 | 1.000 | 2 / 2 |" in line for line in lines)
