"""Fixtures of the napari plugin's tests: Qt offscreen, a viewer model, the widget, a tiny model.

The widget is tested on napari's ``ViewerModel`` (layers, no canvas): adding a layer to a full
``napari.Viewer`` draws it with OpenGL, which Qt's offscreen platform does not provide. A full
viewer (``napari_viewer``, without layers) is used where the window itself matters: docking the
widget through the plugin manifest. napari's own pytest plugin (``make_napari_viewer``) is off for
the whole repository (pyproject.toml says why), so the viewer fixture is made here.
"""

import os

import numpy as np
import pytest
from scipy import ndimage as ndi

# no screen on CI: Qt draws offscreen unless told otherwise (set before the first QApplication)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

STACK_SPACING = (40.0, 10.0, 10.0)
STACK_ORIGIN = (80.0, 5.0, -5.0)
WAIT_MS = 120_000              # generous: the CI machine's two cores are shared


def smooth_stack(shape=(20, 48, 48), seed=0) -> np.ndarray:
    """A smooth random uint8 volume (structure at every scale the tiny networks can see)."""
    data = ndi.gaussian_filter(np.random.default_rng(seed).random(shape), 2)
    return (255 * (data - data.min()) / np.ptp(data)).astype(np.uint8)


@pytest.fixture
def viewer_model():
    from napari.components import ViewerModel

    return ViewerModel()


@pytest.fixture
def napari_viewer(qtbot):
    """A full napari window (not shown), closed after the test."""
    import napari

    viewer = napari.Viewer(show=False)
    yield viewer
    viewer.close()


@pytest.fixture
def stack_layer(viewer_model):
    """A 20 x 48 x 48 uint8 layer at 40 x 10 x 10 nm, its voxel 0 at ``STACK_ORIGIN``."""
    return viewer_model.add_image(smooth_stack(), name="stack", scale=STACK_SPACING, translate=STACK_ORIGIN,
                            units=("nm",) * 3)


@pytest.fixture
def widget(viewer_model, qtbot):
    from isovox.napari.widget import ReconstructionWidget

    reconstruction = ReconstructionWidget(viewer_model)
    qtbot.addWidget(reconstruction.native)
    yield reconstruction
    if reconstruction.running:                 # a failed test leaves no child process behind
        reconstruction.cancel()
        qtbot.waitUntil(lambda: not reconstruction.running, timeout=WAIT_MS)


@pytest.fixture
def run_widget(qtbot):
    """Click Reconstruct and wait (bounded) until the work has ended."""
    def run(widget, timeout=WAIT_MS):
        widget.run_button.native.click()
        qtbot.waitUntil(lambda: not widget.running, timeout=timeout)
        return widget.status.value
    return run


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A selfsup model folder trained for 2 iterations on a stack like ``stack_layer`` (factor 4)."""
    from isovox.training import train
    from isovox.volume import Volume

    folder = tmp_path_factory.mktemp("napari_model") / "model"
    return train(Volume(smooth_stack(), STACK_SPACING, "nm"), folder, iterations=2, patch_size=32, batch_size=2,
                 validation_pairs=4)
