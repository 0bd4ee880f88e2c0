"""Blockwise outputs as OME-Zarr pyramids: level 0 equals in-memory reconstruction, the lower levels
equal those of writing that result with isovox.io, and a run stopped while building them resumes."""

import numpy as np
import pytest
import zarr

import isovox
from isovox import io
from isovox.blockwise import blockwise_status, reconstruct_blockwise
from isovox.errors import IsovoxError
from isovox.io import pyramid

BLOCK = (7, 9, 5)


def datasets(path):
    return zarr.open_group(str(path), mode="r").attrs["ome"]["multiscales"][0]["datasets"]


def test_blockwise_pyramid_equals_the_written_in_memory_result(tmp_path, volume):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    vol = volume(shape=(9, 21, 17), spacing=(25.0, 10.0, 10.0))
    out = reconstruct_blockwise(vol, tmp_path / "out.ome.zarr", block_size=BLOCK, levels=3, progress=False)
    reference = isovox.reconstruct(vol, "cubic")
    np.testing.assert_allclose(out.numpy(), reference.numpy(), atol=1e-4, rtol=0)
    assert out.spacing == pytest.approx(reference.spacing) and out.origin == pytest.approx(reference.origin)

    written = io.write(reference, tmp_path / "memory.ome.zarr", levels=3)
    image = next(iter(Reader(parse_url(str(tmp_path / "out.ome.zarr")))()))
    memory = next(iter(Reader(parse_url(str(written)))()))
    assert len(image.data) == 3
    assert image.metadata["coordinateTransformations"] == memory.metadata["coordinateTransformations"]
    for level, expected in zip(image.data, memory.data):
        assert level.dtype == reference.dtype
        np.testing.assert_allclose(np.asarray(level), np.asarray(expected), atol=1e-4, rtol=0)


def test_run_stopped_while_building_the_pyramid_resumes_without_recomputing(tmp_path, volume, monkeypatch):
    vol = volume(shape=(9, 21, 17))
    out = tmp_path / "out.zarr"
    real = pyramid.fill_level

    def stopped(*args, **kwargs):
        raise OSError("device error")

    monkeypatch.setattr(pyramid, "fill_level", stopped)
    with pytest.raises(OSError, match="device error"):
        reconstruct_blockwise(vol, out, block_size=BLOCK, levels=3, progress=False, detect_defects=False)
    assert not out.exists()
    status = blockwise_status(out)
    assert status["state"] == "incomplete" and status["done"] == status["total"]

    monkeypatch.setattr(pyramid, "fill_level", real)
    result = reconstruct_blockwise(vol, out, block_size=BLOCK, levels=2, progress=False, detect_defects=False)
    assert blockwise_status(out) == {"state": "complete"}
    assert [d["path"] for d in datasets(out)] == ["0", "1"]            # fewer levels this time: no stale "2"
    assert sorted(name for name, _ in zarr.open_group(str(out), mode="r").arrays()) == ["0", "1"]
    np.testing.assert_allclose(result.numpy(), isovox.reconstruct(vol, "cubic").numpy(), atol=1e-4)


def test_impossible_level_count_is_refused_before_any_block(tmp_path, volume):
    vol = volume(shape=(4, 3, 3), spacing=(25.0, 10.0, 10.0))
    with pytest.raises(IsovoxError, match="pyramid levels"):
        reconstruct_blockwise(vol, tmp_path / "out.zarr", block_size=BLOCK, levels=9, progress=False)
    assert list(tmp_path.iterdir()) == []
