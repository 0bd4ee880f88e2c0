import json

import pytest
import torch

from isovox.errors import IsovoxError
from isovox.models import create_model
from isovox.store import ModelCard, load_model, read_card, save_model


def card_for(model, **changes):
    values = dict(method="selfsup", architecture=model.build_config, factor=4.0, lowres_spacing=40.0,
                  target_spacing=10.0, unit="nm", normalisation={"low": 0.0, "high": 255.0})
    values.update(changes)
    return ModelCard(**values)


def test_save_then_load_gives_the_same_network(tmp_path):
    torch.manual_seed(0)
    model = create_model("drcnet")
    folder = save_model(tmp_path / "m", model, card_for(model))
    loaded, card = load_model(folder)
    x = torch.rand(1, 1, 20, 24)
    assert torch.equal(model.eval()(x), loaded(x))
    assert card.factor == 4.0 and card.architecture["name"] == "drcnet"
    assert not loaded.training


def test_existing_folder_needs_overwrite_and_nothing_half_written(tmp_path):
    model = create_model("drcnet")
    save_model(tmp_path / "m", model, card_for(model))
    with pytest.raises(IsovoxError, match="overwrite"):
        save_model(tmp_path / "m", model, card_for(model))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_missing_folder_and_not_a_model_folder(tmp_path):
    with pytest.raises(IsovoxError, match="not found"):
        read_card(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IsovoxError, match="not an isovox model folder"):
        read_card(tmp_path / "empty")


def test_unknown_architecture_and_mismatched_weights(tmp_path):
    model = create_model("drcnet")
    folder = save_model(tmp_path / "m", model, card_for(model))
    config = json.loads((folder / "config.json").read_text())
    config["architecture"]["name"] = "resnet-9000"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(IsovoxError, match="unknown architecture 'resnet-9000'"):
        load_model(folder)
    other = create_model("vdsr")
    config["architecture"] = other.build_config       # weights of drcnet, card says vdsr
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(IsovoxError, match="do not fit"):
        load_model(folder)


def test_card_missing_fields_is_a_clear_error(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"method": "selfsup"}))
    with pytest.raises(IsovoxError, match="lacks architecture"):
        read_card(folder)



def test_a_bare_folder_without_history_or_training_record_loads(tmp_path):
    from isovox.store import HISTORY_NAME, TRAINING_CONFIG_NAME, read_history

    model = create_model("drcnet")
    folder = save_model(tmp_path / "m", model, card_for(model), extra_files={"notes.txt": b"kept"})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "notes.txt", "weights.pt"]
    assert not (folder / HISTORY_NAME).exists() and not (folder / TRAINING_CONFIG_NAME).exists()
    load_model(folder)
    assert read_history(folder) == []


def test_a_damaged_history_is_a_clear_error(tmp_path):
    from isovox.store import HISTORY_NAME, read_history

    model = create_model("drcnet")
    folder = save_model(tmp_path / "m", model, card_for(model))
    (folder / HISTORY_NAME).write_text("{not json")
    with pytest.raises(IsovoxError, match="history.json is not valid JSON"):
        read_history(folder)
    (folder / HISTORY_NAME).write_text(json.dumps({"format": 1, "steps": []}))
    with pytest.raises(IsovoxError, match="no list of phases"):
        read_history(folder)
