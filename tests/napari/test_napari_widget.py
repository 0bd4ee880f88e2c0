"""The dock widget on a viewer model: results land on the right grid, bad input is refused, Cancel stops."""

import numpy as np
import pytest
from napari.utils.notifications import notification_manager

from isovox import reconstruct
from isovox.napari.layers import volume_from_layer
from isovox.volume import output_length

from napari_stacks import STACK_ORIGIN, STACK_SPACING, WAIT_MS, smooth_stack

ISOTROPIC = (10.0, 10.0, 10.0)
OUTPUT_SHAPE = (output_length(20, 4), 48, 48)     # 20 sections at 40 nm -> 10 nm


def new_layers(viewer_model, before):
    return [layer for layer in viewer_model.layers if layer not in before]


def test_spacing_and_unit_come_from_the_chosen_layer(widget, stack_layer):
    assert widget.layer.value is stack_layer
    assert widget.spacing.value == "40, 10, 10" and widget.unit.value == "nm"


def test_linear_interpolation_adds_a_layer_on_the_isotropic_grid(widget, viewer_model, stack_layer, run_widget):
    widget.method.value = "linear"
    before = list(viewer_model.layers)
    status = run_widget(widget)
    [result] = new_layers(viewer_model, before)
    assert status.startswith("done") and result.name == "stack isotropic (linear)"
    assert tuple(result.scale) == ISOTROPIC and tuple(result.translate) == STACK_ORIGIN
    assert result.data.shape == OUTPUT_SHAPE and result.data.dtype == np.uint8
    expected = reconstruct(volume_from_layer(stack_layer, STACK_SPACING, "nm"), method="linear")
    np.testing.assert_array_equal(result.data, expected.numpy())
    assert result.contrast_limits == stack_layer.contrast_limits


def test_spacing_typed_in_the_widget_replaces_the_layer_scale(widget, viewer_model, run_widget):
    viewer_model.add_image(smooth_stack(), name="bare")          # a TIFF without metadata: scale 1
    widget.spacing.value = "0.04 0.01 0.01"
    widget.unit.value = "um"
    widget.method.value = "nearest"
    run_widget(widget)
    result = viewer_model.layers[-1]
    np.testing.assert_allclose(result.scale, (0.01, 0.01, 0.01))
    assert result.data.shape == OUTPUT_SHAPE and str(result.units[0]) == "micrometer"
    assert widget.spacing.value == "0.04 0.01 0.01"          # the new layer did not reset what was typed


def test_model_folder_reconstructs_with_the_network(widget, viewer_model, stack_layer, tiny_model, run_widget):
    widget.method.value = "model"
    widget.model_folder.value = tiny_model
    before = list(viewer_model.layers)
    status = run_widget(widget)
    [result] = new_layers(viewer_model, before)
    assert status.startswith("done") and str(tiny_model) in status
    assert tuple(result.scale) == ISOTROPIC and result.data.shape == OUTPUT_SHAPE
    assert not np.array_equal(result.data, reconstruct(volume_from_layer(stack_layer, STACK_SPACING, "nm"),
                                                       method="cubic").numpy())   # the network did something


def test_uncertainty_layer_is_added_when_asked(widget, viewer_model, stack_layer, tiny_model, run_widget):
    widget.method.value = "model"
    widget.model_folder.value = tiny_model
    widget.uncertainty.value = True
    before = list(viewer_model.layers)
    run_widget(widget)
    result, spread = new_layers(viewer_model, before)
    assert spread.name == f"{result.name} uncertainty" and spread.colormap.name == "magma"
    assert spread.data.shape == result.data.shape and tuple(spread.scale) == ISOTROPIC
    assert spread.data.dtype == np.float32 and spread.data.min() >= 0 and spread.data.max() > 0


def test_cancel_stops_training_and_adds_nothing(widget, viewer_model, qtbot):
    # lateral planes of 72 x 72: room for the default 64-pixel training patches
    viewer_model.add_image(smooth_stack((16, 72, 72)), name="wide", scale=STACK_SPACING)
    widget.method.value = "train"
    widget.minutes.value = 30
    before = list(viewer_model.layers)
    widget.run_button.native.click()
    assert widget.running and not widget.run_button.enabled
    qtbot.waitUntil(lambda: widget.status.value.startswith("training"), timeout=WAIT_MS)
    qtbot.wait(3000)
    assert widget.running                             # still training: it did not fail early
    widget.cancel_button.native.click()
    qtbot.waitUntil(lambda: not widget.running, timeout=WAIT_MS)
    assert widget.status.value.startswith("cancelled; nothing was added")
    assert new_layers(viewer_model, before) == [] and widget.run_button.enabled


def error_notifications():
    return [n.message for n in notification_manager.records if n.severity == "error"]


@pytest.mark.parametrize("make_layer, words", [
    (lambda viewer: viewer.add_image(np.zeros((48, 48)), name="plane"), "'plane' is a 2D image"),
    (lambda viewer: viewer.add_image(np.zeros((4, 48, 48, 3), np.uint8), name="colour", rgb=True), "RGB"),
    (lambda viewer: viewer.add_image(smooth_stack(), name="cube", scale=(10, 10, 10)), "already isotropic"),
])
def test_bad_layers_are_refused_in_the_viewer(widget, viewer_model, make_layer, words):
    make_layer(viewer_model)
    errors_before = len(error_notifications())
    layers_before = list(viewer_model.layers)
    widget.run_button.native.click()
    assert not widget.running and new_layers(viewer_model, layers_before) == []
    assert widget.status.value.startswith("error: ") and words in widget.status.value
    assert len(error_notifications()) == errors_before + 1 and words in error_notifications()[-1]


def test_unreadable_spacing_is_refused(widget, stack_layer):
    widget.spacing.value = "40, 10"
    widget.run_button.native.click()
    assert not widget.running and "spacing needs three numbers" in widget.status.value


def test_an_error_in_the_work_is_shown(widget, viewer_model, stack_layer, tmp_path, run_widget):
    widget.method.value = "model"
    widget.model_folder.value = tmp_path             # a folder, but not a model folder
    before = list(viewer_model.layers)
    status = run_widget(widget)
    assert status.startswith("error: ") and "not an isovox model folder" in status
    assert new_layers(viewer_model, before) == [] and "not an isovox model folder" in error_notifications()[-1]
