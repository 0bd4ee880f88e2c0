"""The dock widget: pick an image layer, check its spacing, choose a method, reconstruct.

The work runs in a child process (:mod:`.background`) followed from a napari worker thread, so
the viewer stays responsive, the status line and progress bar move, and Cancel stops the work
itself, not only the display of its result. The result is added as a new image layer on the
output grid (scale = output spacing, translate = the source's origin), with an uncertainty layer
when asked for. Bad input (a 2D, RGB or isotropic layer, a spacing that does not parse) is
refused before anything starts, with one line in the status and a napari notification.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import (CheckBox, ComboBox, Container, FileEdit, FloatSpinBox, Label, LineEdit, ProgressBar,
                              PushButton)
from napari.layers import Image
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info

from ..errors import IsovoxError
from ..resample import METHODS as INTERPOLATIONS
from ..units import OME_NAMES
from .background import BackgroundJob, Outcome, Progress
from .jobs import MODEL, TRAIN, Request, Result, describe_result
from .layers import check_layer, extra_transform, image_layer_data, layer_grid, look_of, volume_from_layer

METHOD_CHOICES = [(f"{name} interpolation", name) for name in INTERPOLATIONS] + [
    ("trained model folder", MODEL),
    ("train on this volume, then reconstruct", TRAIN),
]
UNITS = tuple(OME_NAMES)                  # isovox's canonical length units
PROGRESS_STEPS = 1000                     # resolution of the progress bar when the stage has a duration


class ReconstructionWidget(Container):
    """isovox in napari: an image layer in, its isotropic reconstruction added as a layer."""

    def __init__(self, napari_viewer: Any) -> None:
        self.viewer = napari_viewer
        self.layer = ComboBox(label="image", choices=self._image_layers)
        self.spacing = LineEdit(label="spacing z, y, x", tooltip="voxel size per axis (the layer's scale); edit "
                                "it when the file did not say it")
        self.unit = ComboBox(label="unit", choices=UNITS, value="nm")
        self.method = ComboBox(label="method", choices=METHOD_CHOICES, value="cubic")
        self.model_folder = FileEdit(label="model folder", mode="d", nullable=True,
                                     tooltip="a folder written by 'isovox train' (config.json + weights.pt)")
        self.minutes = FloatSpinBox(label="minutes", value=5.0, min=0.1, max=10_000.0, step=1.0,
                                    tooltip="training budget in minutes (the default self-supervised recipe)")
        self.save_model_to = FileEdit(label="save model to", mode="d", nullable=True,
                                      tooltip="where to keep the trained model (empty: a temporary folder)")
        self.uncertainty = CheckBox(text="add an uncertainty layer (4x the network time)")
        self.run_button = PushButton(text="Reconstruct")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(min=0, max=PROGRESS_STEPS, visible=False)
        self.status = Label(value="")
        super().__init__(widgets=[self.layer, self.spacing, self.unit, self.method, self.model_folder, self.minutes,
                                  self.save_model_to, self.uncertainty, self.run_button, self.cancel_button,
                                  self.progress, self.status])
        self.status.native.setWordWrap(True)
        self._job: BackgroundJob | None = None
        self._source: dict[str, Any] = {}
        self.layer.changed.connect(self._show_layer_grid)
        self.method.changed.connect(self._show_method_options)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed,
                      napari_viewer.layers.events.reordered):
            event.connect(self._refresh_layers)
        self._refresh_layers()
        self._show_layer_grid(self.layer.value)
        self._show_method_options(self.method.value)

    # --- what the user sees --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._job is not None

    def _image_layers(self, _widget: Any = None) -> list[tuple[str, Image]]:
        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, Image)]

    def _refresh_layers(self, _event: Any = None) -> None:
        # keeps the chosen layer (and a spacing typed for it) when another layer comes or goes
        self.layer.reset_choices()

    def _show_layer_grid(self, layer: Image | None) -> None:
        """Fill spacing and unit from the chosen layer (the unit only where the layer names one)."""
        if layer is None:
            return
        spacing, unit = layer_grid(layer)
        self.spacing.value = ", ".join(f"{value:.10g}" for value in spacing)
        if unit is not None:
            self.unit.value = unit

    def _show_method_options(self, method: str) -> None:
        self.model_folder.visible = method == MODEL
        self.minutes.visible = self.save_model_to.visible = method == TRAIN
        self.uncertainty.visible = method in (MODEL, TRAIN)

    def _say(self, text: str) -> None:
        self.status.value = text

    def _report_error(self, message: str) -> None:
        self._say(f"error: {message}")
        show_error(f"isovox: {message}")

    # --- starting, following, stopping -----------------------------------------------------------
    def start(self) -> None:
        """Check the input, then reconstruct in the background (nothing happens while running)."""
        if self.running:
            return
        try:
            request = self._request()
        except IsovoxError as error:
            self._report_error(str(error))
            return
        layer = self.layer.value
        label = {MODEL: "model", TRAIN: "trained"}.get(request.method, request.method)
        # taken now: the layer may be renamed, restyled or removed while the work runs
        self._source = dict(name=f"{layer.name} isotropic ({label})", look=look_of(layer),
                            transform=extra_transform(layer))
        self._job = BackgroundJob(request)
        # a widget deleted with its viewer leaves no work behind (the job's method: the widget is going)
        self.native.destroyed.connect(self._job.cancel)
        self._set_running(True)
        follow = thread_worker(self._job.follow, connect={"yielded": self._show_progress, "returned": self._finish,
                                                          "errored": self._crashed})
        follow()

    def cancel(self) -> None:
        """Stop the running reconstruction; its result, if it comes anyway, is not added."""
        if self._job is not None:
            self._job.cancel()
            self._say("cancelling...")

    def _request(self) -> Request:
        layer = self.layer.value
        if layer is None:
            raise IsovoxError("open a 3D image first (File > Open, or File > Open Sample > isovox)")
        check_layer(layer)                       # before the spacing: a 2D layer's has two values
        volume = volume_from_layer(layer, self._spacing(), self.unit.value)
        method = self.method.value
        folder = {MODEL: self.model_folder.value, TRAIN: self.save_model_to.value}.get(method)
        return Request(volume, method, model_folder=folder, minutes=self.minutes.value,
                       uncertainty=self.uncertainty.value and method in (MODEL, TRAIN))

    def _spacing(self) -> tuple[float, ...]:
        text = self.spacing.value
        try:
            values = tuple(float(part) for part in text.replace(",", " ").split())
        except ValueError:
            values = ()
        if len(values) != 3:
            raise IsovoxError(f"spacing needs three numbers z, y, x (e.g. 40, 4, 4), got {text!r}")
        return values

    def _set_running(self, running: bool) -> None:
        self.run_button.enabled = not running
        self.cancel_button.enabled = running
        self.progress.visible = running
        if running:
            self._show_progress(Progress("starting"))

    def _show_progress(self, progress: Progress) -> None:
        fraction = progress.fraction
        if fraction is None:                       # unknown duration: Qt's busy indicator
            self.progress.native.setRange(0, 0)
        else:
            self.progress.native.setRange(0, PROGRESS_STEPS)
            self.progress.native.setValue(round(fraction * PROGRESS_STEPS))
        if not (self._job and self._job.cancel_requested):
            self._say(progress.describe())

    def _finish(self, outcome: Outcome) -> None:
        self._job = None
        self._set_running(False)
        if outcome.status == "done":
            self._add_result(outcome.result)
            self._say(describe_result(outcome.result))
        elif outcome.status == "cancelled":
            self._say(outcome.message)
            show_info(f"isovox: {outcome.message}")
        else:
            self._report_error(outcome.message)

    def _crashed(self, error: Exception) -> None:
        self._job = None
        self._set_running(False)
        self._report_error(f"internal error: {type(error).__name__}: {error}")

    def _add_result(self, result: Result) -> None:
        name, transform = self._source["name"], self._source["transform"]
        data, options, _ = image_layer_data(result.volume, name, **self._source["look"], **transform)
        self.viewer.add_image(data, **options)
        if result.uncertainty is not None:
            data, options, _ = image_layer_data(result.uncertainty, f"{name} uncertainty", colormap="magma",
                                                blending="additive", **transform)
            self.viewer.add_image(data, **options)
