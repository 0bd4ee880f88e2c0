"""`isovox info MODEL_DIR`: the model card, readable; old folders too; other folders refused."""

import json
import shutil

from isovox.store import HISTORY_NAME, HISTORY_PLOT_NAME, TRAINING_CONFIG_NAME, load_model, read_card


def fields_of(out):
    """'name: value' lines as a dict."""
    return {name.strip(): value.strip() for name, _, value in (line.partition(":") for line in out.splitlines())}


def test_info_on_a_model_folder_shows_the_card(cli, tiny_model):
    result = cli("info", tiny_model)
    assert result.code == 0, result.err
    shown = fields_of(result.out)
    card = read_card(tiny_model)
    assert shown["method"] == "selfsup"
    assert shown["architecture"].startswith(card.architecture["name"])
    assert shown["factor"] == "4" and shown["unit"] == "nm"
    assert shown["spacing"].startswith("40 -> 10 nm")
    assert f"recipe {card.degradation['recipe']}" in shown["degradation"]
    assert shown["normalisation"].startswith(f"low {card.normalisation.low:.4g}, high {card.normalisation.high:.4g}")
    assert shown["iterations"] == "2" and float(shown["minutes"]) >= 0
    assert shown["final losses"].startswith("loss ")
    psnr, cubic = card.training["final_validation_psnr"], card.training["input_validation_psnr"]
    assert shown["last validation PSNR"] == f"{psnr:.2f} dB, cubic input {cubic:.2f} dB ({psnr - cubic:+.2f} dB)"
    assert shown["history"] == str(tiny_model / HISTORY_PLOT_NAME)
    assert shown["training config"] == str(tiny_model / TRAINING_CONFIG_NAME)


def test_info_json_on_a_model_folder(cli, tiny_model):
    result = cli("info", tiny_model, "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["method"] == "selfsup" and summary["factor"] == 4.0
    assert summary["normalisation"]["low"] < summary["normalisation"]["high"]
    assert summary["training"]["iterations"] == 2 and set(summary["training"]["final_losses"]) == {"loss"}
    assert summary["history_plot"] == str(tiny_model / HISTORY_PLOT_NAME)


def test_info_and_loading_work_on_a_folder_written_before_histories(cli, tiny_model, tmp_path):
    old = tmp_path / "old-model"
    shutil.copytree(tiny_model, old)
    for name in (HISTORY_NAME, HISTORY_PLOT_NAME, TRAINING_CONFIG_NAME):
        (old / name).unlink()
    config = json.loads((old / "config.json").read_text())
    del config["training"]["final_terms"]              # older cards kept only the primary loss
    config["normalisation"].pop("percentiles", None)
    (old / "config.json").write_text(json.dumps(config))
    load_model(old)
    result = cli("info", old)
    assert result.code == 0, result.err
    shown = fields_of(result.out)
    assert shown["method"] == "selfsup" and shown["iterations"] == "2"
    assert shown["final losses"] == f"loss {config['training']['final_loss']:.4g}"
    assert shown["history"].startswith("none") and shown["training config"].startswith("none")


def test_info_on_a_folder_that_is_neither_model_nor_volume(cli, tmp_path):
    (tmp_path / "notes").mkdir()
    cli("info", tmp_path / "notes").one_line_error("neither", "model folder", "volume")


def test_info_on_a_damaged_card_and_volume_options_on_a_model(cli, tiny_model, tmp_path):
    cli("info", tiny_model, "--spacing", 1, 1, 1).one_line_error("model folder")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    cli("info", broken).one_line_error("config.json", "not valid JSON")


def test_info_on_a_volume_is_unchanged(cli, stack):
    result = cli("info", stack)
    assert result.code == 0, result.err
    shown = fields_of(result.out)
    assert shown["shape (z,y,x)"] == "[20, 48, 48]" and shown["unit"] == "nm"
