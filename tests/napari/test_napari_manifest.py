"""The plugin as napari finds it: a valid npe2 manifest, a dock widget, a sample."""

import numpy as np
import tifffile
from npe2 import PluginManifest

from isovox.napari import sample
from isovox.napari.widget import ReconstructionWidget


def test_manifest_is_valid_and_its_commands_import():
    manifest = PluginManifest.from_distribution("isovox")
    manifest.validate_imports()              # every python_name resolves
    assert [w.display_name for w in manifest.contributions.widgets] == ["Isotropic reconstruction"]
    assert [s.key for s in manifest.contributions.sample_data] == ["cremi"]


def test_widget_docks_in_a_viewer_through_the_manifest(napari_viewer):
    dock, widget = napari_viewer.window.add_plugin_dock_widget("isovox", "Isotropic reconstruction")
    assert isinstance(widget, ReconstructionWidget)          # given the viewer (napari passes a proxy)
    widget.run_button.native.click()         # no layer yet: refused at once, nothing started
    assert not widget.running and widget.status.value.startswith("error: open a 3D image first")


def test_sample_opens_with_its_spacing(tmp_path, monkeypatch):
    path = tmp_path / "sample.tif"
    tifffile.imwrite(path, np.zeros((5, 8, 8), np.uint8), photometric="minisblack")   # no spacing, like the real file
    monkeypatch.setattr(sample, "fetch_sample", lambda name: path)   # the real one downloads once
    [(data, options, kind)] = sample.cremi_sample()
    assert kind == "image" and data.shape == (5, 8, 8)
    assert options["scale"] == [40, 4, 4] and options["units"] == ("nm",) * 3
