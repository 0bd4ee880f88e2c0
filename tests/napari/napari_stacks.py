"""The test volumes and time limits shared by the napari plugin's tests (imported by name: pytest
puts this folder on sys.path; the name is unique across tests/)."""

import numpy as np
from scipy import ndimage as ndi

STACK_SPACING = (40.0, 10.0, 10.0)
STACK_ORIGIN = (80.0, 5.0, -5.0)
WAIT_MS = 120_000              # generous: the CI machine's two cores are shared


def smooth_stack(shape=(20, 48, 48), seed=0) -> np.ndarray:
    """A smooth random uint8 volume (structure at every scale the tiny networks can see)."""
    data = ndi.gaussian_filter(np.random.default_rng(seed).random(shape), 2)
    return (255 * (data - data.min()) / np.ptp(data)).astype(np.uint8)
