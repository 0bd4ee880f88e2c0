"""Exporters: a trained model folder as files that other software runs without isovox.

* :func:`export_torchscript`: the 2D network as one TorchScript file (``torch.jit.load``).
* :func:`export_bioimageio`: a BioImage Model Zoo package (model format 0.5: ``rdf.yaml``,
  TorchScript weights, test tensors, README.md, cover), for deepImageJ, ilastik, bioimageio.core.

Both support 2D slice-wise models (the pre-upsampled convention); 3D and arbitrary-scale models
are refused with a one-line error. Nothing in isovox imports this package: it sits on top of the
public API (:mod:`isovox.store`, :mod:`isovox.reconstruction`).
"""

from .bioimageio import export_bioimageio
from .network import SUPPORTED, export_torchscript

__all__ = ["SUPPORTED", "export_bioimageio", "export_torchscript"]
