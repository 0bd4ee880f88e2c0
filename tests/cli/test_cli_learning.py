"""train / run / reconstruct --model from the command line, and their bad inputs."""

import json

import numpy as np
import pytest

from isovox import io
from isovox.cli import main
from isovox.volume import Volume


def run(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def blobs(shape=(10, 64, 64), spacing=(4, 1, 1), path=None):
    rng = np.random.default_rng(0)
    from scipy.ndimage import gaussian_filter
    data = gaussian_filter(rng.random(shape), 2) * 255 * 4
    data = np.clip(data - data.mean() + 128, 0, 255).astype(np.uint8)
    return io.write(Volume(data, spacing, "nm"), path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    source = blobs(path=folder / "lr.tif")
    assert main(["train", str(source), "-o", str(folder / "model"), "--iterations", "8",
                 "--patch-size", "32", "--batch-size", "2"]) == 0
    return source, folder / "model"


def test_train_then_reconstruct_with_the_model(trained, tmp_path, capsys):
    source, model = trained
    code, out, err = run(["reconstruct", source, "-o", tmp_path / "iso.tif", "--model", model], capsys)
    assert code == 0, err
    result = io.read(tmp_path / "iso.tif")
    assert result.shape == (37, 64, 64) and result.spacing == (1, 1, 1)
    card = json.loads((model / "config.json").read_text())
    assert card["method"] == "selfsup" and card["factor"] == 4.0 and card["training"]["iterations"] == 8


def test_model_trained_for_another_factor_is_refused(trained, tmp_path, capsys):
    _, model = trained
    other = blobs(shape=(8, 64, 64), spacing=(6.5, 1, 1), path=tmp_path / "other.tif")
    out = tmp_path / "iso.tif"
    code, _, err = run(["reconstruct", other, "-o", out, "--model", model], capsys)
    assert code == 2 and "factor 4" in err and "6.5" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_model_folder_with_unknown_architecture(trained, tmp_path, capsys):
    source, model = trained
    broken = tmp_path / "broken"
    broken.mkdir()
    card = json.loads((model / "config.json").read_text())
    card["architecture"]["name"] = "not-a-net"
    (broken / "config.json").write_text(json.dumps(card))
    (broken / "weights.pt").write_bytes((model / "weights.pt").read_bytes())
    code, _, err = run(["reconstruct", source, "-o", tmp_path / "x.tif", "--model", broken], capsys)
    assert code == 2 and "unknown architecture 'not-a-net'" in err


def test_factor_needing_more_lateral_extent_than_the_volume_has(tmp_path, capsys):
    narrow = blobs(shape=(6, 20, 20), spacing=(10, 1, 1), path=tmp_path / "narrow.tif")
    code, _, err = run(["train", narrow, "-o", tmp_path / "m", "--iterations", "2"], capsys)
    assert code == 2 and "factor 10" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_interrupted_training_says_how_to_resume(tmp_path, capsys, monkeypatch):
    import isovox.training as training
    from isovox.training import TrainingInterrupted

    def interrupted(*args, **kwargs):
        raise TrainingInterrupted("training interrupted at iteration 7; run the same command again to resume")

    monkeypatch.setattr(training, "train", interrupted)
    source = blobs(path=tmp_path / "lr.tif")
    code, _, err = run(["train", source, "-o", tmp_path / "m", "--iterations", "50"], capsys)
    assert code == 130 and "resume" in err and err.startswith("error: ")


def test_run_trains_and_reconstructs(tmp_path, capsys):
    source = blobs(path=tmp_path / "lr.tif")
    code, _, err = run(["run", source, "-o", tmp_path / "iso.tif", "--iterations", "4"], capsys)
    assert code == 0, err
    assert (tmp_path / "iso_model" / "weights.pt").is_file()
    assert io.read(tmp_path / "iso.tif").spacing == (1, 1, 1)


def test_supervised3d_from_references_then_reconstruct_a_kspace_volume(tmp_path, capsys):
    """Paper 004's setting end to end: k-space truncation 2x2 in y and x, a 3D model, restoration."""
    from isovox.pairs3d import degrade_axes
    reference = blobs(shape=(30, 30, 30), spacing=(1, 1, 1), path=tmp_path / "hr.tif")
    code, out, err = run(["train", "--method", "supervised3d", "--factor", "2", "--axes", "yx", "--recipe",
                          "kspace", "-o", tmp_path / "model", "--iterations", "3", "--patch-size", "12",
                          "--batch-size", "2", "--set", 'model_kwargs={"blocks": 1, "units": 2, "growth": 4}',
                          "--hr", reference, reference], capsys)
    assert code == 0, err
    assert "supervised3d model, mdcsrn" in out
    assert f"training curves: {tmp_path / 'model' / 'history.png'}" in out
    card = json.loads((tmp_path / "model" / "config.json").read_text())
    assert card["degradation"]["axes"] == ["y", "x"] and card["degradation"]["volumes"] == 2
    lowres = io.write(degrade_axes(io.read(reference), "kspace", (1, 2), 2), tmp_path / "lr.tif")
    code, out, err = run(["reconstruct", lowres, "-o", tmp_path / "iso.tif", "--model", tmp_path / "model"], capsys)
    assert code == 0, err
    result = io.read(tmp_path / "iso.tif")
    assert result.shape == (30, 29, 29) and result.spacing == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("args, message", [
    (["--method", "supervised3d", "--hr", "REF"], "needs --factor"),
    (["--method", "supervised3d", "--factor", "2"], "needs isotropic reference volumes"),
    (["REF", "--factor", "2"], "it is for --method supervised3d"),
    (["REF", "--set", "lr"], "KEY=VALUE"),
    (["REF", "--method", "magic"], "unknown training method"),
])
def test_bad_training_requests(args, message, tmp_path, capsys):
    reference = blobs(shape=(20, 20, 20), spacing=(1, 1, 1), path=tmp_path / "hr.tif")
    code, _, err = run(["train", *[reference if a == "REF" else a for a in args], "-o", tmp_path / "m"], capsys)
    assert code == 2 and message in err and not (tmp_path / "m").exists()


def test_arbitrary_scale_model_reconstructs_at_any_target_spacing(tmp_path, capsys):
    source = blobs(shape=(12, 64, 64), spacing=(4, 1, 1), path=tmp_path / "lr.tif")
    code, out, err = run(["train", source, "--method", "arbitrary-scale", "-o", tmp_path / "meta", "--iterations",
                          "3", "--patch-size", "32", "--batch-size", "2", "--set",
                          'model_kwargs={"n_feats": 8, "n_blocks": 1}'], capsys)
    assert code == 0, err
    for target, slices in ((1.6, 28), (2.0, 23)):           # factors 2.5 and 2 with one model
        code, out, err = run(["reconstruct", source, "-o", tmp_path / f"iso{target}.tif", "--model", tmp_path / "meta",
                              "--target-spacing", target], capsys)
        assert code == 0, err
        assert io.read(tmp_path / f"iso{target}.tif").shape == (slices, 64, 64)
    code, _, err = run(["train", source, "--method", "arbitrary-scale", "-o", tmp_path / "m2", "--fwhm", "3"], capsys)
    assert code == 2 and "profile_ratio" in err
