"""Atomic writes: a failed write leaves nothing behind, a successful one leaves only the output."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from isovox import io
from isovox.errors import IsovoxError
from isovox.io import atomic, hdf5, mrc, nifti, omezarr, tiff
from isovox.io.atomic import atomic_output

WRITERS = {".tif": tiff, ".ome.tif": tiff, ".nii.gz": nifti, ".h5": hdf5, ".zarr": omezarr, ".mrc": mrc}


def _fail_after_writing(module, monkeypatch, seen):
    """Replace ``module.write`` with one that writes for real, then fails."""
    real = module.write

    def broken(volume, path, **kwargs):
        seen.append(path)
        real(volume, path, **kwargs)
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(module, "write", broken)


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_failed_write_leaves_nothing(tmp_path, volume, monkeypatch, suffix):
    seen: list = []
    _fail_after_writing(WRITERS[suffix], monkeypatch, seen)
    with pytest.raises(RuntimeError, match="simulated"):
        io.write(volume, tmp_path / f"out{suffix}")
    assert list(tmp_path.iterdir()) == []
    tmp = seen[0]
    assert tmp.parent == tmp_path and tmp.name.startswith(".out.isovox-tmp-")
    assert tmp.name.endswith(suffix)


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_failed_overwrite_keeps_the_old_output(tmp_path, volume, monkeypatch, suffix):
    path = io.write(volume, tmp_path / f"out{suffix}")
    before = sorted(p.name for p in tmp_path.iterdir())
    _fail_after_writing(WRITERS[suffix], monkeypatch, [])
    changed = volume.replace(data=volume.data + 1)
    with pytest.raises(RuntimeError):
        io.write(changed, path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    np.testing.assert_array_equal(io.read(path).data, volume.data)


def test_interrupt_mid_write_leaves_nothing(tmp_path, volume, monkeypatch):
    def interrupted(volume, path, **kwargs):
        path.write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(tiff, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.write(volume, tmp_path / "out.tif")
    assert list(tmp_path.iterdir()) == []


def test_success_leaves_only_the_output(tmp_path, volume):
    io.write(volume, tmp_path / "a.zarr")
    io.write(volume, tmp_path / "a.zarr", overwrite=True)     # directory replaced
    io.write(volume, tmp_path / "b.nii.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zarr", "b.nii.gz"]


def test_output_has_ordinary_permissions(tmp_path, volume):
    umask = os.umask(0o022)
    try:
        file_mode = stat.S_IMODE(io.write(volume, tmp_path / "p.tif").stat().st_mode)
        dir_mode = stat.S_IMODE(io.write(volume, tmp_path / "p.zarr").stat().st_mode)
    finally:
        os.umask(umask)
    assert (file_mode, dir_mode) == (0o644, 0o755)


def test_file_replaces_a_directory_with_overwrite(tmp_path, volume):
    target = tmp_path / "odd.tif"
    target.mkdir()
    (target / "junk").write_text("x")
    io.write(volume, target, overwrite=True)
    assert target.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["odd.tif"]


def test_atomic_output_directly(tmp_path):
    with atomic_output(tmp_path / "x.bin") as tmp:
        tmp.write_bytes(b"done")
    assert (tmp_path / "x.bin").read_bytes() == b"done"
    with pytest.raises(IsovoxError, match="exists"):
        with atomic_output(tmp_path / "x.bin"):
            pass
    with pytest.raises(ValueError):
        with atomic_output(tmp_path / "y.bin") as tmp:
            tmp.write_bytes(b"partial")
            raise ValueError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]


def test_check_output_refuses_the_source(tmp_path):
    source = tmp_path / "in.h5"
    source.write_bytes(b"")
    (tmp_path / "link.h5").symlink_to(source)
    for target in (tmp_path / "." / "in.h5", tmp_path / "link.h5"):
        with pytest.raises(IsovoxError, match="refusing to overwrite the input file"):
            atomic.check_output(target, overwrite=True, source=str(source))


def test_hdf5_output_with_other_dataset_of_the_input_is_refused(tmp_path, volume):
    path = io.write(volume, f"{tmp_path / 'in.h5'}:/raw")
    loaded = io.read(f"{path}:/raw")
    with pytest.raises(IsovoxError, match="refusing to overwrite the input file"):
        io.write(loaded, f"{path}:/other", overwrite=True)


def test_check_output_path_before_any_work(tmp_path):
    assert io.check_output_path(f"{tmp_path / 'new.h5'}:/raw") == tmp_path / "new.h5"
    assert io.check_output_path(tmp_path / "report.json") == tmp_path / "report.json"
    (tmp_path / "old.tif").write_bytes(b"")
    with pytest.raises(IsovoxError, match="exists; pass --overwrite"):
        io.check_output_path(tmp_path / "old.tif")
    io.check_output_path(tmp_path / "old.tif", overwrite=True)
    with pytest.raises(IsovoxError, match="output directory does not exist"):
        io.check_output_path(tmp_path / "missing" / "x.tif")


def test_write_text_is_atomic_and_checked(tmp_path):
    path = io.write_text(tmp_path / "report.json", '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    with pytest.raises(IsovoxError, match="exists"):
        io.write_text(path, "{}")
    io.write_text(path, "{}", overwrite=True)
    assert path.read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_importing_isovox_io_does_not_load_format_libraries():
    import subprocess
    import sys
    code = ("import sys, isovox.io; heavy = [m for m in ('zarr', 'h5py', 'nibabel', 'mrcfile') "
            "if m in sys.modules]; print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
