"""Hostile input: never destroy an input, never crash, always one line (one test per class of
the issue that found them; each failed on the main before the fix)."""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import zarr

from isovox import io
from isovox.errors import DiskFull
from isovox.io import atomic
from isovox.volume import Volume

# --- 1. outputs that would replace an input ------------------------------------------------------


@pytest.mark.parametrize("command", [
    lambda s, m, t: ["train", s, "-o", s, "--overwrite", "--iterations", "1"],
    lambda s, m, t: ["run", s, "-o", t / "iso.tif", "--model-dir", s, "--overwrite", "--iterations", "1"],
    lambda s, m, t: ["evaluate", s, s, "-o", s, "--overwrite"],
    lambda s, m, t: ["simulate", s, "-o", t / "lr.tif", "--gt", t / "lr.tif", "--factor", "2", "--overwrite"],
    lambda s, m, t: ["reconstruct", s, "-o", s, "--overwrite"],
    lambda s, m, t: ["reconstruct", s, "-o", s.parent, "--overwrite", "--block-size", "32"],
    lambda s, m, t: ["reconstruct", s, "-o", m, "--model", m, "--overwrite"],
    lambda s, m, t: ["train", s, "-o", s.parent, "--overwrite", "--iterations", "1"],
], ids=["train-onto-input", "run-model-dir-onto-input", "evaluate-report-onto-test", "simulate-gt-is-output",
        "reconstruct-onto-input", "blockwise-over-input-folder", "reconstruct-onto-model",
        "train-over-input-folder"])
def test_no_output_replaces_an_input(cli, checksum, stack, tiny_model, tmp_path, command):
    before = checksum(stack), checksum(tiny_model)
    result = cli(*command(stack, tiny_model, tmp_path))
    result.one_line_error(code=2)
    assert (checksum(stack), checksum(tiny_model)) == before
    assert not (tmp_path / "lr.tif").exists()


# --- 2. spacings equal to float32 precision give one grid ---------------------------------------


def test_float32_spacing_from_nifti_keeps_every_slice(cli, tmp_path):
    truth = Volume(np.random.default_rng(1).integers(0, 255, (61, 16, 16)).astype(np.uint8), (0.01,) * 3, "um")
    source = io.write(truth, tmp_path / "iso.tif")
    cli("simulate", source, "-o", tmp_path / "lr.nii.gz", "--factor", "4")
    assert io.read(tmp_path / "lr.nii.gz").spacing[0] != 0.04          # stored as float32
    for extra in ([], ["--block-size", "16"]):
        output = tmp_path / ("iso.zarr" if extra else "iso.nii.gz")
        cli("reconstruct", tmp_path / "lr.nii.gz", "-o", output, "--target-spacing", "0.01", *extra)
        assert io.read(output).shape == io.read(tmp_path / "lr_gt.nii.gz").shape == (61, 16, 16)
    assert cli("evaluate", tmp_path / "lr_gt.nii.gz", tmp_path / "iso.nii.gz").code == 0


# --- 3. full disk ---------------------------------------------------------------------------------


def test_output_larger_than_the_free_space_is_refused_before_writing(cli, stack, tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda path: usage._replace(free=200_000))
    for suffix in (".tif", ".nii", ".h5", ".mrc"):
        cli("reconstruct", stack, "-o", tmp_path / f"iso{suffix}").one_line_error("not enough space", code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.tif"]


def test_disk_full_mid_write_is_one_line_and_leaves_nothing(cli, stack, tmp_path, monkeypatch):
    from isovox.io import omezarr

    def full_disk(volume, path, **options):
        (path / "partial").write_bytes(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(omezarr, "write", full_disk)
    cli("reconstruct", stack, "-o", tmp_path / "iso.zarr").one_line_error("no space left", code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.tif"]


def test_simulate_writes_all_three_outputs_or_none(cli, stack, tmp_path, monkeypatch):
    real_write_text = type(tmp_path).write_text

    def failing_record(self, text, *args, **kwargs):
        if self.name.endswith(".json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(type(tmp_path), "write_text", failing_record)
    cli("simulate", stack, "-o", tmp_path / "lr.tif", "--factor", "2").one_line_error("no space left")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.tif"]


def test_training_on_a_full_disk_removes_its_work_folder(cli, stack, tmp_path, monkeypatch):
    from isovox.training import checkpoint

    def full(path, payload):
        raise DiskFull(f"no space left on the device while writing {path}")

    monkeypatch.setattr(checkpoint, "save_checkpoint", full)
    from isovox.training import loop
    monkeypatch.setattr(loop, "save_checkpoint", full, raising=False)
    result = cli("train", stack, "-o", tmp_path / "model", "--iterations", "3", "--patch-size", "32",
                 "--set", "checkpoint_every=1")
    result.one_line_error("no space left", "work folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.tif"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="needs root to mount a tmpfs")
def test_a_real_full_tmpfs(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("mount refused here")
    try:
        source = io.write(Volume(np.random.default_rng(0).integers(0, 255, (8, 128, 128)).astype(np.uint8),
                                 (40, 4, 4), "nm"), tmp_path / "in.tif")
        for name in ("out.zarr", "out.nii.gz", "out.tif"):
            done = subprocess.run([sys.executable, "-m", "isovox.cli", "reconstruct", str(source), "-o",
                                   str(disk / name), "--method", "linear"], capture_output=True, text=True)
            assert done.returncode != 0 and done.stderr.startswith("error: "), done.stderr
            assert len(done.stderr.strip().splitlines()) == 1 and list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)])


# --- 4. usage errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["info"], ["reconstruct", "x.tif"], ["info", "x.tif", "--bogus"], ["bogus"],
                                  ["info", "x.tif", "--spacing", "1", "2"], ["info", "x.tif", "--spacing", "a", "b", "c"],
                                  ["simulate", "x.tif", "-o", "y.tif", "--factor", "two"]])
def test_usage_errors_are_one_line_with_exit_code_2(cli, args):
    cli(*args).one_line_error(code=2)


def test_version(cli):
    result = cli("--version")
    assert result.code == 0 and result.out.startswith("isovox ")


# --- 5. values that would hang, exhaust memory or crash ---------------------------------------------


@pytest.mark.parametrize("args,words", [
    (["simulate", "{s}", "-o", "{t}/lr.tif", "--factor", "2", "--thickness", "1e9"], ["fwhm", "extent"]),
    (["simulate", "{s}", "-o", "{t}/lr.tif", "--factor", "2", "--seed", "-1"], ["seed"]),
    (["reconstruct", "{s}", "-o", "{t}/o.zarr", "--block-size", "1"], ["blocks"]),
    (["reconstruct", "{s}", "-o", "{t}/o.tif", "--model", "{m}", "--tile", "3"], ["tile"]),
    (["reconstruct", "{s}", "-o", "{t}/o.tif", "--dtype", "banana"], ["dtype"]),
    (["reconstruct", "{s}", "-o", "{t}/o.tif", "--model", "{m}", "--device", "cuda:7"], ["not available"]),
    (["reconstruct", "{s}", "-o", "{t}/o.tif", "--model", "{m}", "--device", "banana"], ["device"]),
    (["reconstruct", "{s}", "-o", "{t}/o.tif", "--model", "{m}", "--batch-size", "0"], ["batch-size"]),
    (["reconstruct", "{s}", "-o", "{t}/o.zarr", "--workers", "-1"], ["workers"]),
    (["reconstruct", "{s}", "-o", "{t}/o.zarr", "--workers", "0"], ["workers"]),
    (["train", "{s}", "-o", "{t}/m", "--set", "lr=notjson"], ["lr"]),
    (["train", "{s}", "-o", "{t}/m", "--target-spacing", "0"], ["target-spacing"]),
    (["train", "{s}", "-o", "{t}/m", "--patch-size", "0"], ["patch-size"]),
    (["train", "{s}", "-o", "{t}/m", "--set", "batch_size=0"], ["batch_size"]),
    (["degrade", "{s}", "-o", "{t}/d.tif", "--model", "{m}", "--batch-size", "0"], ["batch-size"]),
])
def test_unchecked_values_fail_fast_in_one_line(cli, stack, tiny_model, tmp_path, args, words):
    filled = [a.format(s=stack, t=tmp_path, m=tiny_model) for a in args]
    cli(*filled).one_line_error(*words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.tif"]


def test_output_too_big_for_memory_is_refused_with_the_number(cli, stack, tmp_path, monkeypatch):
    from isovox import runtime

    monkeypatch.setattr(runtime, "available_memory", lambda: 50_000_000)
    line = cli("reconstruct", stack, "-o", tmp_path / "o.tif", "--target-spacing", "0.1").one_line_error("memory")
    assert "134 MiB" in line and "48 MiB" in line and "--block-size" in line


def test_nifti_header_larger_than_the_file_fails_before_allocating(cli, tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), np.eye(4)), tmp_path / "small.nii")
    raw = (tmp_path / "small.nii").read_bytes()
    header = nib.Nifti1Header.from_fileobj(open(tmp_path / "small.nii", "rb"))
    header["dim"][1:4] = [32767, 32767, 100]
    header.set_data_dtype(np.float64)
    (tmp_path / "huge.nii").write_bytes(header.binaryblock + raw[348:])
    cli("info", tmp_path / "huge.nii").one_line_error("declares", code=2)


def test_unreachable_scheduler_fails_in_seconds(cli, stack, tmp_path, monkeypatch):
    from isovox.blockwise import execute

    monkeypatch.setattr(execute, "CONNECT_TIMEOUT", 2)
    with socket.socket() as probe:                       # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cli("reconstruct", stack, "-o", tmp_path / "o.zarr", "--scheduler", f"tcp://127.0.0.1:{port}") \
        .one_line_error("scheduler")


@pytest.mark.parametrize("damage", ["weights", "factor", "degradation"])
def test_damaged_model_folders_are_one_line(cli, stack, tiny_model, tmp_path, damage):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    if damage == "weights":
        (folder / "weights.pt").write_bytes(os.urandom(4000))
    elif damage == "factor":
        card = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**card, "factor": "four"}))
    else:
        from isovox.training.recipes.degradation_learning import load_degradation
        (folder / "degradation.pt").write_bytes(os.urandom(4000))
        (folder / "degradation.json").write_text(json.dumps({"network": {"name": "g_hl_profile", "kwargs": {}}}))
        with pytest.raises(Exception) as raised:
            load_degradation(folder)
        assert type(raised.value).__name__ == "IsovoxError"
        return
    cli("reconstruct", stack, "-o", tmp_path / "o.tif", "--model", folder).one_line_error(code=2)


# --- 6. silent wrong results ------------------------------------------------------------------------


def test_complex_data_is_refused_not_truncated(cli, tmp_path):
    source = io.write(Volume(np.ones((6, 8, 8), np.complex64) * (1 + 2j), (4, 1, 1), "nm"), tmp_path / "c.mrc")
    cli("reconstruct", source, "-o", tmp_path / "o.tif").one_line_error("complex")


def test_nifti_without_spacing_asks_for_it(cli, tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((10, 10, 5), np.uint8), np.eye(4)), tmp_path / "ok.nii")
    raw = (tmp_path / "ok.nii").read_bytes()
    header = nib.Nifti1Header.from_fileobj(open(tmp_path / "ok.nii", "rb"))
    header["pixdim"][1:4] = [1, 1, 0]
    header["qform_code"] = header["sform_code"] = 0
    (tmp_path / "zero.nii").write_bytes(header.binaryblock + raw[348:])
    cli("info", tmp_path / "zero.nii").one_line_error("--spacing")
    assert cli("info", tmp_path / "zero.nii", "--spacing", "2", "1", "1").code == 0


def test_absent_zarr_chunk_is_reported(cli, tmp_path):
    path = io.write(Volume(np.ones((8, 8, 8), np.uint8), (4, 1, 1), "nm"), tmp_path / "v.zarr")
    chunk = next(p for p in path.rglob("*") if p.is_file() and "c" in p.relative_to(path).parts)
    chunk.unlink()
    result = cli("info", path)
    assert result.code == 0 and "warning: 1 of 1 chunks" in result.err and len(result.err.splitlines()) == 1


# --- 7. interrupted writes ----------------------------------------------------------------------------


def test_stale_temporary_of_a_dead_process_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out{atomic.TMP_MARKER}{socket.gethostname()}.{int(dead.stdout)}-abcd.tif"
    alive = tmp_path / f".out{atomic.TMP_MARKER}{socket.gethostname()}.{os.getpid()}-efgh.tif"
    stale.write_bytes(b"half")
    alive.write_bytes(b"in progress")
    io.write(Volume(np.zeros((2, 4, 4), np.uint8), (2, 1, 1), "nm"), tmp_path / "out.tif")
    assert not stale.exists() and alive.exists()


def test_an_interrupt_swallowed_by_a_writer_still_stops_the_write(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_output(tmp_path / "out.h5", suffix=".h5") as scratch:
            scratch.write_bytes(b"partial")
            try:
                os.kill(os.getpid(), signal.SIGINT)
            except KeyboardInterrupt:                # a library that catches everything (h5py did)
                pass
    assert list(tmp_path.iterdir()) == []


def test_json_is_strict_for_a_constant_volume(cli, tmp_path):
    source = io.write(Volume(np.full((20, 48, 48), 7, np.uint8), (40, 10, 10), "nm"), tmp_path / "flat.tif")
    result = cli("train", source, "-o", tmp_path / "m", "--iterations", "2", "--patch-size", "32", "--json")
    if result.code == 0:
        json.loads(result.out, parse_constant=lambda name: pytest.fail(f"{name} in --json output"))
        json.loads((tmp_path / "m" / "config.json").read_text(),
                   parse_constant=lambda name: pytest.fail(f"{name} in config.json"))
    else:
        result.one_line_error()


# --- 8. every method through train and run ------------------------------------------------------------


TINY = {"selfsup": ["--iterations", "2", "--set", "patch_size=32", "--no-check"],
        "arbitrary-scale": ["--iterations", "2", "--set", "patch_size=32", "--set", "validation_pairs=4", "--no-check"],
        "degradation-learning": ["--iterations", "2", "--set", "cycle_iterations=2", "--set", "patch_size=32",
                                 "--no-check"],
        "vae-two-stage": ["--iterations", "2", "--set", "warmup_iterations=1", "--set", "adversarial_iterations=1",
                          "--set", "compact_iterations=1", "--no-check"]}


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(TINY))
def test_every_method_runs_through_run(cli, stack, tmp_path, method):
    result = cli("run", stack, "-o", tmp_path / "iso.tif", "--method", method, *TINY[method])
    assert result.code == 0, result.err
    assert io.read(tmp_path / "iso.tif").shape[0] == 77


def test_run_refuses_supervised3d_in_one_line(cli, stack, tmp_path):
    cli("run", stack, "-o", tmp_path / "iso.tif", "--method", "supervised3d").one_line_error("train")
