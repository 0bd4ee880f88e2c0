"""The CREMI ssTEM sample (25 x 625 x 625 voxels at 40 x 4 x 4 nm) as napari sample data.

File > Open Sample > isovox: the same volume as ``isovox demo``, fetched once and cached by
:func:`isovox.datasets.fetch_sample`. The file holds no spacing; the one recorded with the sample
becomes the layer's scale.
"""

from __future__ import annotations

from .. import io
from ..datasets import DEFAULT_SAMPLE, SAMPLES, fetch_sample
from .layers import image_layer_data


def cremi_sample() -> list[tuple]:
    """One image layer: the CREMI sample on its physical grid."""
    sample = SAMPLES[DEFAULT_SAMPLE]
    volume = io.read(fetch_sample(sample.name), spacing=sample.spacing, unit=sample.unit)
    return [image_layer_data(volume, "cremi_image")]
