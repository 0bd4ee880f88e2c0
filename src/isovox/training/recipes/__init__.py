"""Training recipes: each turns volumes into a model folder (:mod:`isovox.store`).

:mod:`.registry` lists them all (loads without torch); a recipe's own module loads when used.
"""

from ...lazy import lazy_exports

_LAZY = {"SelfSupConfig": "isovox.training.recipes.selfsup", "train_paired": "isovox.training.recipes.selfsup",
         "train_selfsup": "isovox.training.recipes.selfsup"}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
