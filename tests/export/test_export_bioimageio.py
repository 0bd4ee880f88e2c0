"""BioImage Model Zoo export: the zoo's own validator accepts the package, its network reproduces
isovox, and following its README reproduces `isovox reconstruct`."""

import io
import zipfile

import numpy as np
import pytest
import torch
import yaml
from bioimageio.spec import load_description

from isovox.errors import IsovoxError
from isovox.export import export_bioimageio
from isovox.export.bioimageio import FORMAT_VERSION, README_FILE, RDF_FILE, WEIGHTS_FILE
from isovox.export.network import EXPORT_ATOL, open_exportable
from isovox.reconstruction import open_model
from isovox.resample import resample
from isovox.volume import Volume


@pytest.fixture
def http_requests(monkeypatch):
    """Every HTTP request the zoo's tools try, refused and recorded: CI has no internet, and a
    package that only validates online is not a self-contained package."""
    import httpx

    attempts = []

    def refuse(method, url=None, *args, **kwargs):
        attempts.append(str(url))
        raise httpx.ConnectError(f"no network in the tests ({url})")

    monkeypatch.setattr(httpx, "request", refuse)
    monkeypatch.setattr(httpx, "stream", refuse)
    return attempts


def package_contents(path):
    with zipfile.ZipFile(path) as package:
        return {name: package.read(name) for name in package.namelist()}


def npy(payload):
    return np.load(io.BytesIO(payload), allow_pickle=False)


def run_package(files, plane_batch):
    """The package applied as a zoo consumer does: preprocessing, the TorchScript weights,
    postprocessing, all read from rdf.yaml."""
    rdf = yaml.safe_load(files[RDF_FILE])
    (pre,), (post,) = rdf["inputs"][0]["preprocessing"], rdf["outputs"][0]["postprocessing"]
    network = torch.jit.load(io.BytesIO(files[WEIGHTS_FILE]))
    x = plane_batch.astype(np.float32) * np.float32(pre["kwargs"]["gain"]) + np.float32(pre["kwargs"]["offset"])
    with torch.inference_mode():
        y = network(torch.from_numpy(x)).numpy()
    return y * np.float32(post["kwargs"]["gain"]) + np.float32(post["kwargs"]["offset"])


def validate(path):
    description = load_description(path, perform_io_checks=True)
    return description, description.validation_summary


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
@pytest.mark.parametrize("name", ["drcnet", "a2i"])
def test_package_validates_offline_and_reproduces_isovox(name, model_folder, tmp_path, http_requests):
    folder = model_folder(name)
    path = export_bioimageio(folder, tmp_path / f"{name}.zip", authors=["Ada Lovelace"])
    description, summary = validate(path)
    assert summary.status in ("valid-format", "passed"), summary.format()
    assert str(description.format_version) == FORMAT_VERSION
    warnings = [w.msg for detail in summary.details for w in detail.warnings]
    assert all("maintainers" in message for message in warnings), warnings    # every FAIR field filled
    assert http_requests == []

    files = package_contents(path)
    test_input, test_output = npy(files["test_input.npy"]), npy(files["test_output.npy"])
    assert test_input.shape == test_output.shape and test_input.shape[:2] == (1, 1)
    model = open_exportable(folder)
    expected = model.predict_raw(test_input[0, 0])
    tolerance = EXPORT_ATOL * model.normalisation.scale
    np.testing.assert_allclose(run_package(files, test_input)[0, 0], expected, rtol=1e-5, atol=tolerance)
    np.testing.assert_allclose(test_output[0, 0], expected, rtol=1e-5, atol=tolerance)
    readme = files[README_FILE].decode()
    assert "cubic" in readme and "factor of 4" in readme and "## Validation" in readme


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_following_the_readme_reproduces_isovox_reconstruct(model_folder, tmp_path):
    folder = model_folder("isonet2")                   # pads planes to its pooling grid
    volume = Volume(np.random.default_rng(0).random((6, 18, 21)).astype(np.float32) * 200 + 20,
                    (40.0, 10.0, 10.0), "nm")
    reference = open_model(folder, device="cpu").reconstruct(volume, dtype=np.float32, progress=False).numpy()
    files = package_contents(export_bioimageio(folder, tmp_path / "m.zip"))

    # README: interpolate the low-resolution axis (cubic), raw intensities...
    interpolated = resample(volume, (10.0, 10.0, 10.0), "cubic", dtype=np.float32).numpy()
    # ...predict the xz planes (stacked along y) and the yz planes (along x), rows = z...
    xz = run_package(files, np.moveaxis(interpolated, 1, 0)[:, None])[:, 0]
    yz = run_package(files, np.moveaxis(interpolated, 2, 0)[:, None])[:, 0]
    # ...put them back and average the two families.
    fused = (np.moveaxis(xz, 0, 1) + np.moveaxis(yz, 0, 2)) / 2
    assert fused.shape == reference.shape
    np.testing.assert_allclose(fused, reference, rtol=1e-5, atol=1e-3)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_bioimageio_core_runs_the_package(model_folder, tmp_path, http_requests):
    from bioimageio.core import test_description

    path = export_bioimageio(model_folder("isonet2"), tmp_path / "isonet2.zip")
    summary = test_description(path, weight_format="torchscript", devices=["cpu"])
    assert summary.status == "passed", summary.format()
    assert http_requests == []


def test_test_plane_comes_from_the_sample_volume(model_folder, tmp_path):
    folder = model_folder("drcnet")
    data = np.random.default_rng(1).integers(0, 255, (18, 40, 70)).astype(np.uint8)
    volume = Volume(data, (40.0, 10.0, 10.0), "nm")
    files = package_contents(export_bioimageio(folder, tmp_path / "m.zip", sample=volume))
    plane = npy(files["test_input.npy"])[0, 0]
    side = plane.shape[0]
    # the middle xz plane of isovox's interpolation of the whole volume, central window
    interpolated = resample(volume, (10.0, 10.0, 10.0), "cubic", dtype=np.float32).numpy()
    rows, columns = (interpolated.shape[0] - side) // 2, (data.shape[2] - side) // 2
    expected = interpolated[rows:rows + side, data.shape[1] // 2, columns:columns + side]
    np.testing.assert_allclose(plane, expected, rtol=1e-6, atol=1e-4)

    wrong_spacing = Volume(data, (30.0, 10.0, 10.0), "nm")
    with pytest.raises(IsovoxError, match="factor"):
        export_bioimageio(folder, tmp_path / "other.zip", sample=wrong_spacing)


def test_identity_normalisation_has_no_scaling_step(model_folder, tmp_path, http_requests):
    # the format refuses a scale_linear with gain 1 and offset 0
    path = export_bioimageio(model_folder("drcnet", low=0.0, high=1.0), tmp_path / "unit.zip")
    rdf = yaml.safe_load(package_contents(path)[RDF_FILE])
    assert rdf["inputs"][0]["preprocessing"] == [] and rdf["outputs"][0]["postprocessing"] == []
    _, summary = validate(path)
    assert summary.status in ("valid-format", "passed"), summary.format()


def test_bad_requests_are_refused_before_any_work(model_folder, tmp_path):
    folder = model_folder("drcnet")
    with pytest.raises(IsovoxError, match="zip"):
        export_bioimageio(folder, tmp_path / "model.tar")
    with pytest.raises(IsovoxError, match="name"):
        export_bioimageio(folder, tmp_path / "m.zip", name="isovox x2.5")
    with pytest.raises(IsovoxError, match="authors"):
        export_bioimageio(folder, tmp_path / "m.zip", authors=["a/b"])
    with pytest.raises(IsovoxError, match="SPDX"):
        export_bioimageio(folder, tmp_path / "m.zip", license="CC BY 4")
    with pytest.raises(IsovoxError, match="2D slice-wise"):
        export_bioimageio(model_folder("mdcsrn"), tmp_path / "m.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["drcnet-selfsup", "mdcsrn-selfsup"])


def test_a_failed_write_leaves_nothing_behind(model_folder, tmp_path, monkeypatch):
    folder = model_folder("drcnet")

    def broken_yaml(*args, **kwargs):
        raise OSError("disk went away")

    monkeypatch.setattr(yaml, "safe_dump", broken_yaml)
    with pytest.raises(OSError, match="disk went away"):
        export_bioimageio(folder, tmp_path / "m.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drcnet-selfsup"]
