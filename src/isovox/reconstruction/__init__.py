"""Reconstruction: anisotropic Volume in, Volume on the target grid out."""

from .api import INTERPOLATION_METHODS, reconstruct, reconstruction_grid

__all__ = ["INTERPOLATION_METHODS", "reconstruct", "reconstruction_grid"]
