"""The summary `isovox info MODEL_DIR` prints: from the card, the history where there is one."""

import json

import torch

from isovox.model_summary import CARD_NAME, is_model_folder, model_summary, summary_lines
from isovox.models import create_model
from isovox.store import CONFIG_NAME, HISTORY_NAME, ModelCard, save_model


def folder_with(tmp_path, training, history=None):
    torch.manual_seed(0)
    model = create_model("drcnet", n_feats=8, n_blocks=1)
    card = ModelCard(method="supervised3d", architecture=model.build_config, factor=2.0, lowres_spacing=2.0,
                     target_spacing=1.0, unit="mm", normalisation={"low": 0.0, "high": 1.0}, training=training)
    extra = {} if history is None else {HISTORY_NAME: json.dumps({"format": 1, "phases": history}).encode()}
    return save_model(tmp_path / "model", model, card, extra_files=extra)


def lines_of(summary):
    return dict(line.strip().split(": ", 1) for line in summary_lines(summary))


def test_a_card_without_training_entries_is_summarised(tmp_path):
    folder = folder_with(tmp_path, {})
    assert CARD_NAME == CONFIG_NAME          # the light check for a model folder looks for the card
    assert is_model_folder(folder) and not is_model_folder(tmp_path) and not is_model_folder(folder / "weights.pt")
    summary = model_summary(folder)
    assert summary["training"]["iterations"] is None and summary["history_plot"] is None
    lines = lines_of(summary)
    assert lines["iterations"] == "not recorded" and lines["last validation PSNR"] == "no validation"
    assert lines["normalisation"] == "low 0, high 1" and lines["architecture"].startswith("drcnet (preset default)")
    assert lines["history"].startswith("none")


def test_the_last_validation_comes_from_the_last_phase_of_the_history(tmp_path):
    # an L1 phase (the card's top level) then a GAN phase (nested): the GAN's is the last validation
    training = {"iterations": 6, "minutes": 0.5, "final_loss": 0.2, "final_validation_psnr": 20.0,
                "input_validation_psnr": 25.0, "budget": {"iterations": 6, "minutes": None},
                "settings": {"iterations": 6, "minutes": None},
                "gan": {"iterations": 3, "minutes": 0.1, "final_terms": {"loss": 0.1, "critic": -1.0},
                        "final_validation_psnr": 22.0}}
    rows = [{"iteration": 3, "elapsed_seconds": 1.0, "losses": {"loss": 0.1}, "validation_psnr": 22.0,
             "input_psnr": 25.0}]
    history = [{"name": "l1", "steps": []}, {"name": "gan", "steps": rows}]
    summary = model_summary(folder_with(tmp_path, training, history))
    assert summary["training"]["validation_psnr"] == 22.0 and summary["training"]["input_psnr"] == 25.0
    assert list(summary["training"]["phases"]) == ["gan"]          # budget and settings are not phases
    lines = lines_of(summary)
    assert lines["last validation PSNR"] == "22.00 dB, cubic input 25.00 dB (-3.00 dB)"
    assert lines["final losses"] == "loss 0.2"
    assert lines["gan phase"].startswith("3 iterations") and "validation PSNR 22.00 dB" in lines["gan phase"]
    # without a history (an old folder) the card's top-level validation is the one shown
    (tmp_path / "model" / HISTORY_NAME).unlink()
    assert model_summary(tmp_path / "model")["training"]["validation_psnr"] == 20.0
