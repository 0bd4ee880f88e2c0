"""Resume records: an interrupted run leaves no output, a rerun skips finished blocks, settings
changes and incomplete outputs are refused."""

import threading

import numpy as np
import pytest

import isovox
from isovox.blockwise import blockwise_status, reconstruct_blockwise
from isovox.errors import IsovoxError


class FlakyArray:
    """An array that counts the regions read from it and fails on read number ``fail_on``."""

    def __init__(self, data, fail_on=None):
        self.data, self.shape, self.dtype, self.fail_on = data, data.shape, data.dtype, fail_on
        self.reads, self.lock = 0, threading.Lock()

    def __getitem__(self, index):
        with self.lock:
            self.reads += 1
            if self.reads == self.fail_on:
                raise RuntimeError("disk error")
        return self.data[index]


def flaky_volume(vol, fail_on=None):
    return vol.replace(data=FlakyArray(vol.numpy(), fail_on))


def test_interrupted_run_leaves_no_output_and_a_rerun_resumes(tmp_path, volume):
    vol = volume(shape=(9, 21, 17))
    out = tmp_path / "out.zarr"
    failing = flaky_volume(vol, fail_on=6)          # one worker: five blocks done, then a failure
    # (defect detection would read the whole input once more; the reads counted here are blocks)
    with pytest.raises(RuntimeError, match="disk error"):
        reconstruct_blockwise(failing, out, block_size=(7, 9, 5), workers=1, progress=False,
                              detect_defects=False)
    assert not out.exists()
    status = blockwise_status(out)
    assert status["state"] == "incomplete" and status["done"] == 5 and status["total"] == 3 * 3 * 4
    with pytest.raises(IsovoxError, match=r"out.zarr is incomplete: .* stopped after 5 of 36 blocks"):
        reconstruct_blockwise(out, tmp_path / "again.zarr", progress=False)

    healthy = flaky_volume(vol)
    result = reconstruct_blockwise(healthy, out, block_size=(7, 9, 5), workers=1, progress=False,
                                   detect_defects=False)
    assert healthy.data.reads == status["total"] - status["done"]     # only the missing blocks
    np.testing.assert_allclose(result.numpy(), isovox.reconstruct(vol, "cubic").numpy(), atol=1e-4)
    assert blockwise_status(out) == {"state": "complete"}
    assert not (tmp_path / ".out.zarr.isovox-blockwise").exists()
    import zarr
    assert zarr.open_group(str(out), mode="r").attrs["isovox"]["blockwise"]["complete"] is True


def test_changed_settings_are_refused_until_resume_is_off(tmp_path, volume):
    vol = volume(shape=(9, 21, 17))
    out = tmp_path / "out.zarr"
    with pytest.raises(RuntimeError):
        reconstruct_blockwise(flaky_volume(vol, fail_on=1), out, block_size=8, workers=1, progress=False,
                              detect_defects=False)
    with pytest.raises(IsovoxError, match=r"unfinished run with other settings \(changed: recipe\)"):
        reconstruct_blockwise(vol, out, method="linear", block_size=8, progress=False)
    result = reconstruct_blockwise(vol, out, method="linear", block_size=8, resume=False, progress=False)
    np.testing.assert_allclose(result.numpy(), isovox.reconstruct(vol, "linear").numpy(), atol=1e-4)


def test_existing_output_needs_overwrite_and_is_replaced_only_when_complete(tmp_path, volume):
    vol = volume(shape=(6, 10, 10))
    out = tmp_path / "out.zarr"
    reconstruct_blockwise(vol, out, method="nearest", progress=False)
    with pytest.raises(IsovoxError, match="exists; pass --overwrite"):
        reconstruct_blockwise(vol, out, progress=False)
    with pytest.raises(RuntimeError):
        reconstruct_blockwise(flaky_volume(vol, fail_on=1), out, block_size=4, overwrite=True, progress=False)
    before = isovox.read(out).numpy()                                  # the old output is untouched
    np.testing.assert_array_equal(before, isovox.reconstruct(vol, "nearest").numpy())
    reconstruct_blockwise(vol, out, block_size=4, overwrite=True, progress=False)
    np.testing.assert_allclose(isovox.read(out).numpy(), isovox.reconstruct(vol, "cubic").numpy(), atol=1e-4)


@pytest.mark.parametrize("name, message", [("out.tif", "must be a Zarr directory"),
                                            ("missing/out.zarr", "output directory does not exist")])
def test_bad_outputs_are_refused_before_any_work(tmp_path, volume, name, message):
    with pytest.raises(IsovoxError, match=message):
        reconstruct_blockwise(volume(), tmp_path / name, progress=False)


def test_input_cannot_be_its_own_output(tmp_path, volume):
    path = isovox.write(volume(), tmp_path / "in.zarr")
    with pytest.raises(IsovoxError, match="refusing to overwrite the input"):
        reconstruct_blockwise(path, path, overwrite=True, progress=False)


def test_model_reconstruction_needs_cubic_and_a_fitting_factor(tmp_path, volume, drcnet_folder):
    with pytest.raises(IsovoxError, match="method 'linear' does not apply"):
        reconstruct_blockwise(volume(), tmp_path / "o.zarr", method="linear", model=drcnet_folder, progress=False)
    with pytest.raises(IsovoxError, match="low-resolution axis only"):
        reconstruct_blockwise(volume(), tmp_path / "o.zarr", model=drcnet_folder, target_spacing=(10, 5, 10),
                              progress=False)
    out = reconstruct_blockwise(volume(), tmp_path / "o.zarr", model=drcnet_folder, target_spacing=(10, 10, 10),
                                progress=False)
    assert out.spacing == (10, 10, 10)
    with pytest.raises(IsovoxError, match="trained for factor 2.5"):
        reconstruct_blockwise(volume(spacing=(40, 10, 10)), tmp_path / "o2.zarr", model=drcnet_folder,
                              progress=False)
