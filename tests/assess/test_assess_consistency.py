"""Consistency with the acquisition: the output, acquired again, against the acquired sections."""

import json
import math

import numpy as np
import pytest
from scipy import ndimage as ndi

import isovox
from isovox.assess import acquisition_consistency, assess, card_acquisition, format_summary
from isovox.cli import main
from isovox.errors import IsovoxError
from isovox.volume import Volume


@pytest.fixture(scope="module")
def specimen():
    """A smooth isotropic specimen (10 nm) and its Gaussian-profile acquisition x4 (40 nm)."""
    rng = np.random.default_rng(0)
    truth = Volume(ndi.gaussian_filter(rng.standard_normal((61, 40, 40)), 1.5).astype(np.float32) * 50 + 100,
                   (10.0, 10.0, 10.0), "nm")
    return truth, isovox.simulate(truth, 4, axis="z", recipe="gaussian").lowres


def test_the_truth_is_consistent_exactly_and_a_worse_output_is_not(specimen):
    truth, acquired = specimen
    exact = acquisition_consistency(truth, acquired, "gaussian")
    assert math.isinf(exact.psnr) and len(exact.per_section) == acquired.shape[0]
    cubic = isovox.reconstruct(acquired, "cubic", dtype="float32")
    smeared = cubic.replace(data=ndi.gaussian_filter(cubic.numpy(), (4, 0, 0)))
    good, bad = (acquisition_consistency(v, acquired, "gaussian") for v in (cubic, smeared))
    assert 20 < bad.psnr < good.psnr < math.inf
    # one corrupted output section shows in the per-section profile where it lands
    broken = truth.numpy().copy()
    broken[27:30] = 0                           # around output row 28: acquired section 7
    profile = acquisition_consistency(truth.replace(data=broken), acquired, "gaussian").per_section
    assert int(np.argmin(profile)) == 7 and profile[7] < 10 and math.isinf(profile[0])


def test_a_take_acquisition_is_passed_by_any_method_that_keeps_the_sections(specimen):
    truth, _ = specimen
    thin = isovox.simulate(truth, 4, axis="z", recipe="take").lowres
    linear = isovox.reconstruct(thin, "linear", dtype="float32")
    assert math.isinf(acquisition_consistency(linear, thin, "take").psnr)


def test_report_json_summary_and_cli(specimen, tmp_path, capsys):
    truth, acquired = specimen
    report = assess(truth, acquired=acquired, acquisition={"recipe": "gaussian", "thickness": 40.0})
    payload = report.to_dict()["consistency"]
    assert payload["recipe"] == "gaussian" and payload["thickness"] == 40.0 and payload["axis"] == "z"
    assert len(payload["per_section_psnr"]) == 16 and "consistency with the acquisition" in format_summary(report)
    out, stack = isovox.write(truth, tmp_path / "out.tif"), isovox.write(acquired, tmp_path / "stack.tif")
    code = main(["assess", str(out), "--acquired", str(stack), "--recipe", "box", "-o", str(tmp_path / "r"),
                 "--json"])
    written = json.loads(capsys.readouterr().out)
    assert code == 0 and written["consistency"]["recipe"] == "box" and written["consistency"]["psnr"] is not None
    assert (tmp_path / "r" / "spectra.png").stat().st_size > 0
    code = main(["assess", str(out), "--recipe", "box"])
    assert code == 2 and "give --acquired" in capsys.readouterr().err


def test_grids_that_do_not_belong_together_are_refused(specimen):
    truth, acquired = specimen
    with pytest.raises(IsovoxError, match="differ along y"):
        acquisition_consistency(truth.replace(data=truth.numpy()[:, :30]), acquired)
    with pytest.raises(IsovoxError, match="not a reconstruction"):
        acquisition_consistency(truth.replace(data=truth.numpy()[:50]), acquired)
    with pytest.raises(IsovoxError, match="slice acquisition"):
        acquisition_consistency(truth, acquired, "kspace")


def test_the_card_says_how_the_stack_was_acquired():
    estimated = {"recipe": "gaussian", "thickness": None,
                 "estimated_acquisition": {"estimated": True, "recipe": "box", "thickness": 0.05, "unit": "um"}}
    assert card_acquisition(estimated, "nm", "nm") == {"recipe": "box", "thickness": pytest.approx(50.0)}
    assert card_acquisition({"recipe": "gaussian", "thickness": 40.0}, "nm", "um") == {
        "recipe": "gaussian", "thickness": pytest.approx(0.04)}
    with pytest.raises(IsovoxError, match="'learned'"):
        card_acquisition({"recipe": "learned"}, "nm", "nm")


def test_a_blank_acquired_section_is_skipped_not_scored(specimen):
    truth, acquired = specimen
    blanked = acquired.numpy().copy()
    blanked[9] = 0
    stack = acquired.replace(data=blanked)
    result = acquisition_consistency(truth, stack, "gaussian")
    assert result.skipped == (9,) and math.isnan(result.per_section[9]) and math.isinf(result.psnr)
    assert result.to_dict()["per_section_psnr"][9] is None and "sections 9 skipped" in result.summary()
    scored_anyway = acquisition_consistency(truth, stack, "gaussian", skip_defects=False)
    assert scored_anyway.per_section[9] < 10 and scored_anyway.worst_section == 9
