"""Defective sections: each rule on synthetic stacks, user indices, lazy reading, real volumes."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from isovox import datasets, defects, io
from isovox.defects import detect_defects, parse_section_list, section_statistics
from isovox.errors import IsovoxError
from isovox.simulation import simulate
from isovox.volume import Volume


def tissue(n=40, size=64, seed=0) -> np.ndarray:
    """EM-like uint8 stack: smooth texture around 128, neighbours correlated but distinct."""
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=(n, size, size)), (0.7, 2, 2))
    return np.clip(128 + 30 * noise / noise.std(), 1, 254).astype(np.uint8)


def head(n=48, size=64) -> np.ndarray:
    """MRI-like: a textured ball in air (0); the first and last sections are all air and the
    content fades towards them."""
    z, y, x = np.ogrid[:n, :size, :size]
    radius = np.sqrt(((z - n / 2) / (n / 2)) ** 2 + ((y - size / 2) / (size / 2)) ** 2
                     + ((x - size / 2) / (size / 2)) ** 2)
    return np.where(radius < 0.9, tissue(n, size, seed=1) // 2 + 20, 0).astype(np.uint8)


def found(data, **kwargs) -> dict:
    return {d.index: d.reason for d in detect_defects(data, 0, **kwargs).defects}


# --- each rule ------------------------------------------------------------------------------------

def test_clean_stack_has_no_defects_and_a_json_ready_report():
    volume = Volume(tissue(), (40, 4, 4), "nm")
    report = detect_defects(volume)
    assert report.axis == 0 and report.n_sections == 40
    assert report.defects == () and report.indices == () and report.good == tuple(range(40))
    assert report.good_mask().all()
    assert json.loads(json.dumps(report.to_dict()))["axis"] == "z"
    assert report.thresholds["mean_z"] == 6


@pytest.mark.parametrize("index", [0, 17, 39])
def test_blank_sections_constant_or_noise_only(index):
    data = tissue()
    data[index] = 0
    data[25] = 100 + np.random.default_rng(2).integers(0, 3, data.shape[1:])   # detector noise only
    report = detect_defects(data, 0)
    assert {d.index: d.reason for d in report.defects} == {index: "blank", 25: "blank"}
    assert report.good_mask().sum() == 38 and index not in report.good


def test_air_at_the_ends_of_a_head_is_not_blank_but_a_lost_slice_inside_is():
    data = head()
    assert (data[0] == 0).all() and (data[-1] == 0).all()
    assert found(data) == {}
    data[24] = 0
    assert found(data) == {24: "blank"}


def test_saturated_at_either_extreme_but_background_is_not_clipping():
    data = tissue()
    data[0, 0, 0], data[0, 0, 1] = 0, 255
    data[10, :20] = 255                         # 31 % of the pixels clipped white
    data[30, :, :25] = 0                        # 39 % clipped black
    report = detect_defects(data, 0)
    assert [(d.index, d.reason, d.statistic) for d in report.defects] == [
        (10, "saturated", "fraction_at_max"), (30, "saturated", "fraction_at_min")]
    assert found(head()) == {}                  # air (0) covers much of every head slice


@pytest.mark.parametrize("gain, reason", [(0.3, "dark"), (1.6, "bright")])
def test_dark_and_bright_sections(gain, reason):
    data = tissue()
    data[12] = np.clip(data[12] * gain, 0, 255).astype(np.uint8)
    report = detect_defects(data, 0)
    assert [(d.index, d.reason) for d in report.defects] == [(12, reason)]
    assert abs(report.defects[0].value) > 6


def test_slow_brightness_drift_and_a_small_shift_are_not_defects():
    data = tissue().astype(np.int16) + np.arange(40)[:, None, None] * 2     # +80 over the stack
    data[20] += 6                                                           # a few grey levels
    assert found(np.clip(data, 0, 255).astype(np.uint8)) == {}


def test_dark_run_at_the_start_is_found():
    data = tissue()
    data[:2] = (data[:2] * 0.4).astype(np.uint8)
    assert found(data) == {0: "dark", 1: "dark"}


def test_duplicate_is_the_later_section_and_beats_dark():
    data = tissue()
    data[8] = data[7]
    data[20] = (data[20] * 0.3).astype(np.uint8)
    data[21] = data[20]                          # a copy of a dark section
    near = data[29].astype(float) + np.random.default_rng(3).normal(0, 0.3, data.shape[1:])
    data[30] = np.round(near).astype(np.uint8)   # re-imaged: near-identical
    assert found(data) == {8: "duplicate", 20: "dark", 21: "duplicate", 30: "duplicate"}


def test_duplicates_need_neighbours_that_differ_more():
    """Oversampled: ordinary neighbours correlate ~0.9995, above 0.999; only the copy counts."""
    rng = np.random.default_rng(4)
    base = tissue(1)[0].astype(float)
    data = base + rng.normal(0, 0.5, (40, *base.shape))
    data[13] = data[12]
    report = detect_defects(data, 0)
    assert [(d.index, d.reason) for d in report.defects] == [(13, "duplicate")]
    assert report.thresholds["duplicate_correlation_at_least"] > 0.9999


# --- user sections ----------------------------------------------------------------------------------

def test_user_sections_join_the_detected_ones():
    data = tissue()
    data[5] = 0
    report = detect_defects(data, 0, extra=[5, 9, np.int64(2)])
    assert [(d.index, d.reason) for d in report.defects] == [(2, "user"), (5, "blank"), (9, "user")]
    only_user = detect_defects(data, 0, extra=(9,), detect=False)
    assert only_user.indices == (9,) and only_user.thresholds == {}


@pytest.mark.parametrize("extra, message", [
    ([40], "bad section index 40: out of range; valid sections along z are 0 to 39"),
    ([-1], "bad section index -1: out of range"),
    ([3, 3], "bad section index 3 is listed twice"),
    ([2.5], "bad section index 2.5: not a whole number"),
    ([True], "bad section index True"),
    ("14", "parse_section_list"),
])
def test_bad_user_sections(extra, message):
    with pytest.raises(IsovoxError, match=message.replace(".", r"\.")):
        detect_defects(tissue(), 0, extra=extra, detect=False)


def test_parse_section_list():
    assert parse_section_list("14,15,20-22") == (14, 15, 20, 21, 22)
    assert parse_section_list(" 7 , 1 - 2 ") == (1, 2, 7)
    assert parse_section_list("") == ()


@pytest.mark.parametrize("text, message", [
    ("14,abc", "'abc' is not an index or a range"),
    ("3,,4", "'' is not an index or a range"),
    ("1-", "'1-' is not an index or a range"),
    ("-3", "negative index '-3'"),
    ("22-20", "range '22-20' runs backwards; write 20-22"),
    ("14,12-15", "section 14 is listed twice"),
])
def test_parse_section_list_errors(text, message):
    with pytest.raises(IsovoxError, match=message):
        parse_section_list(text)


def test_axis_defaults_to_the_low_resolution_one_and_must_be_given_if_isotropic():
    data = tissue()
    data[11] = 0
    moved = np.ascontiguousarray(np.moveaxis(data, 0, 2))
    assert detect_defects(Volume(moved, (4, 4, 40), "nm")).to_dict()["indices"] == [11]
    assert detect_defects(moved, "x").indices == (11,)
    with pytest.raises(IsovoxError, match="give axis="):
        detect_defects(Volume(data, (4, 4, 4), "nm"))


# --- lazy volumes -------------------------------------------------------------------------------------

def test_lazy_and_chunked_reading_measure_the_same(monkeypatch):
    import dask.array as da
    import zarr

    data = tissue()
    data[5], data[6] = 0, data[4]
    expected = detect_defects(data, 0)
    reference = section_statistics(data, 1)
    assert detect_defects(da.from_array(data, chunks=(7, 32, 32)), 0) == expected
    stored = zarr.create_array(store={}, shape=data.shape, dtype=data.dtype, chunks=(4, 64, 64))
    stored[:] = data
    monkeypatch.setattr(defects, "_CHUNK_BYTES", 3 * 64 * 64 * 8)     # 3 sections per chunk
    assert detect_defects(stored, 0) == expected
    chunked = section_statistics(da.from_array(data), 1)
    for name in ("mean", "std", "fraction_at_min", "fraction_at_max", "correlation_with_previous"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(reference, name))


# --- real volumes -------------------------------------------------------------------------------------

def real_file(shared_data: Path, name: str) -> Path:
    path = shared_data / name
    if not path.exists():
        pytest.skip(f"real volume {path} is not present")
    return path


@pytest.fixture(scope="module")
def cremi() -> Volume:
    sample = datasets.SAMPLES["cremi"]
    if not (datasets.cache_dir() / sample.name / Path(sample.member).name).exists():
        pytest.skip("CREMI sample not downloaded yet (isovox.datasets.fetch_sample())")
    return io.read(datasets.fetch_sample(), spacing=(40, 4, 4), unit="nm")


def test_cremi_finds_exactly_the_blank_section_14(cremi):
    report = detect_defects(cremi)
    assert [(d.index, d.reason, d.value) for d in report.defects] == [(14, "blank", 0.0)]
    even = detect_defects(cremi.replace(data=cremi.data[::2]))       # every other section withheld
    assert [(d.index, d.reason) for d in even.defects] == [(7, "blank")]
    assert detect_defects(cremi.replace(data=cremi.data[1::2])).defects == ()


def test_isbi_is_clean(shared_data):
    volume = io.read(real_file(shared_data, "isbi2012_sstem_30x512x512_4x4x50nm.tif"))
    assert detect_defects(volume).defects == ()


@pytest.mark.parametrize("axis", ["z", "y", "x"])
def test_colin27_has_no_defects_along_any_axis_nor_after_x4_through_plane(shared_data, axis):
    volume = io.read(real_file(shared_data, "colin27_t1_1mm.nii.gz"))
    assert detect_defects(volume, axis).defects == ()
    assert detect_defects(simulate(volume, 4, axis=axis).lowres, axis).defects == ()


def inject_defects(data: np.ndarray, rng) -> tuple[np.ndarray, dict]:
    """5 % of the sections blanked, one dark (x0.3), one half saturated, one a copy of the
    previous section (an ordinary one, so the truth is unambiguous)."""
    data, n = data.copy(), len(data)
    blank = set(rng.choice(n, round(0.05 * n), replace=False).tolist())
    ordinary = [i for i in range(n) if i not in blank]
    dark, saturated = (int(i) for i in rng.choice(ordinary, 2, replace=False))
    sources = [i for i in ordinary if i + 1 in ordinary and not {i, i + 1} & {dark, saturated}]
    duplicate = int(rng.choice(sources)) + 1
    data[sorted(blank)] = 0
    data[dark] = (data[dark] * 0.3).astype(data.dtype)
    data[saturated, : data.shape[1] // 2] = 255
    data[duplicate] = data[duplicate - 1]
    return data, {"blank": blank, "dark": {dark}, "saturated": {saturated}, "duplicate": {duplicate}}


def test_flyem_x4_with_injected_defects_precision_and_recall(shared_data):
    flyem = io.read(real_file(shared_data, "flyem_fibsem_sample2_250cube_10nm.tif"))
    lowres = simulate(flyem, 4, axis="z").lowres
    assert detect_defects(lowres).defects == ()
    counts = {kind: [0, 0, 0] for kind in ("blank", "dark", "saturated", "duplicate")}  # tp fp fn
    rng = np.random.default_rng(0)
    for _ in range(8):
        data, truth = inject_defects(lowres.numpy(), rng)
        report = detect_defects(lowres.replace(data=data))
        assert {d.reason for d in report.defects} <= set(truth)
        for kind, wanted in truth.items():
            got = {d.index for d in report.defects if d.reason == kind}
            counts[kind] = [counts[kind][0] + len(got & wanted), counts[kind][1] + len(got - wanted),
                            counts[kind][2] + len(wanted - got)]
    print("\nkind       precision recall")
    for kind, (tp, fp, fn) in counts.items():
        print(f"{kind:10s} {tp / (tp + fp):9.3f} {tp / (tp + fn):6.3f}")
        assert fp == 0 and fn == 0 and tp > 0
