"""Reduced precision: bf16 autocast on CPU stays close to the fp32 reference; bad values refused."""

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

import isovox
from isovox import io
from isovox.cli import main
from isovox.errors import IsovoxError
from isovox.models import create_model
from isovox.reconstruction.arbitrary import ArbitraryScaleModel
from isovox.reconstruction.model import RunOptions
from isovox.reconstruction.precision import check_precision, resolve_precision
from isovox.reconstruction.tiling import predict_planes
from isovox.store import ModelCard, save_model
from isovox.volume import Volume


def smooth_stack(shape=(12, 40, 40), seed=0):
    """A uint8 stack with structure at several scales, 40 x 10 x 10 nm (factor 4)."""
    data = ndi.gaussian_filter(np.random.default_rng(seed).random(shape), 1.5)
    data = (255 * (data - data.min()) / np.ptp(data)).astype(np.uint8)
    return Volume(data, (40, 10, 10), "nm")


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    """A self-supervised model trained briefly (10 iterations, the default drcnet) on ``smooth_stack``."""
    from isovox.training import train

    folder = tmp_path_factory.mktemp("precision") / "model"
    return train(smooth_stack(), folder, iterations=10, patch_size=32, batch_size=2, validation_pairs=2,
                 recipe="gaussian")


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float) -> float:
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(data_range ** 2 / mse)


def test_bf16_is_close_to_fp32_on_a_trained_model(trained_folder):
    vol = smooth_stack(seed=1)
    options = dict(model=trained_folder, device="cpu", dtype="float32")
    fp32 = isovox.reconstruct(vol, precision="fp32", **options).numpy()
    bf16 = isovox.reconstruct(vol, precision="bf16", **options).numpy()
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    assert not np.array_equal(bf16, fp32)                   # autocast really ran the network in bf16
    data_range = float(fp32.max() - fp32.min())
    assert np.abs(bf16 - fp32).max() < 0.05 * data_range
    assert psnr(fp32, bf16, data_range) > 40


def test_bf16_with_tta_and_uncertainty(trained_folder):
    vol = smooth_stack((8, 32, 32), seed=2)
    fp32 = isovox.reconstruction.reconstruct_with_uncertainty(vol, trained_folder, device="cpu", precision="fp32")
    bf16 = isovox.reconstruction.reconstruct_with_uncertainty(vol, trained_folder, device="cpu", precision="bf16")
    assert bf16.uncertainty.dtype == np.float32
    assert psnr(fp32.volume.numpy(), bf16.volume.numpy(), 255.0) > 40


def test_auto_is_fp32_on_cpu_and_bf16_on_cuda():
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"      # the tests' CPU: ISOVOX_CPU_BF16=0
    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    torch.manual_seed(0)
    model = create_model("drcnet", n_feats=8, n_blocks=1)
    planes = np.random.default_rng(0).random((2, 24, 20), dtype=np.float32)
    fp32 = predict_planes(model, planes, device="cpu", precision="fp32")
    np.testing.assert_array_equal(predict_planes(model, planes, device="cpu", precision="auto"), fp32)
    bf16 = predict_planes(model, planes, device="cpu", precision="bf16")
    assert bf16.dtype == np.float32 and not np.array_equal(bf16, fp32)


def test_3d_model_runs_in_bf16(tmp_path):
    torch.manual_seed(0)
    model = create_model("deepresolve", n_feats=4, n_layers=3)
    card = ModelCard(method="test", architecture=model.build_config, factor=2.5, lowres_spacing=25.0,
                     target_spacing=10.0, unit="nm", normalisation={"low": 0.0, "high": 255.0},
                     degradation={"axes": ["z"]})
    folder = save_model(tmp_path / "m3d", model, card)
    vol = Volume(np.random.default_rng(0).normal(100, 30, (9, 15, 13)).astype(np.float32), (25, 10, 10), "nm")
    fp32 = isovox.reconstruct(vol, model=folder, precision="fp32").numpy()
    bf16 = isovox.reconstruct(vol, model=folder, precision="bf16").numpy()
    assert not np.array_equal(bf16, fp32) and psnr(fp32, bf16, float(np.ptp(fp32))) > 30


def test_unknown_precision_and_bf16_arbitrary_scale_are_refused(tmp_path, capsys):
    with pytest.raises(IsovoxError, match="unknown precision 'fp16'"):
        check_precision("fp16")
    with pytest.raises(IsovoxError, match="float32 only"):
        ArbitraryScaleModel.check_options(RunOptions(precision="bf16"))
    source = io.write(smooth_stack(), tmp_path / "lr.tif")
    code = main(["reconstruct", str(source), "-o", str(tmp_path / "iso.tif"), "--precision", "fp16"])
    assert code == 2 and "fp32, bf16, auto" in capsys.readouterr().err
    assert not (tmp_path / "iso.tif").exists()


def test_cli_precision_option(tmp_path, capsys, trained_folder):
    source = io.write(smooth_stack(seed=3), tmp_path / "lr.tif")
    code = main(["reconstruct", str(source), "-o", str(tmp_path / "iso.tif"), "--model", str(trained_folder),
                 "--precision", "bf16", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    reference = isovox.reconstruct(io.read(source), model=trained_folder, device="cpu", precision="bf16")
    np.testing.assert_array_equal(io.read(tmp_path / "iso.tif").numpy(), reference.numpy())


def test_auto_is_bf16_on_a_cpu_with_native_bfloat16(monkeypatch, tmp_path):
    from isovox.reconstruction import precision

    cpuinfo = tmp_path / "cpuinfo"
    for flags, native in (("fpu sse2 avx2 avx512f", False), ("fpu avx512f avx512_bf16", True),
                          ("fpu amx_bf16 amx_tile", True)):
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        monkeypatch.delenv("ISOVOX_CPU_BF16")
        monkeypatch.setattr(precision, "CPUINFO", str(cpuinfo))
        precision.native_bf16_cpu.cache_clear()
        assert precision.native_bf16_cpu() is native
        assert resolve_precision("auto", torch.device("cpu")) == ("bf16" if native else "fp32")
        monkeypatch.undo()
    monkeypatch.setenv("ISOVOX_CPU_BF16", "1")
    precision.native_bf16_cpu.cache_clear()
    assert resolve_precision("auto", torch.device("cpu")) == "bf16"
    monkeypatch.setenv("ISOVOX_CPU_BF16", "0")
    precision.native_bf16_cpu.cache_clear()
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    monkeypatch.setattr(precision, "CPUINFO", str(tmp_path / "absent"))
    monkeypatch.delenv("ISOVOX_CPU_BF16")
    precision.native_bf16_cpu.cache_clear()
    assert precision.native_bf16_cpu() is False                          # unreadable: the safe answer
    precision.native_bf16_cpu.cache_clear()

