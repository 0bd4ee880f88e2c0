"""Image layers <-> Volumes: spacing, unit and origin survive, bad layers get one clear line."""

import numpy as np
import pytest
from napari.layers import Image

from isovox.errors import IsovoxError
from isovox.napari.layers import extra_transform, image_layer_data, layer_grid, look_of, volume_from_layer
from isovox.volume import Volume


def test_grid_is_read_from_scale_and_units():
    layer = Image(np.zeros((4, 5, 6)), scale=(0.04, 0.004, 0.004), units=("um",) * 3)
    assert layer_grid(layer) == ((0.04, 0.004, 0.004), "um")


@pytest.mark.parametrize("units", [None, ("nm", "nm", "um")])
def test_grid_has_no_unit_when_the_layer_names_none(units):
    layer = Image(np.zeros((4, 5, 6)), scale=(40, 4, 4), units=units)      # None: napari's pixels
    assert layer_grid(layer) == ((40.0, 4.0, 4.0), None)


def test_volume_takes_the_given_spacing_and_the_layer_origin():
    data = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6)
    layer = Image(data, scale=(1, 1, 1), translate=(120, -8, 4))
    volume = volume_from_layer(layer, (40, 4, 4), "nm")
    assert volume.spacing == (40, 4, 4) and volume.unit == "nm" and volume.origin == (120, -8, 4)
    np.testing.assert_array_equal(volume.numpy(), data)


def test_layer_data_round_trips_through_a_layer():
    volume = Volume(np.ones((7, 5, 6), np.float32), (10, 10, 10), "um", origin=(3.5, -2, 1))
    data, options, kind = image_layer_data(volume, "result")
    back = volume_from_layer(Image(data, **options), (40, 10, 10), "um")   # back as a stack to reconstruct
    assert kind == "image" and options["name"] == "result"
    assert layer_grid(Image(data, **options)) == ((10, 10, 10), "um")
    assert back.origin == volume.origin and back.shape == volume.shape


def test_look_and_transform_come_from_the_source():
    layer = Image(np.zeros((4, 5, 6)), colormap="magma", contrast_limits=(10, 90), rotate=30)
    assert look_of(layer) == {"colormap": "magma", "contrast_limits": [10, 90]}
    moved = Image(np.zeros((4, 5, 6)), **extra_transform(layer))
    np.testing.assert_allclose(moved.rotate, layer.rotate)


@pytest.mark.parametrize("layer, words", [
    (Image(np.zeros((5, 6))), ["2D", "3D volume"]),
    (Image(np.zeros((4, 5, 6, 3), np.uint8), rgb=True), ["RGB", "Split RGB"]),
    (Image(np.zeros((2, 4, 5, 6))), ["4 dimensions", "3D"]),
    (Image([np.zeros((8, 8, 8)), np.zeros((4, 4, 4))], multiscale=True), ["multiscale"]),
])
def test_layers_that_are_not_one_volume_are_refused(layer, words):
    with pytest.raises(IsovoxError) as error:
        volume_from_layer(layer, (40, 4, 4), "nm")
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("spacing, words", [((4, 4, 4), ["isotropic"]), ((40, 40, 4), ["share the coarsest"])])
def test_spacing_with_nothing_to_reconstruct_says_where_to_fix_it(spacing, words):
    with pytest.raises(IsovoxError, match="set its spacing z, y, x in the widget") as error:
        volume_from_layer(Image(np.zeros((4, 5, 6)), name="flat"), spacing, "nm")
    assert "'flat'" in str(error.value) and all(word in str(error.value) for word in words)
