"""Draw docs/figures/napari_widget.png: the isovox widget docked in napari beside its result.

The CREMI sample (File > Open Sample > isovox) is cropped to its central 320 x 320 window, as
``isovox demo`` does; the widget trains on it for ``--minutes`` and reconstructs it; the viewer then
shows an axial (z, x) plane of the acquired sections and of the result side by side.

napari draws with OpenGL, which Qt's offscreen platform lacks, so run it on a virtual screen:

    xvfb-run -a -s "-screen 0 1600x1000x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python scripts/napari_screenshot.py docs/figures/napari_widget.png

(Debian: ``apt-get install xvfb libxcb-icccm4 libxcb-keysyms1``.)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

WINDOW = (1600, 960)
CROP = 320


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--minutes", type=float, default=1.0, help="training budget")
    args = parser.parse_args()

    import napari
    from qtpy.QtWidgets import QApplication
    from skimage.io import imsave

    from isovox.io.atomic import atomic_output
    from isovox.napari.sample import cremi_sample

    viewer = napari.Viewer(title="isovox in napari")
    [(data, options, _)] = cremi_sample()
    _, height, width = data.shape
    top, left = (height - CROP) // 2, (width - CROP) // 2
    options["name"] = "cremi"
    layer = viewer.add_image(data[:, top:top + CROP, left:left + CROP], **options)
    _, widget = viewer.window.add_plugin_dock_widget("isovox", "Isotropic reconstruction")
    widget.layer.value = layer
    widget.method.value = "train"
    widget.minutes.value = args.minutes
    widget.run_button.native.click()
    while widget.running:                         # the viewer's event loop, by hand
        QApplication.processEvents()
        time.sleep(0.05)
    print(widget.status.value)

    viewer.dims.order = (1, 0, 2)                 # show (z, x) planes: the axis isovox refines is vertical
    viewer.dims.set_point(1, (CROP // 2) * options["scale"][1])
    viewer.grid.enabled = True                    # one panel per layer: acquired beside reconstructed
    viewer.window.resize(*WINDOW)
    viewer.reset_view()
    viewer.camera.zoom *= 1.25                    # the panels, not the black around them
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    with atomic_output(args.output, suffix=".png", overwrite=True) as scratch:
        imsave(scratch, viewer.screenshot(canvas_only=False), check_contrast=False)
    print(f"wrote {args.output}")
    viewer.close()


if __name__ == "__main__":
    main()
