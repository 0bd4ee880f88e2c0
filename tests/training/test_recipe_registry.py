import dataclasses
import inspect

import numpy as np
import pytest

from isovox.errors import IsovoxError
from isovox.training import train
from isovox.training.recipes.registry import RECIPES, SHARED_OPTIONS, method_help, recipe_info
from isovox.volume import Volume


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_resolves_to_its_function_and_typed_config(name):
    recipe = recipe_info(name)
    function, config = recipe.train_function(), recipe.config_class()
    assert callable(function) and dataclasses.is_dataclass(config)
    assert "config" in inspect.signature(function).parameters
    fields = {f.name for f in dataclasses.fields(config)}
    assert set(recipe.options) <= set(SHARED_OPTIONS)
    # renamed options and stage budgets name real config fields
    assert set(recipe.renamed.values()) <= fields
    assert {field for field, _, _ in recipe.stage_iterations} <= fields
    assert name in method_help()


def test_unknown_method_names_the_choices():
    with pytest.raises(IsovoxError, match="choose one of selfsup, paired2d"):
        recipe_info("magic")


def test_stage_budgets_follow_the_iterations():
    assert recipe_info("vae-two-stage").stage_budgets(5) == {
        "warmup_iterations": 2, "adversarial_iterations": 2, "compact_iterations": 2}
    assert recipe_info("supervised3d").stage_budgets(4000) == {"gan_iterations": 4000, "critic_warmup": 1500}
    assert recipe_info("selfsup").stage_budgets(10) == {}


def test_train_refuses_inputs_the_recipe_does_not_take(tmp_path):
    volume = Volume(np.zeros((8, 16, 16), np.float32), (4, 1, 1), "nm")
    with pytest.raises(IsovoxError, match="learns from isotropic references"):
        train(volume, tmp_path / "m", method="supervised3d")
    with pytest.raises(IsovoxError, match="needs ground_truth"):
        train(volume, tmp_path / "m", method="paired2d")
    with pytest.raises(IsovoxError, match="only 'vae-two-stage' takes a list"):
        train([volume, volume], tmp_path / "m", method="selfsup")
    with pytest.raises(IsovoxError, match="ground_truth is for 'paired2d'"):
        train(volume, tmp_path / "m", method="arbitrary-scale", ground_truth=volume)
    with pytest.raises(IsovoxError, match="they are for 'supervised3d'"):
        train(volume, tmp_path / "m", highres=[volume])
    assert not (tmp_path / "m").exists()
