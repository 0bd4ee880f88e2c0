"""A model folder as a BioImage Model Zoo package (a zip with ``rdf.yaml``, model format 0.5).

The package runs the 2D network on single planes, axes ``(batch, channel, y, x)`` with rows
``y`` = the low-resolution axis, exactly as slice-wise reconstruction does (paper 001, Fig. 2 D).
What the user must do before (cubic interpolation along the low-resolution axis, cutting axial
planes) and after (stacking, fusing both plane families) is written in the package's README.md
(:mod:`.documentation`), because the model format cannot express it.

Intensities: the package takes *raw* intensities. The card's normalisation
``(v - low) / (high - low)`` is the preprocessing ``scale_linear`` with gain ``1 / (high - low)``
and offset ``-low / (high - low)``; its inverse, gain ``high - low`` and offset ``low``, is the
postprocessing. A fixed linear map was chosen over the format's per-image normalisations
(``zero_mean_unit_variance``, percentiles) because the network learned one fixed range: per-image
statistics would shift intensities whenever a plane's content changes. isovox normalises before
interpolating and the package after; both steps are linear, so the order changes only float
rounding.

Contents of the zip (all hashed with SHA-256 in ``rdf.yaml``): the TorchScript weights
(:mod:`.network`), a test plane and isovox's own prediction of it (``.npy``, shape
(1, 1, H, W), float32: the format's test tensors, before preprocessing and after
postprocessing), README.md, and a 2:1 cover image (test input | test output). The card is kept
under ``config.isovox``. Nothing here needs the ``bioimageio.spec`` package; the tests validate
the result with it.
"""

from __future__ import annotations

import hashlib
import io
import re
import string
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import yaml

from ..errors import IsovoxError
from ..store import ModelCard
from ..units import OME_NAMES, canonical_unit
from ..volume import Volume
from .documentation import card_axis, readme_text
from .network import ExportableModel, intensity_range, open_exportable, save_torchscript, traced_network
from .planes import plane_side, synthetic_plane, volume_plane

#: Model description format written (the bioimageio.spec release that implements it validates it;
#: later 0.5 releases read it too).
FORMAT_VERSION = "0.5.12"

RDF_FILE = "rdf.yaml"
WEIGHTS_FILE = "weights_torchscript.pt"
TEST_INPUT_FILE = "test_input.npy"
TEST_OUTPUT_FILE = "test_output.npy"
SAMPLE_INPUT_FILE = "sample_input.tif"
SAMPLE_OUTPUT_FILE = "sample_output.tif"
README_FILE = "README.md"
COVER_FILE = "cover.png"

#: Smallest plane side the package declares. The network pads any plane to its size multiple, so
#: smaller planes run too, but a plane narrower than the receptive field is mostly padding.
MIN_SIDE = 16

DEFAULT_AUTHORS = ("isovox",)
DEFAULT_LICENSE = "CC-BY-4.0"

_A2I_3DEM = {"text": "Khateri M, Ghahremani M, Sierra A, Tohka J. Self-supervised super-resolution approach "
                     "for isotropic reconstruction of 3D electron microscopy images from anisotropic "
                     "acquisition (A2I-3DEM). 2023.",
             "doi": "10.48550/arXiv.2309.10646"}
_DEGRADATION_LEARNING = {"text": "Deng S, Fu X, Xiong Z, Chen C, Liu D, Chen X, Ling Q, Wu F. Isotropic "
                                 "reconstruction of 3D EM images with unsupervised degradation learning. "
                                 "MICCAI 2020, LNCS 12265, 163-173.",
                         "doi": "10.1007/978-3-030-59722-1_16"}
# The paper each 2D recipe follows. Slice-wise refinement of pre-interpolated planes is paper
# 001's framework, so a recipe not listed here cites it too.
RECIPE_PAPERS = {"selfsup": _A2I_3DEM, "paired2d": _A2I_3DEM, "degradation-learning": _DEGRADATION_LEARNING}

_NAME_CHARACTERS = set(string.ascii_letters + string.digits + "_+- ()")


def export_bioimageio(folder: str | Path, output: str | Path, *, sample: Volume | None = None,
                      authors: Sequence[str] = DEFAULT_AUTHORS, license: str = DEFAULT_LICENSE,
                      name: str | None = None, overwrite: bool = False) -> Path:
    """Write the model folder as a BioImage Model Zoo package ``output`` (.zip); returns its path.

    ``sample``: a volume the model suits (same spacing as its training volume); its middle axial
    plane, interpolated, becomes the test input. Without one a synthetic texture is used.
    ``authors`` (names), ``license`` (an SPDX identifier) and ``name`` (letters, digits, spaces
    and ``_+-()``) go into the description.
    """
    from ..io.atomic import atomic_output, check_output

    output = Path(output)
    if output.suffix.lower() != ".zip":
        raise IsovoxError(f"a BioImage Model Zoo package is a .zip file; got {output.name}")
    check_output(output, overwrite=overwrite, inputs=[folder])          # before any work
    name = _checked_name(name)
    authors = _checked_authors(authors)
    if not re.fullmatch(r"[A-Za-z0-9.+-]+", license):
        raise IsovoxError(f"license must be an SPDX identifier such as CC-BY-4.0 or MIT, got {license!r}")
    model = open_exportable(folder)
    files = package_files(model, sample)
    description = model_description(model, files, authors, license, name)
    with atomic_output(output, suffix=".zip", overwrite=overwrite) as scratch:
        with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED) as package:
            package.writestr(RDF_FILE, yaml.safe_dump(description, sort_keys=False, allow_unicode=True))
            for file_name, payload in files.items():
                package.writestr(file_name, payload)
    return output


def package_files(model: ExportableModel, sample: Volume | None) -> dict[str, bytes]:
    """Every file of the package but ``rdf.yaml``, by name."""
    side = plane_side(model.size_multiple)
    plane = volume_plane(sample, model.card, side) if sample is not None else \
        synthetic_plane(side, model.normalisation)
    prediction = model.predict_raw(plane)
    weights = io.BytesIO()
    save_torchscript(traced_network(model), weights)
    readme = readme_text(model.card, model.normalisation, side, _min_side(model), model.size_multiple,
                         _paper(model.card))
    return {WEIGHTS_FILE: weights.getvalue(), TEST_INPUT_FILE: _npy(plane), TEST_OUTPUT_FILE: _npy(prediction),
            SAMPLE_INPUT_FILE: _tiff(plane), SAMPLE_OUTPUT_FILE: _tiff(prediction),
            README_FILE: readme.encode("utf-8"), COVER_FILE: cover_png(plane, prediction)}


def model_description(model: ExportableModel, files: dict[str, bytes], authors: list[str], license: str,
                      name: str | None) -> dict:
    """The ``rdf.yaml`` content (plain data, in the order the format documents its fields)."""
    card = model.card
    arch = card.architecture.get("name")
    return {
        "type": "model",
        "format_version": FORMAT_VERSION,
        "name": name or f"isovox {card.method} {arch} isotropic reconstruction",
        "description": (f"Refines cubic-interpolated axial planes of an anisotropic volume into isotropic ones: "
                        f"{card.lowres_spacing:g} -> {card.target_spacing:g} {card.unit} along the "
                        f"low-resolution axis (factor {card.factor:g}); isovox {card.method} recipe, {arch} network."),
        "authors": [{"name": author} for author in authors],
        "cite": [_paper(card)],
        "license": license,
        "documentation": _file(README_FILE, files),
        "covers": [_file(COVER_FILE, files)],
        "tags": ["isovox", "isotropic-reconstruction", "super-resolution", "2d", "pytorch", card.method, arch],
        "inputs": [_input_tensor(model, files)],
        "outputs": [_output_tensor(model, files)],
        "weights": {"torchscript": {**_file(WEIGHTS_FILE, files), "pytorch_version": torch.__version__.split("+")[0]}},
        "config": {"isovox": {"card": _card_summary(card), "low_resolution_axis": card_axis(card)}},
    }


def _input_tensor(model: ExportableModel, files: dict[str, bytes]) -> dict:
    card = model.card
    scaling = model.normalisation
    gain, offset = 1.0 / scaling.scale, -scaling.low / scaling.scale
    return {
        "id": "plane",
        "description": f"axial plane, raw intensities, interpolated (cubic) to {card.target_spacing:g} "
                       f"{card.unit} along the rows (the low-resolution axis); see README.md",
        "axes": [{"type": "batch"},
                 {"type": "channel", "channel_names": ["intensity"]},
                 *(_space_axis(axis, {"min": _min_side(model), "step": 1}, card)
                   for axis in ("y", "x"))],
        "test_tensor": _file(TEST_INPUT_FILE, files),
        "sample_tensor": _file(SAMPLE_INPUT_FILE, files),
        "data": {"type": "float32"},
        "preprocessing": _scale_linear(gain, offset),
    }


def _output_tensor(model: ExportableModel, files: dict[str, bytes]) -> dict:
    same_as_input = [_space_axis(axis, {"tensor_id": "plane", "axis_id": axis}, model.card) for axis in ("y", "x")]
    return {
        "id": "isotropic_plane",
        "description": "the refined plane on the same grid, raw intensities (float32, not clipped)",
        "axes": [{"type": "batch"}, {"type": "channel", "channel_names": ["intensity"]}, *same_as_input],
        "test_tensor": _file(TEST_OUTPUT_FILE, files),
        "sample_tensor": _file(SAMPLE_OUTPUT_FILE, files),
        "data": {"type": "float32"},
        "postprocessing": _scale_linear(model.normalisation.scale, model.normalisation.low),
    }


def _space_axis(axis: str, size: dict, card: ModelCard) -> dict:
    """A spatial axis. Rows (y) carry the target spacing; the card does not record the lateral
    spacing, so columns (x) get a unit but no scale."""
    described = {"type": "space", "id": axis, "size": size, "unit": OME_NAMES[canonical_unit(card.unit)]}
    if axis == "y":
        described["scale"] = float(card.target_spacing)
    return described


def _min_side(model: ExportableModel) -> int:
    return max(model.size_multiple, MIN_SIDE)


def _scale_linear(gain: float, offset: float) -> list[dict]:
    """``[scale_linear]``, or nothing for the identity (the format refuses a redundant one)."""
    if gain == 1.0 and offset == 0.0:
        return []
    return [{"id": "scale_linear", "kwargs": {"gain": float(gain), "offset": float(offset)}}]


def _paper(card: ModelCard) -> dict:
    return RECIPE_PAPERS.get(card.method, _A2I_3DEM)


def _card_summary(card: ModelCard) -> dict:
    """The card's fields a package user may want (the training details stay in the model folder)."""
    return {"method": card.method, "architecture": card.architecture, "factor": card.factor,
            "lowres_spacing": card.lowres_spacing, "target_spacing": card.target_spacing, "unit": card.unit,
            "normalisation": intensity_range(card).to_dict(),
            "isovox_version": card.isovox_version}


def _checked_name(name: str | None) -> str | None:
    if name is not None and (not 5 <= len(name) <= 128 or set(name) - _NAME_CHARACTERS):
        raise IsovoxError(f"package name {name!r} must be 5 to 128 letters, digits, spaces or _+-()")
    return name


def _checked_authors(authors: Sequence[str]) -> list[str]:
    names = [str(author).strip() for author in authors]
    if not names or any(not n or "/" in n or "\\" in n for n in names):
        raise IsovoxError(f"authors must be non-empty names without slashes, got {list(authors)!r}")
    return names


def _npy(plane: np.ndarray) -> bytes:
    """A (H, W) plane as the format's (batch, channel, y, x) float32 .npy file."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(plane, dtype=np.float32)[None, None], allow_pickle=False)
    return buffer.getvalue()


def _file(name: str, files: dict[str, bytes]) -> dict:
    """A packaged file as the format references it: its name and SHA-256."""
    return {"source": name, "sha256": hashlib.sha256(files[name]).hexdigest()}


def _tiff(plane: np.ndarray) -> bytes:
    """A plane as a float32 TIFF: the format's sample tensors must be images, not .npy."""
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.asarray(plane, dtype=np.float32))
    return buffer.getvalue()


def cover_png(test_input: np.ndarray, test_output: np.ndarray) -> bytes:
    """Input | output side by side (2:1 for square planes), one grey scale for both."""
    from matplotlib import image

    low, high = np.percentile(test_input, [1, 99])
    buffer = io.BytesIO()
    image.imsave(buffer, np.concatenate([test_input, test_output], axis=1), cmap="gray",
                 vmin=low, vmax=max(high, low + 1e-12), format="png")
    return buffer.getvalue()
