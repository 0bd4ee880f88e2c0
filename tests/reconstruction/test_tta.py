"""Test-time augmentation and its uncertainty: mirrored variants, un-mirroring, pooling, the
standard deviation's grid, tiling, model folders, blockwise outputs and the command line."""

import numpy as np
import pytest
import torch
from torch import nn

import isovox
from isovox import io
from isovox.blockwise import reconstruct_blockwise
from isovox.cli import main
from isovox.errors import IsovoxError
from isovox.models import create_model
from isovox.reconstruction import (Reconstruction, reconstruct, reconstruct_with_model,
                                   reconstruct_with_model_uncertainty, reconstruct_with_uncertainty)
from isovox.reconstruction.ensemble import FLIPS, VoxelMoments, predict_variants
from isovox.store import ModelCard, save_model
from isovox.volume import Volume
from reconstruction_nets import identity_drcnet, random_drcnet

LOW, HIGH = -1.0, 3.0          # the card's normalisation for the float volumes below


def card_for(model, factor=4.0, lowres=40.0):
    arch = getattr(model, "build_config", {"name": "drcnet", "preset": "default", "kwargs": {}})
    return ModelCard(method="test", architecture=arch, factor=factor, lowres_spacing=lowres, target_spacing=10.0,
                     unit="nm", normalisation={"low": LOW, "high": HIGH})


def volume(shape=(6, 14, 11), spacing=(40, 10, 10), seed=0):
    data = np.random.default_rng(seed).normal(1, 1, shape).astype(np.float32)
    return Volume(data, spacing, "nm", origin=(3.0, -2.0, 5.0))



class Pointwise(nn.Module):
    """Changes every value but is blind to orientation: all mirrored variants agree exactly."""

    def forward(self, x):
        return torch.tanh(3 * x) + 0.5 * x


class ShiftColumns(nn.Module):
    """Moves every plane one column to the right (wrapping): mirrored, it moves them left."""

    def forward(self, x):
        return torch.roll(x, 1, dims=-1)


def run(vol, model, **options):
    return reconstruct_with_model(vol, model, card_for(model), progress=False, **options)


def run_uncertainty(vol, model, **options):
    return reconstruct_with_model_uncertainty(vol, model, card_for(model), progress=False, **options)


# --- the variants and the statistics ----------------------------------------------------------------

def test_four_variants_each_mirrored_back():
    planes = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    seen = []
    predictions = list(predict_variants(lambda p: seen.append(p.copy()) or p * 2, planes, FLIPS))
    assert [tuple(axes) for axes in FLIPS] == [(), (2,), (1,), (1, 2)]    # identity, lateral, axial, both
    np.testing.assert_array_equal(seen[1], planes[:, :, ::-1])
    np.testing.assert_array_equal(seen[2], planes[:, ::-1, :])
    np.testing.assert_array_equal(seen[3], planes[:, ::-1, ::-1])
    for prediction in predictions:                                       # all back on the original grid
        np.testing.assert_array_equal(prediction, planes * 2)


def test_running_moments_equal_numpy_and_are_exactly_zero_for_equal_samples():
    samples = np.random.default_rng(0).normal(5, 2, (8, 3, 4, 5)).astype(np.float32)
    moments = VoxelMoments.zeros(samples.shape[1:], spread=True)
    for count, sample in enumerate(samples, start=1):
        moments.add(sample, count)
    np.testing.assert_allclose(moments.mean, samples.mean(0), atol=1e-5)
    np.testing.assert_allclose(moments.standard_deviation(8), samples.std(0), atol=1e-5)
    same = VoxelMoments.zeros((3, 4), spread=True)
    for count in range(1, 9):
        same.add(np.full((3, 4), 0.1234567, np.float32), count)
    assert np.all(same.standard_deviation(8) == 0)


# --- in memory ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [identity_drcnet(), Pointwise()], ids=["identity", "pointwise"])
def test_orientation_blind_network_gives_the_same_result_and_zero_uncertainty(model):
    vol = volume()
    plain = run(vol, model)
    with_tta = run(vol, model, tta=True)
    np.testing.assert_allclose(with_tta.numpy(), plain.numpy(), atol=1e-6, rtol=0)
    result, spread = run_uncertainty(vol, model)
    np.testing.assert_allclose(result.numpy(), plain.numpy(), atol=1e-6, rtol=0)
    assert np.all(spread.numpy() == 0)                 # exactly: the variants agree to the bit


def test_mean_and_spread_pool_every_variant_of_both_families():
    vol = volume()
    result, spread = run_uncertainty(vol, ShiftColumns())
    # normalised cubic input; xz planes have columns x, yz planes columns y; mirrored columns turn
    # the shift around, mirrored rows leave it: each of the four shifts is two of the eight variants
    cubic = (reconstruct(vol, "cubic").numpy() - LOW) / (HIGH - LOW)
    shifts = np.stack([np.roll(cubic, step, axis) for axis in (2, 1) for step in (1, -1)])
    np.testing.assert_allclose(result.numpy(), LOW + (HIGH - LOW) * shifts.mean(0), atol=1e-5)
    np.testing.assert_allclose(spread.numpy(), (HIGH - LOW) * shifts.std(0), atol=1e-5)
    assert np.mean(spread.numpy() > 1e-3) > 0.99       # random data: neighbours differ almost everywhere


def test_uncertainty_is_a_float32_volume_on_the_output_grid():
    vol = Volume(np.random.default_rng(2).integers(0, 256, (5, 9, 12)).astype(np.uint8), (65, 10, 10), "nm",
                 origin=(1.0, 2.0, 3.0))                                    # factor 6.5
    model = random_drcnet()
    result, spread = reconstruct_with_model_uncertainty(vol, model, card_for(model, 6.5, 65.0), progress=False)
    assert result.dtype == np.uint8 and spread.dtype == np.float32
    assert spread.shape == result.shape == reconstruct(vol, "cubic").shape
    assert spread.spacing == result.spacing and spread.origin == result.origin and spread.unit == result.unit
    assert np.isfinite(spread.numpy()).all() and spread.numpy().max() > 0


def test_tiled_equals_whole_planes_with_tta():
    vol, model = volume((6, 23, 19)), random_drcnet()
    whole = run_uncertainty(vol, model)
    tiled = run_uncertainty(vol, model, tile=8, batch_size=3)
    np.testing.assert_allclose(tiled.volume.numpy(), whole.volume.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(tiled.uncertainty.numpy(), whole.uncertainty.numpy(), atol=1e-5, rtol=0)


def test_acquired_slices_kept_have_zero_uncertainty():
    vol, model = volume(), random_drcnet()
    result, spread = run_uncertainty(vol, model, keep_acquired=True)
    np.testing.assert_array_equal(result.numpy()[::4], vol.numpy())
    assert np.all(spread.numpy()[::4] == 0) and spread.numpy()[1::4].min() > 0


def test_uncertainty_without_tta_is_refused():
    with pytest.raises(IsovoxError, match="spread of the TTA variants"):
        run_uncertainty(volume(), random_drcnet(), tta=False)


# --- model folders, blockwise, command line -----------------------------------------------------------

def folder_card(model, **extra):
    """The card of a factor 2.5 (25 -> 10 nm) model folder for 8-bit-range data."""
    return ModelCard(method="test", architecture=model.build_config, factor=2.5, lowres_spacing=25.0,
                     target_spacing=10.0, unit="nm", normalisation={"low": 0.0, "high": 255.0}, **extra)


@pytest.fixture(scope="module")
def drcnet_folder(tmp_path_factory):
    model = random_drcnet()
    return save_model(tmp_path_factory.mktemp("models") / "drcnet", model, folder_card(model))


def lowres_volume(shape=(9, 21, 17)):
    data = np.random.default_rng(3).normal(100, 30, shape).astype(np.float32)
    return Volume(data, (25.0, 10.0, 10.0), "nm", origin=(3.0, -2.0, 5.0))


def test_model_folder_api(drcnet_folder):
    vol = lowres_volume()
    pair = reconstruct_with_uncertainty(vol, drcnet_folder, device="cpu")
    assert isinstance(pair, Reconstruction)
    with_tta = isovox.reconstruct(vol, model=drcnet_folder, device="cpu", tta=True)
    plain = isovox.reconstruct(vol, model=drcnet_folder, device="cpu")
    np.testing.assert_allclose(pair.volume.numpy(), with_tta.numpy(), atol=1e-6, rtol=0)
    assert np.abs(with_tta.numpy() - plain.numpy()).max() > 1e-3          # the variants did change it
    with pytest.raises(IsovoxError, match="needs a model folder"):
        isovox.reconstruct(vol, tta=True)


def test_tta_on_a_3d_model_is_refused(tmp_path):
    torch.manual_seed(0)
    model = create_model("deepresolve", n_feats=4, n_layers=3)
    folder = save_model(tmp_path / "m3d", model, folder_card(model, degradation={"axes": ["z"]}))
    with pytest.raises(IsovoxError, match="slice-wise 2D models"):
        isovox.reconstruct(lowres_volume(), model=folder, tta=True)


def test_blockwise_tta_and_uncertainty_equal_in_memory(tmp_path, drcnet_folder):
    vol = lowres_volume()
    out = reconstruct_blockwise(vol, tmp_path / "out.zarr", model=drcnet_folder, block_size=(7, 9, 5),
                                uncertainty=tmp_path / "std.zarr", device="cpu", progress=False)
    reference, spread = reconstruct_with_uncertainty(vol, drcnet_folder, device="cpu")
    np.testing.assert_allclose(out.numpy(), reference.numpy(), atol=1e-3, rtol=0)
    written = io.read(tmp_path / "std.zarr")
    assert written.dtype == np.float32 and written.shape == spread.shape
    assert written.spacing == pytest.approx(spread.spacing) and written.origin == pytest.approx(spread.origin)
    np.testing.assert_allclose(written.numpy(), spread.numpy(), atol=1e-3, rtol=0)
    assert not any(p.name.endswith(".isovox-blockwise") for p in tmp_path.iterdir())


def test_blockwise_tta_refuses_a_windowed_network(tmp_path):
    torch.manual_seed(0)
    model = create_model("a2i", embed_dim=8, levels=2, window_size=4)      # works on an 8-pixel grid
    folder = save_model(tmp_path / "a2i", model, folder_card(model))
    with pytest.raises(IsovoxError, match="grid of 8 pixels"):
        reconstruct_blockwise(lowres_volume(), tmp_path / "out.zarr", model=folder, tta=True, progress=False)


def cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz", ".zarr"])
def test_cli_writes_reconstruction_and_uncertainty(tmp_path, capsys, drcnet_folder, suffix):
    source = io.write(lowres_volume(), tmp_path / "lr.tif")
    out, std = tmp_path / f"iso{suffix}", tmp_path / f"std{suffix}"
    code, printed, err = cli(capsys, "reconstruct", source, "-o", out, "--model", drcnet_folder, "--tta",
                             "--uncertainty", std, "--device", "cpu", "--json")
    assert code == 0, err
    assert '"uncertainty"' in printed
    reference, spread = reconstruct_with_uncertainty(io.read(source), drcnet_folder, device="cpu")
    np.testing.assert_allclose(io.read(out).numpy(), reference.numpy(), atol=1e-3)
    np.testing.assert_allclose(io.read(std).numpy(), spread.numpy(), atol=1e-3)


def test_cli_blockwise_writes_both_zarrs(tmp_path, capsys, drcnet_folder):
    source = io.write(lowres_volume(), tmp_path / "lr.tif")
    code, _, err = cli(capsys, "reconstruct", source, "-o", tmp_path / "iso.zarr", "--model", drcnet_folder,
                       "--uncertainty", tmp_path / "std.zarr", "--block-size", 8, "--workers", 1, "--device", "cpu")
    assert code == 0, err
    _, spread = reconstruct_with_uncertainty(io.read(source), drcnet_folder, device="cpu")
    np.testing.assert_allclose(io.read(tmp_path / "std.zarr").numpy(), spread.numpy(), atol=1e-3)
    code, _, err = cli(capsys, "reconstruct", source, "-o", tmp_path / "iso2.zarr", "--model", drcnet_folder,
                       "--uncertainty", tmp_path / "std.tif", "--block-size", 8)
    assert code != 0 and "zarr" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("blockwise", [False, True])
def test_cli_refuses_to_replace_inputs_with_the_uncertainty(tmp_path, capsys, drcnet_folder, blockwise):
    source = io.write(lowres_volume(), tmp_path / "lr.zarr")
    before = io.read(source).numpy().copy()
    extra = ["--block-size", 8] if blockwise else []
    for std in (source, drcnet_folder / "std.zarr", tmp_path / "iso.zarr"):
        code, _, err = cli(capsys, "reconstruct", source, "-o", tmp_path / "iso.zarr", "--model", drcnet_folder,
                           "--uncertainty", std, "--overwrite", *extra)
        assert code != 0 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    np.testing.assert_array_equal(io.read(source).numpy(), before)
    assert not (tmp_path / "iso.zarr").exists() and not (drcnet_folder / "std.zarr").exists()


def test_cli_tta_needs_a_model(tmp_path, capsys):
    source = io.write(lowres_volume(), tmp_path / "lr.tif")
    code, _, err = cli(capsys, "reconstruct", source, "-o", tmp_path / "iso.tif", "--tta")
    assert code != 0 and "--model" in err
