"""Training recipes: each turns volumes into a model folder (:mod:`isovox.store`)."""

from .selfsup import SelfSupConfig, train_paired, train_selfsup

__all__ = ["SelfSupConfig", "train_paired", "train_selfsup"]
