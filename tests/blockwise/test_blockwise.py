"""Blockwise reconstruction equals in-memory reconstruction: methods, models, inputs, schedulers."""

import numpy as np
import pytest

import isovox
from isovox import io
from isovox.blockwise import reconstruct_blockwise

# Blocks smaller than the volume in every axis, odd and unequal.
BLOCK = (7, 9, 5)


def assert_same_volume(blockwise, reference, atol):
    assert blockwise.shape == reference.shape and blockwise.dtype == reference.dtype
    assert blockwise.spacing == pytest.approx(reference.spacing, rel=1e-12)
    assert blockwise.origin == pytest.approx(reference.origin, rel=1e-12)
    assert blockwise.unit == reference.unit
    np.testing.assert_allclose(blockwise.numpy().astype(float), reference.numpy().astype(float), atol=atol, rtol=0)


@pytest.mark.parametrize("method", ["nearest", "linear", "cubic", "lanczos3"])
def test_interpolation_equals_in_memory_with_non_integer_factor(tmp_path, volume, method):
    vol = volume(shape=(9, 21, 17), spacing=(25.0, 10.0, 10.0))          # factor 2.5
    out = reconstruct_blockwise(vol, tmp_path / "out.zarr", method=method, block_size=BLOCK, progress=False)
    reference = isovox.reconstruct(vol, method)
    assert out.shape == (21, 21, 17) and all(n > b for n, b in zip(out.shape, BLOCK))
    assert_same_volume(out, reference, atol=1e-4)


def test_every_axis_resampled_and_low_res_axis_on_x(tmp_path, volume):
    vol = volume(shape=(13, 11, 8), spacing=(15.0, 12.0, 40.0), dtype=np.uint8)
    target = (10.0, 8.0, 16.0)                                          # factors 1.5, 1.5, 2.5
    out = reconstruct_blockwise(vol, tmp_path / "out.ome.zarr", target_spacing=target, block_size=BLOCK,
                                progress=False)
    reference = isovox.reconstruct(vol, "cubic", target_spacing=target)
    assert_same_volume(out, reference, atol=1)                           # x.5 may round either way
    assert np.mean(out.numpy() != reference.numpy()) < 1e-3


@pytest.mark.parametrize("keep_acquired", [False, True])
def test_2d_model_equals_in_memory(tmp_path, volume, drcnet_folder, keep_acquired):
    vol = volume(shape=(9, 21, 17), spacing=(25.0, 10.0, 10.0))          # factor 2.5
    out = reconstruct_blockwise(vol, tmp_path / "out.zarr", model=drcnet_folder, block_size=BLOCK,
                                keep_acquired=keep_acquired, device="cpu", progress=False)
    reference = isovox.reconstruct(vol, model=drcnet_folder, device="cpu", keep_acquired=keep_acquired)
    assert_same_volume(out, reference, atol=1e-3)
    # the network did change the interpolation, so a missing halo could not go unnoticed
    assert np.abs(reference.numpy() - isovox.reconstruct(vol, "cubic").numpy()).max() > 1


def test_2d_model_with_low_res_axis_y(save_tiny_model, tmp_path, volume):

    folder = save_tiny_model(tmp_path / "m", factor=4.0, lowres=40.0, target=10.0, n_feats=4, n_blocks=2)
    vol = volume(shape=(15, 5, 12), spacing=(10.0, 40.0, 10.0))
    out = reconstruct_blockwise(vol, tmp_path / "out.zarr", model=folder, block_size=(6, 5, 5), progress=False)
    assert_same_volume(out, isovox.reconstruct(vol, model=folder), atol=1e-3)


@pytest.mark.parametrize("suffix", [".zarr", ".h5", ".tif"])
def test_lazy_file_inputs_are_read_region_by_region(tmp_path, volume, suffix):
    vol = volume()
    path = io.write(vol, tmp_path / f"in{suffix}")
    out = reconstruct_blockwise(path, tmp_path / "out.zarr", block_size=BLOCK, progress=False)
    assert_same_volume(out, isovox.reconstruct(io.read(path), "cubic"), atol=1e-4)


@pytest.mark.parametrize("given", ["path", "memory map"])
def test_process_workers_map_the_input_themselves(tmp_path, volume, given):
    vol = volume(shape=(6, 12, 10))
    path = io.write(vol, tmp_path / "in.tif")              # uncompressed: a memory map in each worker
    source = path if given == "path" else io.read(path, lazy=True)
    out = reconstruct_blockwise(source, tmp_path / "out.zarr", block_size=(8, 6, 10), workers=2,
                                processes=True, progress=False)
    assert_same_volume(out, isovox.reconstruct(vol, "cubic"), atol=1e-4)


def test_distributed_cluster_by_its_scheduler_address(tmp_path, volume, drcnet_folder):
    from distributed import LocalCluster

    vol = volume(shape=(6, 12, 10))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        out = reconstruct_blockwise(vol, tmp_path / "out.zarr", model=drcnet_folder, block_size=(8, 6, 10),
                                    scheduler=cluster.scheduler_address, progress=False)
    assert_same_volume(out, isovox.reconstruct(vol, model=drcnet_folder), atol=1e-3)


@pytest.mark.parametrize("arch, kwargs", [("deepresolve", dict(n_feats=4, n_layers=3)),
                                          ("mdcsrn", dict(blocks=1, units=2, growth=2))])   # batch norm
def test_3d_model_equals_in_memory(save_tiny_model, tmp_path, volume, arch, kwargs):

    folder = save_tiny_model(tmp_path / "m", arch, **kwargs)
    vol = volume(shape=(9, 15, 13), spacing=(25.0, 10.0, 10.0))          # factor 2.5
    out = reconstruct_blockwise(vol, tmp_path / "out.zarr", model=folder, block_size=BLOCK, progress=False)
    reference = isovox.reconstruct(vol, model=folder)
    assert_same_volume(out, reference, atol=1e-3)
    assert np.abs(reference.numpy() - isovox.reconstruct(vol, "cubic").numpy()).max() > 1


def test_3d_model_of_two_axes(save_tiny_model, tmp_path, volume):
    from isovox.reconstruction.volumetric import reconstruct_with_model3d
    from isovox.store import load_model

    folder = save_tiny_model(tmp_path / "m", "deepresolve", axes=("y", "x"), n_feats=4, n_layers=3)
    vol = volume(shape=(11, 7, 6), spacing=(10.0, 25.0, 25.0))
    out = reconstruct_blockwise(vol, tmp_path / "out.zarr", model=folder, block_size=BLOCK, progress=False)
    model, card = load_model(folder)
    assert_same_volume(out, reconstruct_with_model3d(vol, model, card, progress=False), atol=1e-3)
    assert out.shape == (11, 16, 13)


@pytest.mark.parametrize("target", [10.0, 7.5])                         # factors 2.5 and 10 / 3
def test_arbitrary_scale_model_equals_in_memory(save_tiny_model, tmp_path, volume, target):
    from isovox.reconstruction.arbitrary import reconstruct_arbitrary

    folder = save_tiny_model(tmp_path / "m", "meta-srgan", method="arbitrary-scale", n_feats=8, n_blocks=1,
                             hidden=8)
    vol = volume(shape=(9, 15, 13), spacing=(25.0, 10.0, 10.0))
    out = reconstruct_blockwise(vol, tmp_path / "out.zarr", model=folder, target_spacing=target,
                                block_size=BLOCK, progress=False)
    reference = reconstruct_arbitrary(vol, folder, target_spacing=target, progress=False)
    assert_same_volume(out, reference, atol=1e-3)
