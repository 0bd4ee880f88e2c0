"""The recipe registry: every training method, what it learns from, its config and its defaults.

Like the model registry (:mod:`isovox.models.registry`), one table says everything the rest of
isovox needs to know about a recipe, so nothing branches per method by hand:
:func:`isovox.training.train` checks and passes the inputs from :attr:`Recipe.inputs`, the CLI
builds its ``--method`` help, default network and option checks from :attr:`Recipe.summary`,
:attr:`Recipe.default_arch` and :attr:`Recipe.options`, and ``--set`` is typed against
:meth:`Recipe.config_class`. The recipe's module is imported only when it is used, so the table
loads without torch.

Adding a recipe: write ``recipes/NAME.py`` with a config dataclass and a
``train_NAME(inputs, output_dir, config=None, *, overwrite, resume, workdir, **overrides)``
function, then add one :class:`Recipe` entry below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ...errors import IsovoxError
from ...volume import Volume

#: What a recipe learns from (the first arguments of its function):
ONE_VOLUME = "volume"               # one anisotropic volume
VOLUMES = "volumes"                 # one or more anisotropic volumes
VOLUME_AND_TRUTH = "volume+truth"   # an anisotropic volume and its isotropic ground truth
REFERENCES = "references"           # isotropic reference volumes only

#: The CLI options shared by several recipes; each recipe lists those it takes (Recipe.options).
SHARED_OPTIONS = ("target_spacing", "recipe", "fwhm", "noise", "artifacts", "minutes", "factor", "axes", "gan")


@dataclass(frozen=True)
class Recipe:
    """One training method (see the module docstring).

    ``options``: the shared CLI options (:data:`SHARED_OPTIONS`) that apply; ``required``: those
    that must be given; ``hints``: what to do instead, for an option that does not apply;
    ``renamed``: an option stored under another config field (``fwhm`` is ``thickness`` for
    supervised3d);
    ``estimates``: whether ``recipe='auto'`` is estimated from the volume (else 'auto' means the
    recipe's own default); ``stage_iterations``: config fields that ``iterations=N`` budgets too
    (multi-stage recipes: a small N means a short run), as (field, divisor, cap): the field gets
    ``min(ceil(N / divisor), cap)``.
    """

    name: str
    summary: str
    paper: str
    module: str
    function: str
    config: str
    inputs: str
    default_arch: str
    options: frozenset = frozenset()
    required: frozenset = frozenset()
    hints: Mapping[str, str] = field(default_factory=dict)
    renamed: Mapping[str, str] = field(default_factory=dict)
    estimates: bool = False
    stage_iterations: tuple[tuple[str, int, int | None], ...] = ()

    def _module(self) -> Any:
        return importlib.import_module(f"{__package__}.{self.module}")

    def train_function(self) -> Callable[..., Any]:
        return getattr(self._module(), self.function)

    def config_class(self) -> type:
        return getattr(self._module(), self.config)

    def arguments(self, volume: Any, ground_truth: Any, highres: Any) -> tuple:
        """The recipe function's leading arguments, or a one-line error for inputs it does not take."""
        name = self.name
        if self.inputs == REFERENCES:
            if highres is None or volume is not None or ground_truth is not None:
                raise IsovoxError(f"method {name!r} learns from isotropic references: pass highres=[...] "
                                  "and no volume or ground_truth")
            return (highres,)
        if highres is not None:
            raise IsovoxError(f"method {name!r} takes no highres volumes; they are for "
                              f"{_names_taking(REFERENCES)}")
        if volume is None:
            raise IsovoxError(f"method {name!r} needs the anisotropic volume to learn from")
        if not isinstance(volume, Volume) and self.inputs != VOLUMES:
            raise IsovoxError(f"method {name!r} learns from one volume; only {_names_taking(VOLUMES)} takes a list")
        if self.inputs == VOLUME_AND_TRUTH:
            if ground_truth is None:
                raise IsovoxError(f"method {name!r} needs ground_truth= (an isotropic volume on the target grid)")
            return (volume, ground_truth)
        if ground_truth is not None:
            raise IsovoxError(f"method {name!r} trains on the volume alone; ground_truth is for "
                              f"{_names_taking(VOLUME_AND_TRUTH)}")
        return (volume,)

    def stage_budgets(self, iterations: int) -> dict:
        """The config fields that ``iterations`` budgets besides the main loop's."""
        return {name: min(-(-int(iterations) // divisor), cap or iterations)
                for name, divisor, cap in self.stage_iterations}


_SELFSUP_OPTIONS = frozenset({"target_spacing", "recipe", "fwhm", "noise", "artifacts", "minutes"})

RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (
    Recipe("selfsup", "learn from the volume's own lateral planes", "001 (A2I-3DEM)",
           "selfsup", "train_selfsup", "SelfSupConfig", ONE_VOLUME, "drcnet",
           options=_SELFSUP_OPTIONS, estimates=True),
    Recipe("paired2d", "the oracle: true axial planes of a ground truth (benchmarks)", "001 (A2I-3DEM)",
           "selfsup", "train_paired", "SelfSupConfig", VOLUME_AND_TRUTH, "drcnet",
           options=frozenset({"target_spacing", "minutes"})),
    Recipe("supervised3d", "a 3D network learned from isotropic references given with --hr", "004 (mDCSRN)",
           "supervised3d", "train_supervised3d", "Supervised3DConfig", REFERENCES, "mdcsrn",
           options=frozenset({"recipe", "fwhm", "minutes", "factor", "axes", "gan"}), required=frozenset({"factor"}),
           hints={"target_spacing": "the references set the grid; give --factor",
                  "noise": "it is a self-supervised augmentation", "artifacts": "it is a self-supervised augmentation"},
           renamed={"fwhm": "thickness"},
           stage_iterations=(("gan_iterations", 1, None), ("critic_warmup", 1, 1500))),
    Recipe("arbitrary-scale", "one Meta-SRGAN for any factor; --set scale_min=, scale_max=, vgg_weights=PATH, "
           "adversarial_weight=", "002 (Meta-SRGAN)",
           "arbitrary_scale", "train_arbitrary_scale", "ArbitraryScaleConfig", ONE_VOLUME, "meta-srgan",
           options=frozenset({"recipe", "minutes"}),
           hints={"target_spacing": "one model serves any target; give it to reconstruct",
                  "fwhm": "the profile scales with the factor; use --set profile_ratio=R"}),
    Recipe("degradation-learning", "a CycleGAN learns the real axial degradation first; --set cycle_iterations=N",
           "000 (Deng et al.)", "degradation_learning", "train_degradation_learning", "DegradationLearningConfig",
           ONE_VOLUME, "drcnet", options=frozenset({"target_spacing", "minutes"}),
           hints={"recipe": "the degradation is learned", "fwhm": "the degradation is learned"},
           stage_iterations=(("cycle_iterations", 1, None),)),
    Recipe("vae-two-stage", "VAE slice interpolation then a 3D generator; one or more inputs", "003 (Xuan et al.)",
           "vae_two_stage", "train_vae_two_stage", "VAETwoStageConfig", VOLUMES, "mdcsrn-b4u4k12",
           options=frozenset({"factor"}), renamed={"iterations": "stage2_iterations"},
           hints={"target_spacing": "use --factor; stage II takes one slice of K, paper 003",
                  "minutes": "budgets are iterations (--iterations for stage II, --set warmup_iterations=...)"},
           stage_iterations=(("warmup_iterations", 3, None), ("adversarial_iterations", 3, None),
                             ("compact_iterations", 3, None))),
)}


def _names_taking(inputs: str) -> str:
    return " or ".join(repr(r.name) for r in RECIPES.values() if r.inputs == inputs)


def list_recipes() -> list[str]:
    return list(RECIPES)


def recipe_info(name: str) -> Recipe:
    """The registry entry of ``name``, or a one-line error naming the choices."""
    if name not in RECIPES:
        raise IsovoxError(f"unknown training method {name!r}; choose one of {', '.join(RECIPES)}")
    return RECIPES[name]


def takers(option: str) -> list[str]:
    """The recipes that take a shared CLI option."""
    return [r.name for r in RECIPES.values() if option in r.options]


def method_help(recipes: Sequence[Recipe] | None = None) -> str:
    """One line per recipe for ``--method`` help: name (paper): summary."""
    return "; ".join(f"{r.name} ({r.summary}; paper {r.paper})" for r in (recipes or RECIPES.values()))
