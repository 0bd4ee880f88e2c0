"""isovox: anisotropic to isotropic 3D volumes, spacing kept end to end."""

__version__ = "0.1.0"
