"""From the CLI's training options to one recipe call, by the rules of the recipe registry.

``train`` and ``run`` share the options below; which of them a method takes, which it needs,
what it calls them in its config and what it learns from are read from
:mod:`isovox.training.recipes.registry`, so a new recipe needs no code here, and every method
works through both commands with the same rules.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..errors import IsovoxError
from ..training.recipes.registry import (REFERENCES, RECIPES, VOLUME_AND_TRUTH, VOLUMES, Recipe, method_help,
                                         recipe_info, takers)

_FLAGS = {"target_spacing": "--target-spacing", "recipe": "--recipe", "fwhm": "--fwhm", "noise": "--noise",
          "artifacts": "--artifacts", "minutes": "--minutes", "factor": "--factor", "axes": "--axes", "gan": "--gan"}
# the CLI's defaults for the shared options: a value equal to it was not given
_DEFAULTS: dict[str, Any] = {"recipe": "auto", "axes": "z", "noise": 0.0, "artifacts": False, "gan": False}


def training_method_help(for_run: bool = False) -> str:
    """The ``--method`` help, from the registry (``run`` lists only what learns from the volume)."""
    recipes = [r for r in RECIPES.values() if not for_run or r.inputs not in (REFERENCES, VOLUME_AND_TRUTH)]
    suffix = "; supervised3d and paired2d learn from references: use train" if for_run else ""
    return "training recipe: " + method_help(recipes) + suffix


def arch_default_help() -> str:
    """'[default: drcnet; mdcsrn for supervised3d; ...]' from the registry."""
    others = [f"{r.default_arch} for {r.name}" for r in RECIPES.values() if r.default_arch != "drcnet"]
    return f"[default: drcnet; {'; '.join(others)}]"


def _given(name: str, value: Any) -> bool:
    return value is not None and value != _DEFAULTS.get(name)


def check_shared_options(recipe: Recipe, shared: dict) -> None:
    """Refuse, in one line, a shared option the method does not take, or one it needs and lacks."""
    refused = [name for name, value in shared.items() if name not in recipe.options and _given(name, value)]
    if refused:
        name = refused[0]
        users = takers(name)
        where = f"it is for --method {', '.join(users)}" if users else "no method takes it"
        hint = recipe.hints.get(name)
        raise IsovoxError(f"{_FLAGS[name]} does not apply to --method {recipe.name}; {where}"
                          + (f" ({hint})" if hint else ""))
    missing = [name for name in sorted(recipe.required) if not _given(name, shared.get(name))]
    if missing:
        raise IsovoxError(f"--method {recipe.name} needs {', '.join(_FLAGS[n] for n in missing)}")


def recipe_options(recipe: Recipe, shared: dict, common: dict) -> dict:
    """The recipe's config fields: ``common`` (fields every recipe has) and the shared options it
    takes, renamed where its config calls them otherwise. 'auto' for a recipe that does not
    estimate the acquisition means the recipe's own default."""
    check_shared_options(recipe, shared)
    options = dict(common)
    for name, value in shared.items():
        if name not in recipe.options or (name in ("noise", "artifacts") and not value):
            continue
        if name == "recipe" and value == "auto" and not recipe.estimates:
            continue
        options[recipe.renamed.get(name, name)] = value
    if "iterations" in options and "iterations" in recipe.renamed:
        options[recipe.renamed["iterations"]] = options.pop("iterations")
    return options


def recipe_inputs(recipe: Recipe, paths: Sequence, hr_given: bool, read: Callable[[Any], Any]) -> dict:
    """The volumes argument of the training call (``volume=`` or ``highres=``), read from ``paths``."""
    if recipe.inputs == REFERENCES:
        if not paths:
            raise IsovoxError(f"--method {recipe.name} needs isotropic reference volumes: --hr VOL [VOL ...]")
        return dict(volume=None, highres=[read(path) for path in paths])
    if hr_given:
        raise IsovoxError(f"--hr is for --method {', '.join(r.name for r in RECIPES.values() if r.inputs == REFERENCES)}, "
                          f"not {recipe.name}")
    if recipe.inputs == VOLUME_AND_TRUTH:
        raise IsovoxError(f"--method {recipe.name} trains on a ground truth: use the Python API, "
                          f"isovox.train(volume, DIR, method={recipe.name!r}, ground_truth=...)")
    if recipe.inputs == VOLUMES:
        if not paths:
            raise IsovoxError(f"--method {recipe.name} learns from one or more anisotropic volumes given as inputs")
        volumes = [read(path) for path in paths]
        return dict(volume=volumes if len(volumes) > 1 else volumes[0])
    if len(paths) != 1:
        raise IsovoxError(f"--method {recipe.name} learns from one anisotropic volume; got {len(paths)} inputs")
    return dict(volume=read(paths[0]))


def stage_budgets(recipe: Recipe, options: dict, iterations: int | None) -> None:
    """``--iterations N`` budgets every stage of a multi-stage recipe (a small N means a short
    run), unless ``--set`` gave a stage its own."""
    if iterations is not None:
        for name, value in recipe.stage_budgets(iterations).items():
            options.setdefault(name, value)


def check_method(method: str) -> Recipe:
    return recipe_info(method)
