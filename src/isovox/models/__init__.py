"""isovox model zoo: networks mapping an axial plane to the same plane at isotropic resolution.

Build models by name through the registry::

    from isovox.models import create_model, list_models, model_info
    net = create_model("a2i")                  # small CPU default
    net = create_model("a2i", preset="paper")  # the paper's size

2D family (``model_info(name).family == "2d"``): input (N, C, H, W), rows H = the
low-resolution axis (z), columns W = a lateral axis.

* ``drcnet``, ``isonet1``, ``isonet2``, ``vdsr`` (:mod:`.slice2d`) and ``a2i``
  (:mod:`.transformer`): pre-upsampled input, same-size output.
* ``edsr``, ``rdn``, ``rcan`` (:mod:`.sr2d`): pre-upsampled with the default ``scale=1``, or
  one-axis up-sampling (H*scale rows, W unchanged) with an integer ``scale > 1``.

isovox feeds pre-upsampled planes by default for every model, as that handles non-integer
factors (paper 001, sec. II-A). This package depends on torch, numpy and the standard library
only (no isovox I/O, degradation or training code).

The registry also holds the networks that help train the reconstruction networks, each with a
role (``model_info(name).role``; :func:`list_models` lists them with ``role=None`` or their role):

* critics: ``critic3d`` (:mod:`.discriminators`), ``srgan-discriminator`` (:mod:`.srgan`),
  ``slice_critic`` (:mod:`.vae`), ``d_l`` and ``d_h`` (:mod:`.cyclegan`);
* degradation: ``g_hl`` and ``g_hl_profile`` (:mod:`.cyclegan`);
* vae: ``slice_vae`` (:mod:`.vae`); feature-extractor: ``vgg19`` (:mod:`.vgg`).
"""

from __future__ import annotations

from . import slice2d, sr2d, srgan, transformer  # noqa: F401  (importing registers the models)
from . import dense3d, resnet3d  # noqa: F401  (the 3D family registers on import)
from . import cyclegan, discriminators, vae, vgg  # noqa: F401  (critics, VAE, G_hl, VGG19 register)
from .registry import (
    ARBITRARY_SCALE,
    CONVENTIONS,
    CRITIC,
    DEGRADATION,
    FAMILIES,
    FEATURE_EXTRACTOR,
    ONE_AXIS_UPSAMPLING,
    PREUPSAMPLED,
    RECONSTRUCTION,
    ROLES,
    VAE,
    ModelInfo,
    create_model,
    list_models,
    model_info,
    register_model,
)
from .slice2d import VDSR, DRCNet, IsoNet1, IsoNet2
from .sr2d import EDSR, RCAN, RDN
from .transformer import A2ITransformer

__all__ = [
    "ARBITRARY_SCALE",
    "CONVENTIONS",
    "CRITIC",
    "DEGRADATION",
    "FAMILIES",
    "FEATURE_EXTRACTOR",
    "ONE_AXIS_UPSAMPLING",
    "PREUPSAMPLED",
    "RECONSTRUCTION",
    "ROLES",
    "VAE",
    "ModelInfo",
    "create_model",
    "list_models",
    "model_info",
    "register_model",
    "DRCNet",
    "IsoNet1",
    "IsoNet2",
    "VDSR",
    "EDSR",
    "RDN",
    "RCAN",
    "A2ITransformer",
]
