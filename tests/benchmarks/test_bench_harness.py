"""benchmarks/harness.py: machine info, timing, result files, scores and tables of every script."""

import datetime
import importlib
import json
import math
import pathlib
import time

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import isovox
from isovox.evaluate import compare

import harness                             # benchmarks/ is on sys.path (conftest.py)

SCRIPTS = sorted(path.stem for path in harness.ROOT.joinpath("benchmarks").glob("*.py"))


# --- machine --------------------------------------------------------------------------------------

def test_machine_info_has_one_typed_set_of_fields():
    info = harness.machine_info()
    assert set(info) == {"date", "cpu", "architecture", "cores", "torch_threads", "ram_gb", "load_average_1min",
                         "python", "torch", "numpy", "isovox", "commit", "gpu"}
    assert datetime.datetime.fromisoformat(info["date"]).tzinfo is not None
    assert isinstance(info["cpu"], str) and info["cpu"]
    assert isinstance(info["cores"], int) and info["cores"] >= 1
    assert info["torch_threads"] == torch.get_num_threads()
    assert isinstance(info["ram_gb"], float) and info["ram_gb"] > 0          # Linux: /proc and sysconf
    assert (info["torch"], info["numpy"], info["isovox"]) == (torch.__version__, np.__version__, isovox.__version__)
    assert info["commit"] is None or isinstance(info["commit"], str) and info["commit"]
    assert (info["gpu"] is not None) == torch.cuda.is_available()
    json.dumps(info, allow_nan=False)                                        # plain JSON as it is


def test_describe_machine_names_cores_and_torch():
    line = harness.describe_machine(harness.machine_info())
    assert f"{harness.machine_info()['cores']} cores" in line and f"torch {torch.__version__}" in line


# --- time and memory ------------------------------------------------------------------------------

def test_stopwatch_records_wall_time_and_a_peak_that_covers_the_block():
    before = harness.resident_bytes()
    with harness.Stopwatch() as watch:
        block = np.ones(16 * 2**20, dtype=np.float32)                       # 64 MiB, touched
        time.sleep(0.02)
    assert watch.seconds >= 0.02
    assert watch.cpu_seconds >= 0
    assert watch.peak_rss_mb * 2**20 >= before + 0.9 * block.nbytes
    assert set(watch.as_dict()) == {"seconds", "cpu_seconds", "peak_rss_mb"}


def test_timed_returns_the_value_and_best_seconds_the_fastest_call(monkeypatch):
    assert harness.timed(divmod, 7, 2)[0] == (3, 1)
    clock = iter([0.0, 5.0, 10.0, 11.0, 20.0, 23.0])                       # calls of 5 s, 1 s, 3 s
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    assert harness.best_seconds(lambda: None, 3) == 1.0


# --- result files ---------------------------------------------------------------------------------

def test_result_path_is_under_results_and_may_name_a_subfolder(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    assert harness.result_path("selfsup/x4_cubic") == tmp_path / "selfsup" / "x4_cubic.json"
    assert harness.result_path("throughput_cuda", ".md") == tmp_path / "throughput_cuda.md"


def test_write_json_writes_strict_json_and_makes_its_folder(tmp_path):
    path = harness.write_json(tmp_path / "new" / "r.json", {"psnr": float("inf"), "ssim": np.float32(0.5),
                                                            "n": np.int64(3), "where": tmp_path})
    text = path.read_text()
    record = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert record == {"psnr": None, "ssim": 0.5, "n": 3, "where": str(tmp_path)}
    assert harness.read_json(path) == record
    assert harness.read_json(tmp_path / "missing.json", default={}) == {}


def test_a_failed_write_leaves_the_previous_file_whole_and_no_temporary(monkeypatch, tmp_path):
    path = harness.write_json(tmp_path / "r.json", {"run": 1})

    def half_then_fail(self, text, *args, **kwargs):
        with open(self, "w") as handle:
            handle.write(text[: len(text) // 2])
        raise OSError("disk went away")

    monkeypatch.setattr(pathlib.Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="disk went away"):
        harness.write_json(path, {"run": 2, "much": list(range(100))})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"run": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_save_result_stamps_the_machine_and_writes_under_results(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    path = harness.save_result("dense3d/colin", {"task": "colin", "psnr": float("nan")}, echo=True)
    assert path == tmp_path / "dense3d" / "colin.json"
    record = json.loads(path.read_text())
    assert record["task"] == "colin" and record["psnr"] is None
    assert set(record["machine"]) == set(harness.machine_info())
    assert json.loads(capsys.readouterr().out) == record


def test_save_figure_writes_a_png_and_nothing_else(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([0, 1], [1, 0])
    path = harness.save_figure(figure, tmp_path / "figures" / "loss.png", dpi=20)
    plt.close(figure)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in path.parent.iterdir()] == ["loss.png"]


# --- scores ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def known_pair():
    """A smooth 20^3 volume and a noisy copy: a pair whose scores are finite and not trivial."""
    rng = np.random.default_rng(0)
    reference = ndi.gaussian_filter(rng.random((20, 20, 20)), 2.0).astype(np.float32)
    test = (reference + rng.normal(0, 0.01, reference.shape)).astype(np.float32)
    return reference, test


def test_plane_scores_match_compare(known_pair):
    reference, test = known_pair
    expected = compare(reference, test, planes=harness.AXIAL)
    scores = harness.plane_scores(reference, test, mean=True, volume=True)
    for plane in harness.AXIAL:
        for metric in ("psnr", "ssim"):
            assert scores[plane][metric] == pytest.approx(expected[plane][metric], rel=1e-5)
    assert scores["mean"]["psnr"] == pytest.approx(np.mean([scores[p]["psnr"] for p in harness.AXIAL]))
    assert scores["volume"]["psnr"] == pytest.approx(expected["volume"]["psnr"], rel=1e-5)
    assert set(scores) == {"xz", "yz", "mean", "volume"}


def test_plane_scores_pick_the_metrics_asked_for(known_pair):
    scores = harness.plane_scores(*known_pair, planes=("xy",), metrics=("nrmse",))
    assert scores == {"xy": {"nrmse": pytest.approx(compare(*known_pair, planes="xy")["xy"]["nrmse"], rel=1e-5)}}


def test_section_scores_match_scikit_image_section_by_section(known_pair):
    reference, test = (255 * array for array in known_pair)
    scores = harness.section_scores(reference, test, data_range=255.0)
    assert len(scores) == reference.shape[0]
    for real, guess, score in zip(reference.astype(np.float64), test.astype(np.float64), scores):
        assert score["psnr"] == pytest.approx(peak_signal_noise_ratio(real, guess, data_range=255.0))
        assert score["ssim"] == pytest.approx(structural_similarity(real, guess, data_range=255.0))
    exact = harness.section_scores(reference[0], reference[0], data_range=255.0)        # one 2D image
    assert exact == [{"psnr": math.inf, "ssim": 1.0}]


def test_mean_of_leaves_out_missing_and_infinite_values():
    assert harness.mean_of([1.0, None, 3.0, math.inf]) == 2.0
    assert harness.mean_of([None, math.nan]) is None


# --- tables ---------------------------------------------------------------------------------------

def test_markdown_table_aligns_the_columns_asked_for():
    table = harness.markdown_table(["method", "PSNR", "SSIM"], [["cubic", 30.1, 0.8], ["linear", 29, 0.7]],
                                   align="lr")
    assert table.splitlines() == ["| method | PSNR | SSIM |", "|---|---:|---|", "| cubic | 30.1 | 0.8 |",
                                  "| linear | 29 | 0.7 |"]


def test_numbers_and_score_cells_show_a_dash_for_what_is_missing():
    assert harness.number(None, 2) == "-"
    assert harness.number(1.234, 1, signed=True) == "+1.2"
    assert harness.psnr_ssim({"psnr": 31.256, "ssim": 0.81234}) == "31.26 / 0.812"
    assert harness.psnr_ssim({"psnr": None, "ssim": 0.5}, ssim_digits=2) == "- / 0.50"
    assert harness.psnr_ssim(None) == "- / -"


# --- the scripts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_script_imports(name):
    module = importlib.import_module(name)
    assert module.__doc__, f"benchmarks/{name}.py says nothing of what it measures"
