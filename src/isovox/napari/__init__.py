"""The napari plugin: a dock widget that reconstructs an image layer to isotropic spacing.

Installed with ``pip install "isovox[napari]"``; napari finds it through the npe2 manifest
``napari.yaml`` beside this file (entry point ``napari.manifest``). The pieces, from the bottom:

- :mod:`.layers`: napari image layers <-> :class:`isovox.Volume` (spacing, unit, origin), and the
  checks that turn a bad layer into one clear message;
- :mod:`.jobs`: what a reconstruction request does, with the public API only (no napari);
- :mod:`.background`: runs a request in a child process, so Cancel stops it at once;
- :mod:`.widget`: the dock widget (magicgui), which follows the job from a napari worker thread;
- :mod:`.sample`: the CREMI ssTEM sample as napari sample data.

Nothing outside this package imports it, and this ``__init__`` imports nothing, so the child
process of :mod:`.background` loads isovox without napari or Qt.
"""
