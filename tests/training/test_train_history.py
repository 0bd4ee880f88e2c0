"""The training history and config a model folder keeps: history.json, history.png, training.json."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from isovox.jsontext import plain
from isovox.models import create_model
from isovox.pairs import LateralPairs
from isovox.store import HISTORY_NAME, HISTORY_PLOT_NAME, TRAINING_CONFIG_NAME, read_card, read_history
from isovox.training import SelfSupLoss, TrainSettings, fit, train_selfsup
from isovox.training.history import history_files, phase_record
from isovox.training.progress import LOG_EVERY
from isovox.training.recipes.arbitrary_scale import ArbitraryScaleConfig
from isovox.training.recipes.common import settings_from
from isovox.training.recipes.degradation_learning import DegradationLearningConfig
from isovox.training.recipes.selfsup import SelfSupConfig
from isovox.training.recipes.supervised3d import Supervised3DConfig

TINY = {"n_feats": 8, "n_blocks": 1}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def folder(blobs, tmp_path_factory):
    """A selfsup model folder: 25 iterations, validation every 10 (not a multiple of the log's 10s
    at the end: the last row is iteration 25)."""
    return train_selfsup(blobs, tmp_path_factory.mktemp("history") / "model", iterations=25, validate_every=10,
                         arch="drcnet", model_kwargs=TINY, patch_size=32, batch_size=4, validation_pairs=8,
                         device="cpu")


def test_history_json_has_a_row_per_logged_iteration_with_validation_against_cubic(folder):
    card = read_card(folder)
    [phase] = read_history(folder)
    assert phase["name"] == "training" and phase["iterations"] == 25 == card.training["iterations"]
    rows = phase["steps"]
    assert [row["iteration"] for row in rows] == [10, 20, 25]
    elapsed = [row["elapsed_seconds"] for row in rows]
    assert elapsed == sorted(elapsed) and 0 < elapsed[-1] <= phase["elapsed_seconds"]
    for row in rows:
        assert set(row["losses"]) == set(card.training["final_terms"]) == {"loss"}
        assert np.isfinite(row["losses"]["loss"]) and row["losses"]["loss"] > 0
        # validation ran at 10, 20 and the end: the network's PSNR next to its cubic input's
        assert row["input_psnr"] == card.training["input_validation_psnr"]
    assert [row["validation_psnr"] for row in rows] == [v["psnr"] for v in card.training["validation"]]
    assert rows[-1]["validation_psnr"] == card.training["final_validation_psnr"]


def test_history_png_is_a_valid_png(folder):
    data = (folder / HISTORY_PLOT_NAME).read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    image = imread(folder / HISTORY_PLOT_NAME)
    assert image.ndim == 3 and min(image.shape[:2]) > 100 and image.std() > 0     # drawn, not blank


def test_training_json_is_the_full_typed_config(folder):
    record = json.loads((folder / TRAINING_CONFIG_NAME).read_text())
    assert record["method"] == "selfsup" and record["config_type"].endswith(".SelfSupConfig")
    names = [f.name for f in dataclasses.fields(SelfSupConfig)]
    assert list(record["config"]) == names
    config = record["config"]
    assert (config["iterations"], config["validate_every"], config["model_kwargs"]) == (25, 10, TINY)
    assert config["recipe"] == read_card(folder).degradation["recipe"]          # 'auto' resolved as trained
    rebuilt = SelfSupConfig(**config)                                            # typed again
    assert plain(dataclasses.asdict(rebuilt)) == config


def test_rows_average_the_loss_terms_over_their_window():
    terms = {"loss": [float(i) for i in range(1, 26)], "d_loss": [-float(i) for i in range(1, 26)]}
    history = {"iterations": 25, "terms": terms, "input_psnr": 20.0,
               "validation": [{"iteration": 7, "psnr": 21.0}, {"iteration": 25, "psnr": 22.0}],
               "log": [{"iteration": i, "elapsed_seconds": i / 10} for i in (7, 10, 20, 25)]}
    rows = phase_record("gan", history)["steps"]
    windows = [(0, 7), (7, 10), (10, 20), (20, 25)]
    for row, (start, end) in zip(rows, windows):
        assert row["losses"]["loss"] == pytest.approx(np.mean(terms["loss"][start:end]))
        assert row["losses"]["d_loss"] == pytest.approx(np.mean(terms["d_loss"][start:end]))
    assert [row.get("validation_psnr") for row in rows] == [21.0, None, None, 22.0]
    assert "input_psnr" not in rows[1] and rows[3]["input_psnr"] == 20.0


def test_figure_of_several_phases_with_and_without_validation(tmp_path):
    plain_phase = {"name": "stage 1", "steps": [{"iteration": i, "elapsed_seconds": i, "losses":
                                                {"loss": 1.0 / i, "critic": -1.0}} for i in (10, 20)]}
    validated = {"name": "stage 2", "steps": [{"iteration": 5, "elapsed_seconds": 1.0, "losses": {"loss": 0.5},
                                               "validation_psnr": float("inf"), "input_psnr": 25.0}]}
    empty = {"name": "nothing", "steps": []}
    for phases in ([plain_phase, validated, empty], [], [empty]):
        files = history_files(phases)
        assert files[HISTORY_PLOT_NAME].startswith(PNG_SIGNATURE)
        document = json.loads(files[HISTORY_NAME])         # strict JSON: the infinite PSNR became null
        assert document["format"] == 1 and [p["name"] for p in document["phases"]] == [p["name"] for p in phases]


def run_loop(blobs, workdir, iterations, **changes):
    pairs = LateralPairs(blobs, patch_size=32, seed=0)
    torch.manual_seed(0)
    settings = TrainSettings(iterations=iterations, batch_size=4, validate_every=7, checkpoint_every=5,
                             device="cpu", **changes)
    return fit(create_model("drcnet", **TINY), pairs.batch_sampler(4), SelfSupLoss(), pairs.validation_set(8),
               settings, workdir)


def test_loop_logs_every_log_every_iterations_every_validation_and_the_end(blobs, tmp_path):
    history = run_loop(blobs, tmp_path / "full", 23)
    logged = [mark["iteration"] for mark in history["log"]]
    expected = sorted({*range(LOG_EVERY, 24, LOG_EVERY), *range(7, 24, 7), 23})
    assert logged == expected
    seconds = [mark["elapsed_seconds"] for mark in history["log"]]
    assert seconds == sorted(seconds) and seconds[-1] <= history["elapsed_seconds"]
    # the finished checkpoint returns the same log on a rerun
    assert [mark["iteration"] for mark in run_loop(blobs, tmp_path / "full", 23)["log"]] == expected


def test_recipe_configs_are_train_settings_and_feed_the_loop_unchanged():
    for kind in (SelfSupConfig, Supervised3DConfig, ArbitraryScaleConfig, DegradationLearningConfig):
        assert issubclass(kind, TrainSettings)
    config = ArbitraryScaleConfig(lr=3e-4, warmup=7, validate_every=9)
    settings = settings_from(config, 6)
    assert type(settings) is TrainSettings and settings.batch_size == 6
    loop_fields = [f.name for f in dataclasses.fields(TrainSettings)]
    for name in loop_fields:
        if name != "batch_size":
            assert getattr(settings, name) == getattr(config, name), name
    assert settings.iterations == ArbitraryScaleConfig().iterations != TrainSettings().iterations   # recipe default
    settings.iterations = 1                          # a phase may change its copy (the GAN phase does)
    assert config.iterations == ArbitraryScaleConfig().iterations
