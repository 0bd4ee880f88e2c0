"""Fixtures of the napari plugin's tests: Qt offscreen, a viewer model, the widget, a tiny model.

The widget is tested on napari's ``ViewerModel`` (layers, no canvas): adding a layer to a full
``napari.Viewer`` draws it with OpenGL, which Qt's offscreen platform does not provide. A full
viewer (``napari_viewer``, without layers) is used where the window itself matters: docking the
widget through the plugin manifest. napari's own pytest plugin (``make_napari_viewer``) is off for
the whole repository (pyproject.toml says why), so the viewer fixture is made here.
"""

import os

import pytest
from napari_stacks import STACK_ORIGIN, STACK_SPACING, WAIT_MS, smooth_stack

# no screen on CI: Qt draws offscreen unless told otherwise (set before the first QApplication)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
def tiny_model(tmp_path_factory, save_tiny_model):
    """A 2D model folder (small drcnet, random weights) for stacks like ``stack_layer`` (factor 4)."""
    folder = tmp_path_factory.mktemp("napari_model") / "model"
    return save_tiny_model(folder, factor=4.0, lowres=STACK_SPACING[0], target=STACK_SPACING[1])
