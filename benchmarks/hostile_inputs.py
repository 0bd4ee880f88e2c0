"""Hostile-input sweep of the `isovox` command line: bad and edge inputs for every command.

Run by hand from the repository root (not part of the test suite; about 20-30 minutes on two
shared CPU cores, most of it in the few cases that train):

    nice -n 10 .venv/bin/python benchmarks/hostile_inputs.py \
        [--only SUBSTRING] [--table PATH.md] [--json PATH.json] [--scratch DIR] [--keep] [--list]

``--only`` runs the cases whose name or class contains SUBSTRING (repeatable); ``--table`` writes
the markdown table for the docs (case, command, expectation, exit code, first line of stderr, what
was left behind, verdict); ``--json`` writes every result with its full stdout/stderr. The exit
status is 1 when any case fails a check.

What the README promises, and what is checked for every case:

1. no Python traceback: no ``Traceback`` line and no ``File "..."`` frame in stdout or stderr;
2. no input modified: the SHA-256 of every file (and the listing of every folder) that existed in
   the case's folder before the command is the same after it, except the case's declared outputs
   (an existing output replaced with ``--overwrite`` is an output, not an input);
3. no leftovers: nothing new in the case's folder but the declared outputs; allowed besides them
   are the documented resume folders: ``.NAME.isovox-train`` after an interrupted training, and
   ``.NAME.zarr.isovox-blockwise`` after a failed or interrupted blockwise reconstruction. Hidden
   temporaries (``*.isovox-tmp-*``, ``*.isovox-old-*``) are never allowed after a run that was
   not SIGKILLed, and never after a rerun;
4. the exit code: 0 where the case expects success (``ok``), 2 where it expects a refusal
   (``error``: bad input or usage), 0 or 2 where both a result and a clean refusal are acceptable
   (``either``), any non-zero code where the machine, not the input, is at fault (``nonzero``:
   disk full); a per-case timeout (120 s by default) is a failure ('hang');
5. the message: a failing command prints exactly one line on stderr and it starts with
   ``error:`` (a usage screen is allowed only where a case says so); ``error: internal error``
   (an unexpected exception turned into one line) counts as a failure;
6. where a case has its own check (e.g. the slice count of a float32-spacing NIfTI
   reconstruction equals the ground truth's; an output replaced under SIGKILL is still readable).

Each case runs in a fresh temporary folder (under ``--scratch``) with tiny inputs made by this
script: volumes of 12 x 48 x 48 uint8 at 40 x 4 x 4 nm in every format, corrupt files (truncated
TIFF, random bytes, a NIfTI-2 header claiming 10^5 slices, a NIfTI with zero slice thickness and
no qform/sform, complex data, a Zarr with a deleted chunk, constant / NaN volumes, 2D / 4D
arrays) and small model folders trained once with two iterations (plus corrupted copies). They
are built once into a cache folder and copied into each case's folder, so every input is hashed.
Disk-full cases mount a small tmpfs inside the case folder (needs root; skipped with a note
otherwise). Interrupted cases send SIGTERM / SIGINT / SIGKILL to a command once its hidden
temporary (or work folder) appears, then run the same command again.

Cases are data: see ``CASES`` (built by the ``*_cases`` functions, one per class). To add one,
append ``case(name, "argv ...", fixtures..., expect=OK|ERR|EITHER|NONZERO, out=(outputs...))``
to its class's function; a fixture is a name in ``FIXTURES`` ('name->dest' copies it under
another name) or a callable taking the case's :class:`Context`. ``--list`` prints every case.
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import hashlib
import json
import os
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

import harness       # as a module: this script has a write_text of its own (a fixture)

ROOT = harness.ROOT

OK, ERR, EITHER, NONZERO = "ok", "error", "either", "nonzero"
TIMEOUT = 120.0
TMP_MARKERS = (".isovox-tmp-", ".isovox-old-")
TRAIN_WORK = ".*.isovox-train"
BLOCK_WORK = ".*.isovox-blockwise"
# A 48 x 48 lateral plane needs a patch < 64; the profile is given (gaussian) because the default
# recipe 'auto' estimates it from the volume, which needs more lateral extent than 48 px.
TINY_TRAIN = "--iterations 2 --patch-size 24 --recipe gaussian"


class SetupError(Exception):
    """A case's inputs could not be made (reported as a failure 'setup')."""


class Skip(Exception):
    """A case cannot run on this machine (e.g. no tmpfs); reported, not counted as a failure."""


# --- cases as data --------------------------------------------------------------------------------

@dataclass
class Interrupt:
    """Signal the command once ``trigger`` (a glob in the case folder) exists, plus ``delay`` s."""
    sig: int
    trigger: str = "*.isovox-tmp-*"
    delay: float = 0.0
    group: bool = False          # signal the whole process group (a killed job), not the process
    rerun: bool = True           # then run the same command again: it must succeed and clean up


@dataclass
class Case:
    name: str
    argv: list[str]
    setup: tuple = ()            # fixture names ('name' or 'name->dest') or callables(ctx)
    expect: str = ERR            # OK, ERR or EITHER
    cls: str = "?"
    outputs: tuple[str, ...] = ()        # globs (relative to the case folder) the command may write
    check: Optional[Callable] = None     # (ctx, result) -> list of failures
    interrupt: Optional[Interrupt] = None
    timeout: float = TIMEOUT
    note: str = ""
    help_ok: bool = False        # a usage screen instead of one 'error:' line is acceptable
    blockwise: bool = False      # a failed run may leave its documented blockwise work folder


def case(name: str, argv: Union[str, list], *setup, expect: str = ERR, out=(), **options) -> Case:
    words = shlex.split(argv) if isinstance(argv, str) else list(argv)
    return Case(name, words, tuple(setup), expect, outputs=tuple(out), **options)


def group(cls: str, cases: list[Case]) -> list[Case]:
    for item in cases:
        item.cls = cls
    return cases


# --- fixtures: tiny inputs, built once into a cache -----------------------------------------------

def _noise(shape, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 255).astype(dtype)


def _write_volume(path: Path, data, spacing=(40.0, 4.0, 4.0), unit="nm") -> None:
    from isovox import io
    from isovox.volume import Volume

    io.write(Volume(np.asarray(data), tuple(float(s) for s in spacing), unit), path)


def volume_fixture(shape=(12, 48, 48), spacing=(40.0, 4.0, 4.0), unit="nm", dtype=np.uint8, seed=0,
                   fill=None):
    def build(path: Path, cache: "Cache") -> None:
        data = _noise(shape, seed).astype(dtype) if fill is None else np.full(shape, fill, dtype)
        _write_volume(path, data, spacing, unit)
    return build


def bytes_fixture(data: bytes):
    def build(path: Path, cache: "Cache") -> None:
        path.write_bytes(data)
    return build


def truncated_tif(path: Path, cache: "Cache") -> None:
    whole = cache.get("lr.tif").read_bytes()
    path.write_bytes(whole[: len(whole) // 2])


def plain_tif(shape, dtype=np.uint8, **kwargs):
    def build(path: Path, cache: "Cache") -> None:
        import tifffile

        data = np.asarray(_noise(shape)).astype(dtype) if not np.issubdtype(dtype, np.complexfloating) \
            else (_noise(shape) + 1j * _noise(shape, 1)).astype(dtype)
        tifffile.imwrite(path, data, **kwargs)
    return build


def nan_tif(fraction: float):
    def build(path: Path, cache: "Cache") -> None:
        data = _noise((12, 48, 48)).astype(np.float32)
        data.flat[:: max(1, int(1 / fraction))] = np.nan
        _write_volume(path, data)
    return build


def four_d_tif(path: Path, cache: "Cache") -> None:
    import tifffile

    data = np.stack([_noise((12, 48, 48), 0), _noise((12, 48, 48), 1)], axis=1)  # Z C Y X
    tifffile.imwrite(path, data, imagej=True, resolution=(0.25, 0.25),
                     metadata={"axes": "ZCYX", "spacing": 40.0, "unit": "nm"})


def _nifti(path: Path, data, zooms=(4.0, 4.0, 40.0), two=False) -> None:
    import nibabel as nib

    kind = nib.Nifti2Image if two else nib.Nifti1Image
    image = kind(data, np.diag([*zooms, 1.0]))
    image.header.set_xyzt_units("mm")
    nib.save(image, str(path))


def nifti_fixture(spacing=(40.0, 4.0, 4.0), shape=(12, 48, 48), dtype=np.uint8):
    def build(path: Path, cache: "Cache") -> None:
        _write_volume(path, _noise(shape).astype(dtype), spacing, "mm")
    return build


def huge_header_nifti(path: Path, cache: "Cache") -> None:
    """A NIfTI-2 file whose header claims 10^5 slices of 48 x 48 but holds 12."""
    plain = path.with_name(".huge.nii")
    _nifti(plain, np.transpose(_noise((12, 48, 48))), two=True)
    raw = bytearray(plain.read_bytes())
    plain.unlink()
    assert struct.unpack_from("<i", raw, 0)[0] == 540, "not a little-endian NIfTI-2 header"
    struct.pack_into("<q", raw, 16 + 8 * 3, 100_000)          # dim[3]
    data = bytes(raw)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def zero_thickness_nifti(path: Path, cache: "Cache") -> None:
    """NIfTI-1 with pixdim[3] = 0 and qform_code = sform_code = 0 (no affine to fall back on)."""
    _nifti(path, np.transpose(_noise((12, 48, 48))))
    raw = bytearray(path.read_bytes())
    struct.pack_into("<f", raw, 76 + 4 * 3, 0.0)              # pixdim[3]
    struct.pack_into("<hh", raw, 252, 0, 0)                   # qform_code, sform_code
    path.write_bytes(bytes(raw))


def complex_nifti(path: Path, cache: "Cache") -> None:
    data = (_noise((48, 48, 12)) + 1j * _noise((48, 48, 12), 1)).astype(np.complex64)
    _nifti(path, data)


def raw_h5(datasets: dict):
    def build(path: Path, cache: "Cache") -> None:
        import h5py

        with h5py.File(path, "w") as handle:
            for name, data in datasets.items():
                handle[name] = data
    return build


def isovox_h5(path: Path, cache: "Cache") -> None:
    _write_volume(Path(f"{path}:/raw"), _noise((12, 48, 48)))


def zarr_missing_chunk(path: Path, cache: "Cache") -> None:
    """An OME-Zarr of 12 x 150 x 150 (9 chunks) with its middle chunk file deleted."""
    _write_volume(path, _noise((12, 150, 150)))
    chunks = sorted(p for p in path.rglob("*") if p.is_file() and p.name not in
                    ("zarr.json", ".zarray", ".zattrs", ".zgroup"))
    if len(chunks) < 2:
        raise SetupError(f"expected several chunks in {path}, found {len(chunks)}")
    chunks[len(chunks) // 2].unlink()


def label_fixture(seed: int):
    def build(path: Path, cache: "Cache") -> None:
        labels = np.zeros((16, 40, 40), np.uint16)
        labels[:, :20, :20], labels[:, :20, 20:], labels[:, 20:, :] = 1, 2, 3
        if seed:
            labels[:, 18:22, :] = 2
        _write_volume(path, labels, (4.0, 4.0, 4.0))
    return build


def noisy_copy(name: str, seed: int = 1):
    def build(path: Path, cache: "Cache") -> None:
        from isovox import io

        volume = io.read(cache.get(name))
        data = np.asarray(volume.data).astype(np.int16) + np.random.default_rng(seed).integers(-20, 20, volume.shape)
        _write_volume(path, np.clip(data, 0, 255).astype(np.uint8), volume.spacing, volume.unit)
    return build


def trained_model(input_name: str, options: str):
    def build(path: Path, cache: "Cache") -> None:
        source = cache.get(input_name)
        command = [cache.isovox, "train", str(source), "-o", str(path), *shlex.split(options)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise SetupError(f"training the fixture {path.name} failed: {_first_line(done.stderr)}")
    return build


def broken_model(base: str, breaker: Callable[[Path], None]):
    def build(path: Path, cache: "Cache") -> None:
        shutil.copytree(cache.get(base), path)
        breaker(path)
    return build


def _set_config(key: str, value):
    def breaker(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        config[key] = value
        (folder / "config.json").write_text(json.dumps(config))
    return breaker


def _random_file(name: str, size: int = 4096):
    def breaker(folder: Path) -> None:
        (folder / name).write_bytes(np.random.default_rng(7).bytes(size))
    return breaker


def _remove(name: str):
    def breaker(folder: Path) -> None:
        (folder / name).unlink()
    return breaker


def _truncate(name: str):
    def breaker(folder: Path) -> None:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])
    return breaker


def _empty(folder: Path) -> None:
    for item in folder.iterdir():
        item.unlink()


RANDOM = np.random.default_rng(3).bytes(8192)

FIXTURES: dict[str, Callable] = {
    "lr.tif": volume_fixture(),
    "lr72.tif": volume_fixture((12, 72, 72)),
    "lr6.tif": volume_fixture(spacing=(24.0, 4.0, 4.0)),
    "iso.tif": volume_fixture((48, 48, 48), (4.0, 4.0, 4.0)),
    "a_gt.tif": volume_fixture((48, 48, 48), (4.0, 4.0, 4.0)),
    "big.tif": volume_fixture((48, 256, 256)),
    "ref.tif": volume_fixture((16, 40, 40), (4.0, 4.0, 4.0)),
    "test.tif": noisy_copy("ref.tif"),
    "mask.tif": volume_fixture((16, 40, 40), (4.0, 4.0, 4.0), fill=1),
    "badmask.tif": volume_fixture((16, 20, 20), (4.0, 4.0, 4.0), fill=1),
    "labels_ref.tif": label_fixture(0),
    "labels_test.tif": label_fixture(1),
    "const.tif": volume_fixture(fill=7),
    "zeros.tif": volume_fixture(fill=0),
    "nan.tif": volume_fixture(dtype=np.float32, fill=np.nan),
    "somenan.tif": nan_tif(0.01),
    "inf.tif": volume_fixture(dtype=np.float32, fill=np.inf),
    "float64.tif": volume_fixture(dtype=np.float64),
    "int16.tif": volume_fixture(dtype=np.int16),
    "one_slice.tif": volume_fixture((1, 48, 48)),
    "two_slices.tif": volume_fixture((2, 48, 48)),
    "tiny.tif": volume_fixture((2, 2, 2)),
    "2d.tif": plain_tif((48, 48)),
    "4d.tif": four_d_tif,
    "4d_plain.tif": plain_tif((3, 4, 48, 48)),
    "complex.tif": plain_tif((12, 48, 48), np.complex64),
    "nospacing.tif": plain_tif((12, 48, 48)),
    "truncated.tif": truncated_tif,
    "random.tif": bytes_fixture(RANDOM),
    "empty.tif": bytes_fixture(b""),
    "text.tif": bytes_fixture(b"this is not a TIFF\n" * 20),
    "random.nii": bytes_fixture(RANDOM),
    "random.nii.gz": bytes_fixture(gzip.compress(RANDOM)),
    "random.h5": bytes_fixture(RANDOM),
    "random.mrc": bytes_fixture(RANDOM),
    "lr.nii.gz": nifti_fixture((0.04, 0.004, 0.004)),
    "lr.nii": nifti_fixture((0.04, 0.004, 0.004)),
    "huge.nii": huge_header_nifti,
    "huge.nii.gz": huge_header_nifti,
    "zero_thickness.nii": zero_thickness_nifti,
    "complex.nii": complex_nifti,
    "lr.h5": isovox_h5,
    "nospacing.h5": raw_h5({"raw": _noise((12, 48, 48))}),
    "multi.h5": raw_h5({"a": _noise((12, 48, 48)), "b": _noise((12, 48, 48), 1)}),
    "lr.zarr": volume_fixture(),
    "missing_chunk.zarr": zarr_missing_chunk,
    "lr.mrc": volume_fixture(spacing=(400.0, 40.0, 40.0), unit="angstrom"),
    "model": trained_model("lr.tif", TINY_TRAIN),
    "dlmodel": trained_model("lr.tif", "--method degradation-learning --iterations 2 --patch-size 32 "
                                       "--set cycle_iterations=2"),
    "asmodel": trained_model("lr.tif", "--method arbitrary-scale " + TINY_TRAIN),
    "model_random_weights": broken_model("model", _random_file("weights.pt")),
    "model_truncated_weights": broken_model("model", _truncate("weights.pt")),
    "model_no_weights": broken_model("model", _remove("weights.pt")),
    "model_no_config": broken_model("model", _remove("config.json")),
    "model_bad_json": broken_model("model", _random_file("config.json", 64)),
    "model_string_factor": broken_model("model", _set_config("factor", "ten")),
    "model_negative_factor": broken_model("model", _set_config("factor", -10.0)),
    "model_nan_factor": broken_model("model", _set_config("factor", float("nan"))),
    "model_unknown_arch": broken_model("model", _set_config("architecture", {"name": "banana"})),
    "model_empty": broken_model("model", _empty),
    "dlmodel_bad_degradation": broken_model("dlmodel", _random_file("degradation.pt")),
}


class Cache:
    """Builds each fixture once (in ``folder``) and hands out its path."""

    def __init__(self, folder: Path, isovox: str):
        self.folder, self.isovox = folder, isovox
        self.failed: dict[str, str] = {}

    def get(self, name: str) -> Path:
        path = self.folder / name
        if name in self.failed:
            raise SetupError(self.failed[name])
        if not path.exists():
            try:
                FIXTURES[name](path, self)
            except Exception as error:      # a fixture that cannot be made fails its cases only
                self.failed[name] = f"fixture {name}: {type(error).__name__}: {error}"
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                raise SetupError(self.failed[name]) from error
        return path


# --- setup steps (callables taking the case context) ----------------------------------------------

@dataclass
class Context:
    work: Path
    cache: Cache
    mounts: list = field(default_factory=list)

    def put(self, spec: str) -> None:
        name, _, dest = spec.partition("->")
        source, target = self.cache.get(name), self.work / (dest or name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)

    def cli(self, *argv: str) -> None:
        done = subprocess.run([self.cache.isovox, *argv], cwd=self.work, capture_output=True, text=True,
                              timeout=TIMEOUT)
        if done.returncode != 0:
            raise SetupError(f"setup command isovox {' '.join(argv)} failed: {_first_line(done.stderr)}")

    def cleanup(self) -> None:
        for mount in reversed(self.mounts):
            if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def mkdir(name: str):
    return lambda ctx: (ctx.work / name).mkdir(parents=True, exist_ok=True)


def symlink(name: str, target: str):
    return lambda ctx: os.symlink(target, ctx.work / name)


def write_text(name: str, text: str):
    return lambda ctx: (ctx.work / name).write_text(text)


def run_cli(argv: str):
    return lambda ctx: ctx.cli(*shlex.split(argv))


def tmpfs(name: str, size: str = "256k", free: int = 0):
    """Mount a tmpfs of ``size`` at ``name`` and fill it until ``free`` bytes remain."""
    def setup(ctx: Context) -> None:
        point = ctx.work / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise Skip(f"cannot mount a tmpfs here ({_first_line(done.stderr) or done.returncode})")
        ctx.mounts.append(point)
        stats = os.statvfs(point)
        room = stats.f_bavail * stats.f_frsize - free
        if room > 0:
            with open(point / "filler.bin", "wb") as handle:
                try:
                    handle.write(b"\0" * room)
                except OSError:
                    pass
    return setup


# --- running one case -----------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    cls: str
    argv: list
    expect: str
    rc: object                    # int, or 'hang'
    stdout: str = ""
    stderr: str = ""
    created: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    first_run: Optional[dict] = None
    status: str = "pass"          # pass, fail, skip

    @property
    def first_stderr(self) -> str:
        return _first_line(self.stderr) or (_first_line(self.stdout) if self.rc not in (0,) else "")


def _first_line(text: str) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def snapshot(folder: Path) -> dict[str, tuple]:
    """relative path -> ('d',) | ('l', target) | ('f', sha256) for everything under ``folder``."""
    entries: dict[str, tuple] = {}
    for base, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(base) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                entries[rel] = ("l", os.readlink(path))
            elif path.is_dir():
                entries[rel] = ("d",)
            else:
                entries[rel] = ("f", _sha256(path))
    return entries


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        return f"unreadable: {error.strerror}"
    return digest.hexdigest()


def _matches(rel: str, patterns) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes for pattern in patterns)


def _is_temporary(rel: str) -> bool:
    return any(marker in rel for marker in TMP_MARKERS)


def changed_inputs(before: dict, after: dict, outputs) -> list[str]:
    failures = []
    for rel, entry in before.items():
        if _matches(rel, outputs):
            continue
        if rel not in after:
            failures.append(f"input removed: {rel}")
        elif after[rel] != entry:
            failures.append(f"input modified: {rel}")
    return failures


def created_paths(before: dict, after: dict) -> list[str]:
    """New paths, each reported once at its topmost new folder."""
    new = sorted(rel for rel in after if rel not in before)
    top = []
    for rel in new:
        if not any(rel.startswith(parent + "/") for parent in top):
            top.append(rel)
    return [rel + ("/" if after[rel] == ("d",) else "") for rel in top]


def leftovers(created: list[str], case: Case, rc, killed: bool) -> list[str]:
    allowed = list(case.outputs)
    if rc not in (0,) and case.blockwise:
        allowed += [BLOCK_WORK, "*/" + BLOCK_WORK]
    if rc == 130 or (case.interrupt and rc != 0):
        allowed += [TRAIN_WORK, BLOCK_WORK, "*/" + TRAIN_WORK, "*/" + BLOCK_WORK]
    bad = []
    for rel in created:
        rel = rel.rstrip("/")
        if _is_temporary(rel):
            if not killed:
                bad.append(rel)
        elif not _matches(rel, allowed):
            bad.append(rel)
    return bad


def has_traceback(text: str) -> bool:
    return any(line.startswith("Traceback") or line.lstrip().startswith('File "') for line in text.splitlines())


def check_exit(case: Case, rc) -> list[str]:
    if rc == "hang":
        return [f"hang (no exit within {case.timeout:.0f} s)"]
    if isinstance(rc, int) and rc < 0:
        return [f"killed by signal {-rc}"]
    if case.expect == NONZERO:
        return [] if rc != 0 else ["exit 0: the failure went unreported"]
    wanted = {OK: (0,), ERR: (2,), EITHER: (0, 2)}[case.expect]
    if rc in wanted:
        return []
    if case.expect == OK:
        return [f"exit {rc}, expected 0"]
    if rc == 0:
        return ["exit 0: bad input accepted"]
    return [f"exit {rc}, expected 2"]


def check_message(case: Case, rc, stderr: str) -> list[str]:
    if rc in (0, "hang") or (isinstance(rc, int) and rc < 0) or case.help_ok:
        return []
    lines = [line for line in stderr.splitlines() if line.strip()]
    if any(line.startswith("error: internal error") for line in lines):
        return ["internal error (an unhandled exception, reported as one line)"]
    if len(lines) == 1 and lines[0].startswith("error:"):
        return []
    if not lines:
        return ["no error message"]
    if not any(line.startswith("error:") for line in lines):
        return [f"no 'error:' line ({len(lines)} stderr lines)"]
    return [f"{len(lines)} stderr lines, not one 'error:' line"]


def check_outputs_exist(case: Case, work: Path, rc) -> list[str]:
    if rc != 0 or case.expect == ERR:
        return []
    return [f"missing output: {pattern}" for pattern in case.outputs
            if not any(ch in pattern for ch in "*?[") and not (work / pattern).exists()
            and not os.path.lexists(work / pattern)]


def execute(argv: list, work: Path, isovox: str, timeout: float):
    """Run ``isovox ARGV`` in ``work``; returns (rc or 'hang', stdout, stderr, seconds)."""
    started = time.monotonic()
    process = subprocess.Popen([isovox, *argv], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True, env=_environment())
    try:
        out, err = process.communicate(timeout=timeout)
        rc = process.returncode
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, err = process.communicate()
        rc = "hang"
    return rc, out, err, time.monotonic() - started


def _environment() -> dict:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.pop("PYTHONWARNINGS", None)
    return env


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def execute_interrupted(case: Case, work: Path, isovox: str):
    """Start the command, signal it once its trigger exists; returns (rc, out, err, seconds, note)."""
    spec = case.interrupt
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([isovox, *case.argv], cwd=work, stdout=out, stderr=err, text=True,
                                   start_new_session=True, env=_environment())
        note, seen = "", None
        while process.poll() is None and time.monotonic() - started < case.timeout:
            if seen is None and any(fnmatch.fnmatchcase(name, spec.trigger) for name in os.listdir(work)):
                seen = time.monotonic()
            if seen is not None and time.monotonic() - seen >= spec.delay:
                try:
                    (os.killpg if spec.group else os.kill)(process.pid, spec.sig)
                except ProcessLookupError:
                    pass
                break
            time.sleep(0.002)
        if seen is None:
            note = f"finished before {spec.trigger} appeared: not interrupted" if process.poll() is not None \
                else "trigger never appeared"
        try:
            rc = process.wait(timeout=case.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()
            rc = "hang"
        out.seek(0), err.seek(0)
        return rc, out.read(), err.read(), time.monotonic() - started, note


def run_case(case: Case, cache: Cache, isovox: str, scratch: Path, keep: bool) -> Result:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in case.name[:40])
    work = Path(tempfile.mkdtemp(prefix=f"{safe}-", dir=scratch))
    ctx = Context(work, cache)
    result = Result(case.name, case.cls, case.argv, case.expect, rc=None)
    try:
        try:
            for step in case.setup:
                ctx.put(step) if isinstance(step, str) else step(ctx)
        except Skip as why:
            result.status, result.notes = "skip", [str(why)]
            return result
        except SetupError as why:
            result.status, result.failures = "fail", [f"setup: {why}"]
            return result
        before = snapshot(work)
        if case.interrupt:
            _run_interrupted(case, ctx, isovox, before, result)
        else:
            result.rc, result.stdout, result.stderr, result.seconds = execute(case.argv, work, isovox, case.timeout)
            _judge(case, ctx, before, result, killed=False)
        if case.note:
            result.notes.append(case.note)
        result.status = "fail" if result.failures else "pass"
        return result
    finally:
        ctx.cleanup()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _judge(case: Case, ctx: Context, before: dict, result: Result, killed: bool) -> None:
    after = snapshot(ctx.work)
    result.created = created_paths(before, after)
    failures = []
    if has_traceback(result.stdout) or has_traceback(result.stderr):
        failures.append("traceback")
    failures += changed_inputs(before, after, case.outputs)
    failures += [f"leftover: {rel}" for rel in leftovers(result.created, case, result.rc, killed)]
    failures += check_exit(case, result.rc)
    failures += check_message(case, result.rc, result.stderr)
    failures += check_outputs_exist(case, ctx.work, result.rc)
    if case.check and result.rc == 0:
        failures += case.check(ctx, result)
    result.failures += failures


def _run_interrupted(case: Case, ctx: Context, isovox: str, before: dict, result: Result) -> None:
    spec = case.interrupt
    rc, out, err, seconds, note = execute_interrupted(case, ctx.work, isovox)
    after = snapshot(ctx.work)
    created = created_paths(before, after)
    killed = spec.sig == signal.SIGKILL
    first = {"rc": rc, "stderr": _first_line(err), "created": created, "stdout_all": out, "stderr_all": err}
    result.first_run, result.seconds = first, seconds
    done = [p for p in case.outputs if not any(ch in p for ch in "*?[") and p in {c.rstrip("/") for c in created}]
    if not note and case.outputs and len(done) == len(case.outputs):
        note = "the outputs were complete before the signal took effect: not interrupted"
    if note:
        result.notes.append(note)
    name = signal.Signals(spec.sig).name
    if has_traceback(out) or has_traceback(err):
        result.failures.append(f"traceback after {name}")
    elif not killed and rc not in (0, "hang"):
        result.failures += [f"after {name}: {problem}" for problem in check_message(case, rc, err)]
    if rc == 0 and not note:
        result.notes.append(f"exit 0 after {name} (finished anyway)")
    stale = [rel for rel in created if _is_temporary(rel)]
    if stale and not killed:
        result.failures.append(f"temporary left after {name}: {', '.join(stale)}")
    elif stale:
        result.notes.append(f"after {name}: {', '.join(stale)} (expected; the rerun must clean it)")
    result.failures += changed_inputs(before, after, case.outputs)
    if not spec.rerun or note:      # nothing was interrupted: the first run is the run
        result.rc, result.stdout, result.stderr = rc, out, err
        result.created = created
        if rc == "hang":
            result.failures.append("hang")
        if case.check:
            result.failures += case.check(ctx, result)
        result.failures += [f"leftover: {rel}" for rel in leftovers(created, case, rc, killed)]
        return
    result.rc, result.stdout, result.stderr, extra = execute(case.argv, ctx.work, isovox, case.timeout)
    result.seconds += extra
    _judge(replace(case, interrupt=None, expect=OK), ctx, before, result, killed=False)


# --- custom checks --------------------------------------------------------------------------------

def same_shape(a: str, b: str):
    """The two NIfTI files have the same array shape (read with nibabel, not isovox)."""
    def check(ctx: Context, result: Result) -> list[str]:
        import nibabel as nib

        try:
            shape_a, shape_b = nib.load(str(ctx.work / a)).shape, nib.load(str(ctx.work / b)).shape
        except Exception as error:
            return [f"cannot compare {a} and {b}: {error}"]
        return [] if shape_a == shape_b else [f"shape {a} {shape_a} != {b} {shape_b}"]
    return check


def readable(name: str):
    """``name`` is a complete volume (isovox reads it in a fresh process)."""
    def check(ctx: Context, result: Result) -> list[str]:
        done = subprocess.run([ctx.cache.isovox, "info", name], cwd=ctx.work, capture_output=True, text=True,
                              timeout=TIMEOUT)
        return [] if done.returncode == 0 else [f"{name} unreadable after the kill: {_first_line(done.stderr)}"]
    return check


# --- the cases, by class --------------------------------------------------------------------------

def usage_cases() -> list[Case]:
    R = "reconstruct lr.tif -o out.tif"
    return group("usage", [
        case("no-command", "", expect=ERR, help_ok=True),
        case("version", "--version", expect=OK),
        case("help", "--help", expect=OK),
        case("command-help", "reconstruct --help", expect=OK),
        case("unknown-command", "bogus lr.tif", "lr.tif"),
        case("reconstruct-missing-input", "reconstruct"),
        case("reconstruct-missing-o", "reconstruct lr.tif", "lr.tif"),
        case("reconstruct-o-without-value", "reconstruct lr.tif -o", "lr.tif"),
        case("reconstruct-unknown-option", f"{R} --bogus", "lr.tif"),
        case("reconstruct-spacing-2-values", f"{R} --spacing 40 4", "lr.tif"),
        case("reconstruct-spacing-4-values", f"{R} --spacing 40 4 4 4", "lr.tif"),
        case("reconstruct-spacing-not-numbers", f"{R} --spacing a b c", "lr.tif"),
        case("reconstruct-tile-float", f"{R} --tile 3.5 --model model", "lr.tif", "model"),
        case("reconstruct-block-size-word", f"{R.replace('out.tif', 'out.zarr')} --block-size big", "lr.tif"),
        case("simulate-missing-factor", "simulate iso.tif -o lr.tif", "iso.tif"),
        case("simulate-factor-not-number", "simulate iso.tif -o lr.tif --factor six", "iso.tif"),
        case("evaluate-missing-test", "evaluate ref.tif", "ref.tif"),
        case("evaluate-extra-argument", "evaluate ref.tif test.tif ref.tif", "ref.tif", "test.tif"),
        case("train-no-inputs", "train -o m --iterations 2"),
        case("train-missing-o", f"train lr.tif {TINY_TRAIN}", "lr.tif"),
        case("train-iterations-float", "train lr.tif -o m --iterations 2.5", "lr.tif"),
        case("run-missing-o", "run lr.tif", "lr.tif"),
        case("degrade-missing-model", "degrade iso.tif -o d.tif", "iso.tif"),
        case("info-missing-input", "info"),
        case("info-extra-argument", "info lr.tif lr.tif", "lr.tif"),
        case("info-unknown-unit", "info lr.tif --spacing 40 4 4 --unit parsec", "lr.tif"),
        case("info-channel-word", "info lr.tif --channel red", "lr.tif"),
        case("demo-iterations-word", "demo lr72.tif -o d --iterations many", "lr72.tif"),
        case("overwrite-with-value", f"{R} --overwrite=yes", "lr.tif"),
    ])


def bad_input_cases() -> list[Case]:
    def info(name, *setup, expect=ERR, extra="", **kw):
        return case(f"info-{name.replace('.', '-')}", f"info {name} {extra}".strip(), *setup, expect=expect, **kw)

    def recon(name, fixture, expect=ERR, extra="", out="out.tif", **kw):
        return case(f"reconstruct-{name}", f"reconstruct {fixture} -o {out} {extra}".strip(), fixture.split(':')[0],
                    expect=expect, out=(out,), **kw)

    return group("bad-input", [
        info("missing.tif"),
        info("folder.tif", mkdir("folder.tif")),
        info("data.xyz", write_text("data.xyz", "hello")),
        info("noext", write_text("noext", "hello")),
        info("truncated.tif", "truncated.tif"),
        info("random.tif", "random.tif"),
        info("empty.tif", "empty.tif"),
        info("text.tif", "text.tif"),
        info("random.nii", "random.nii"),
        info("random.nii.gz", "random.nii.gz"),
        info("random.h5", "random.h5"),
        info("random.mrc", "random.mrc"),
        info("huge.nii", "huge.nii"),
        info("huge.nii.gz", "huge.nii.gz"),
        info("zero_thickness.nii", "zero_thickness.nii"),
        case("info-zero-thickness-with-spacing", "info zero_thickness.nii --spacing 40 4 4 --unit nm",
             "zero_thickness.nii", expect=OK),
        case("info-complex-nii", "info complex.nii", "complex.nii", expect=OK,
             note="info describes complex data as such (nothing is cast); processing refuses it"),
        info("complex.tif", "complex.tif"),
        info("2d.tif", "2d.tif"),
        info("4d.tif", "4d.tif", note="ImageJ ZCYX: needs --channel"),
        case("info-4d-channel-1", "info 4d.tif --channel 1", "4d.tif", expect=OK),
        case("info-4d-channel-5", "info 4d.tif --channel 5", "4d.tif"),
        case("info-4d-channel-negative", "info 4d.tif --channel -1", "4d.tif"),
        case("info-3d-with-channel", "info lr.tif --channel 0", "lr.tif", expect=EITHER),
        info("4d_plain.tif", "4d_plain.tif"),
        info("nospacing.tif", "nospacing.tif", note="no spacing metadata: must ask for --spacing"),
        case("info-nospacing-with-spacing", "info nospacing.tif --spacing 40 4 4", "nospacing.tif", expect=OK),
        info("nospacing.h5", "nospacing.h5"),
        info("multi.h5", "multi.h5", note="two datasets: must ask which"),
        case("info-h5-missing-dataset", "info lr.h5:/nothing", "lr.h5"),
        case("info-h5-dataset", "info lr.h5:/raw", "lr.h5", expect=OK),
        info("empty.zarr", mkdir("empty.zarr")),
        info("file.zarr", write_text("file.zarr", "not a folder")),
        info("missing_chunk.zarr", "missing_chunk.zarr", expect=EITHER,
             note="Zarr reads a missing chunk as the fill value"),
        case("info-symlink-loop", "info loop.tif", symlink("loop.tif", "loop.tif")),
        case("info-dangling-symlink", "info gone.tif", symlink("gone.tif", "nowhere.tif")),
        info("nan.tif", "nan.tif", expect=EITHER),
        info("const.tif", "const.tif", expect=OK),
        info("tiny.tif", "tiny.tif", expect=EITHER),
        recon("truncated-tif", "truncated.tif"),
        recon("random-bytes", "random.tif"),
        recon("huge-header-nifti", "huge.nii", out="out.nii"),
        recon("huge-header-nifti-gz", "huge.nii.gz", out="out.nii.gz"),
        recon("zero-thickness-nifti", "zero_thickness.nii", out="out.nii"),
        recon("complex-tif", "complex.tif"),
        recon("complex-nifti", "complex.nii", out="out.nii"),
        recon("2d", "2d.tif"),
        recon("4d-no-channel", "4d.tif"),
        recon("missing-chunk-zarr", "missing_chunk.zarr", expect=EITHER, out="out.zarr"),
        recon("missing-chunk-zarr-blockwise", "missing_chunk.zarr", expect=EITHER, out="out.zarr",
              extra="--block-size 64 --workers 1", blockwise=True),
        recon("constant", "const.tif", expect=OK),
        case("reconstruct-all-zero-model", "reconstruct zeros.tif -o out.tif --model model", "zeros.tif", "model",
             expect=EITHER, out=("out.tif",)),
        recon("nan", "nan.tif", expect=EITHER),
        recon("some-nan", "somenan.tif", expect=EITHER),
        recon("inf", "inf.tif", expect=EITHER),
        recon("float64", "float64.tif", expect=OK),
        recon("int16", "int16.tif", expect=OK),
        recon("one-slice", "one_slice.tif", expect=EITHER),
        recon("two-slices", "two_slices.tif", expect=EITHER),
        recon("2x2x2", "tiny.tif", expect=EITHER),
        recon("isotropic-input", "iso.tif", expect=EITHER, note="no coarse axis"),
        case("reconstruct-nan-model", "reconstruct nan.tif -o out.tif --model model", "nan.tif", "model",
             expect=EITHER, out=("out.tif",)),
        case("evaluate-shape-mismatch", "evaluate ref.tif lr.tif", "ref.tif", "lr.tif"),
        case("evaluate-mask-shape-mismatch", "evaluate ref.tif test.tif --mask badmask.tif",
             "ref.tif", "test.tif", "badmask.tif"),
        case("evaluate-nan", "evaluate nan.tif nan.tif", "nan.tif", expect=EITHER),
        case("evaluate-constant", "evaluate const.tif const.tif", "const.tif", expect=EITHER),
        case("evaluate-labels-float", "evaluate ref.tif test.tif --labels", "ref.tif", "test.tif", expect=EITHER),
        case("evaluate-random-bytes", "evaluate ref.tif random.tif", "ref.tif", "random.tif"),
        case("train-constant", f"train const.tif -o m {TINY_TRAIN}", "const.tif", expect=EITHER, out=("m",)),
        case("train-nan", f"train nan.tif -o m {TINY_TRAIN}", "nan.tif", expect=EITHER, out=("m",)),
        case("train-two-slices", f"train two_slices.tif -o m {TINY_TRAIN}", "two_slices.tif", expect=EITHER,
             out=("m",)),
        case("train-isotropic", f"train iso.tif -o m {TINY_TRAIN}", "iso.tif", expect=EITHER, out=("m",)),
        case("simulate-truncated", "simulate truncated.tif -o lr.tif --factor 4", "truncated.tif"),
        case("simulate-nan", "simulate nan.tif -o lr.tif --factor 4", "nan.tif", expect=EITHER,
             out=("lr.tif", "lr_gt.tif", "lr_degradation.json")),
        case("degrade-random-bytes", "degrade random.tif -o d.tif --model dlmodel", "random.tif", "dlmodel"),
        case("demo-missing-input", "demo missing.tif -o d --iterations 2"),
        case("demo-random-bytes", "demo random.tif -o d --iterations 2", "random.tif"),
    ])


def replace_input_cases() -> list[Case]:
    W = "--overwrite"
    return group("replace-input", [
        case("reconstruct-o-input", f"reconstruct lr.tif -o lr.tif {W}", "lr.tif"),
        case("reconstruct-o-input-alias", f"reconstruct lr.tif -o sub/../lr.tif {W}", "lr.tif", mkdir("sub")),
        case("reconstruct-o-symlink-to-input", f"reconstruct lr.tif -o link.tif {W}", "lr.tif",
             symlink("link.tif", "lr.tif"), expect=EITHER, out=("link.tif",)),
        case("reconstruct-o-input-zarr", f"reconstruct lr.zarr -o lr.zarr {W}", "lr.zarr"),
        case("reconstruct-o-input-zarr-blockwise", f"reconstruct lr.zarr -o lr.zarr {W} --block-size 32 --workers 1",
             "lr.zarr", blockwise=True),
        case("reconstruct-o-same-h5-file", f"reconstruct lr.h5:/raw -o lr.h5:/iso {W}", "lr.h5",
             note="an atomic write replaces the whole HDF5 file that holds the input"),
        case("reconstruct-o-model-weights", f"reconstruct lr.tif -o model/weights.pt {W} --model model",
             "lr.tif", "model"),
        case("simulate-o-input", f"simulate iso.tif -o iso.tif --factor 4 {W}", "iso.tif"),
        case("simulate-gt-input", f"simulate iso.tif -o lr.tif --gt iso.tif --factor 4 {W}", "iso.tif"),
        case("simulate-gt-equals-o", "simulate iso.tif -o lr.tif --gt lr.tif --factor 4", "iso.tif"),
        case("simulate-gt-equals-o-overwrite", f"simulate iso.tif -o lr.tif --gt lr.tif --factor 4 {W}", "iso.tif"),
        case("simulate-default-gt-is-input", f"simulate a_gt.tif -o a.tif --factor 4 {W}", "a_gt.tif",
             note="a.tif's default ground truth is a_gt.tif, the input"),
        case("train-o-input", f"train lr.tif -o lr.tif {W} {TINY_TRAIN}", "lr.tif"),
        case("train-o-folder-of-input", f"train d/lr.tif -o d {W} {TINY_TRAIN}", "lr.tif->d/lr.tif"),
        case("train-o-cwd", f"train lr.tif -o . {W} {TINY_TRAIN}", "lr.tif"),
        case("train-o-parent-of-input", f"train a/b/lr.tif -o a {W} {TINY_TRAIN}", "lr.tif->a/b/lr.tif"),
        case("train-o-hr-reference", f"train --method supervised3d --hr iso.tif -o iso.tif --factor 4 {W} "
             "--iterations 2 --patch-size 16", "iso.tif"),
        case("run-model-dir-input", f"run lr72.tif -o out.tif --model-dir lr72.tif {W} --iterations 2", "lr72.tif"),
        case("run-model-dir-folder-of-input", f"run d/lr72.tif -o out.tif --model-dir d {W} --iterations 2",
             "lr72.tif->d/lr72.tif"),
        case("run-o-input", f"run lr72.tif -o lr72.tif {W} --iterations 2", "lr72.tif"),
        case("run-model-dir-equals-o", "run lr72.tif -o out.tif --model-dir out.tif --iterations 2", "lr72.tif"),
        case("evaluate-o-test", f"evaluate ref.tif test.tif -o test.tif {W}", "ref.tif", "test.tif"),
        case("evaluate-o-reference", f"evaluate ref.tif test.tif -o ref.tif {W}", "ref.tif", "test.tif"),
        case("evaluate-o-mask", f"evaluate ref.tif test.tif --mask mask.tif -o mask.tif {W}",
             "ref.tif", "test.tif", "mask.tif"),
        case("degrade-o-input", f"degrade iso.tif -o iso.tif --model dlmodel {W}", "iso.tif", "dlmodel"),
        case("degrade-o-model-folder", f"degrade iso.tif -o dlmodel {W} --model dlmodel", "iso.tif", "dlmodel"),
        case("demo-o-folder-of-input", f"demo d/lr72.tif -o d {W} --iterations 2 --crop 72", "lr72.tif->d/lr72.tif",
             expect=EITHER, out=("d/lr72_*", "d/model", "d/report.json"),
             note="demo writes new files into the folder; the input must survive"),
        case("reconstruct-o-existing-no-overwrite", "reconstruct lr.tif -o out.tif", "lr.tif", "test.tif->out.tif"),
        case("reconstruct-o-existing-overwrite", f"reconstruct lr.tif -o out.tif {W}", "lr.tif", "test.tif->out.tif",
             expect=OK, out=("out.tif",)),
        case("train-o-existing-model-no-overwrite", f"train lr.tif -o model {TINY_TRAIN}", "lr.tif", "model"),
    ])


def float32_cases() -> list[Case]:
    def nifti_case(name, spacing, factor, target, extra_sim=""):
        source = volume_fixture((60, 40, 40), (spacing,) * 3, unit="mm", seed=5)

        def make_source(ctx: Context) -> None:
            source(ctx.work / "hr.nii.gz", ctx.cache)

        argv = "reconstruct lr.nii.gz -o rec.nii.gz" + (f" --target-spacing {target}" if target else "")
        return case(f"float32-{name}", argv, make_source,
                    run_cli(f"simulate hr.nii.gz -o lr.nii.gz --factor {factor} {extra_sim}"),
                    expect=OK, out=("rec.nii.gz",), check=same_shape("rec.nii.gz", "lr_gt.nii.gz"),
                    note=f"hr {spacing} mm, factor {factor}: slice count must equal lr_gt.nii.gz's")

    return group("float32-spacing", [
        nifti_case("1.1mm-x3-target", 1.1, 3, 1.1),
        nifti_case("1.1mm-x3-default", 1.1, 3, None),
        nifti_case("0.1mm-x3-target", 0.1, 3, 0.1),
        nifti_case("0.7mm-x6.5-target", 0.7, 6.5, 0.7),
        nifti_case("0.3mm-x5-target", 0.3, 5, 0.3),
        nifti_case("1.1mm-x3-target-triple", 1.1, 3, "1.1 --target-spacing 1.1 --target-spacing 1.1"),
        nifti_case("0.9mm-x4-take", 0.9, 4, 0.9, "--recipe take"),
    ])


def values_cases() -> list[Case]:
    S = "simulate iso.tif -o lr.tif --factor 4"
    SO = ("lr.tif", "lr_gt.tif", "lr_degradation.json")
    R = "reconstruct lr.tif -o out.tif"
    RB = "reconstruct lr.tif -o out.zarr"
    RM = f"{R} --model model"
    T = "train lr.tif -o m"
    D = "degrade iso.tif -o d.tif --model dlmodel"

    def sim(name, extra, expect=ERR, **kw):
        return case(f"simulate-{name}", f"{S} {extra}".replace("--factor 4 --factor", "--factor"), "iso.tif",
                    expect=expect, out=SO, **kw)

    def rec(name, extra, expect=ERR, model=False, **kw):
        setup = ("lr.tif", "model") if model else ("lr.tif",)
        return case(f"reconstruct-{name}", f"{RM if model else R} {extra}", *setup, expect=expect, out=("out.tif",), **kw)

    def block(name, extra, expect=ERR, **kw):
        return case(f"blockwise-{name}", f"{RB} {extra}", "lr.tif", expect=expect, out=("out.zarr",),
                    blockwise=True, **kw)

    def train(name, extra, expect=ERR, base=TINY_TRAIN, **kw):
        return case(f"train-{name}", f"{T} {base} {extra}", "lr.tif", expect=expect, out=("m",), **kw)

    def degrade(name, extra, expect=ERR, **kw):
        return case(f"degrade-{name}", f"{D} {extra}", "iso.tif", "dlmodel", expect=expect, out=("d.tif",), **kw)

    return group("values", [
        sim("thickness-1e9", "--thickness 1e9", EITHER),
        sim("thickness-0", "--thickness 0", EITHER),
        sim("thickness-negative", "--thickness -4"),
        sim("thickness-nan", "--thickness nan"),
        sim("factor-0", "--factor 0"),
        sim("factor-negative", "--factor -4"),
        sim("factor-nan", "--factor nan"),
        sim("factor-inf", "--factor inf"),
        sim("factor-below-1", "--factor 0.5"),
        sim("factor-1", "--factor 1", EITHER),
        sim("factor-1e6", "--factor 1e6"),
        sim("factor-48", "--factor 48", EITHER, note="one slice left"),
        sim("axis-w", "--axis w"),
        sim("recipe-banana", "--recipe banana"),
        sim("offset-negative", "--offset -1"),
        sim("offset-past-end", "--offset 1000"),
        sim("noise-negative", "--noise -1"),
        sim("noise-nan", "--noise nan"),
        sim("seed-negative", "--seed -1", EITHER),
        sim("spacing-zero", "--spacing 0 4 4"),
        sim("spacing-negative", "--spacing 4 -4 4"),
        sim("spacing-nan", "--spacing nan 4 4"),
        sim("spacing-inf", "--spacing inf 4 4"),
        sim("channel-on-3d", "--channel 3"),
        rec("target-spacing-zero", "--target-spacing 0"),
        rec("target-spacing-negative", "--target-spacing -4"),
        rec("target-spacing-nan", "--target-spacing nan"),
        rec("target-spacing-inf", "--target-spacing inf"),
        rec("target-spacing-absurdly-fine", "--target-spacing 1e-6"),
        rec("target-spacing-coarser-than-input", "--target-spacing 1000", EITHER),
        rec("target-spacing-2-values", "--target-spacing 4 --target-spacing 4"),
        rec("target-spacing-identity", "--target-spacing 40 --target-spacing 4 --target-spacing 4", EITHER),
        rec("dtype-banana", "--dtype banana"),
        rec("dtype-complex", "--dtype complex64"),
        rec("dtype-object", "--dtype object"),
        rec("dtype-float32", "--dtype float32", OK),
        rec("method-banana", "--method banana"),
        rec("axis-q", "--axis q"),
        rec("axis-not-coarse", "--axis x", EITHER),
        rec("spacing-zero", "--spacing 0 4 4"),
        rec("spacing-nan", "--spacing nan 4 4"),
        rec("spacing-inf", "--spacing 40 inf 4"),
        rec("unit-banana", "--spacing 40 4 4 --unit banana"),
        rec("device-cuda", "--device cuda", model=True, note="no CUDA on this machine"),
        rec("device-cuda-99", "--device cuda:99", model=True),
        rec("device-banana", "--device banana", model=True),
        rec("device-cuda-no-model", "--device cuda", EITHER, note="--device applies with --model only"),
        rec("batch-size-0", "--batch-size 0", model=True),
        rec("batch-size-negative", "--batch-size -1", model=True),
        rec("tile-3", "--tile 3", EITHER, model=True),
        rec("tile-0", "--tile 0", model=True),
        rec("tile-negative", "--tile -8", model=True),
        block("block-size-1", "--block-size 1 --workers 1", timeout=120),
        block("block-size-0", "--block-size 0"),
        block("block-size-negative", "--block-size -5"),
        block("block-size-2-values", "--block-size 16 --block-size 16"),
        block("workers-0", "--workers 0"),
        block("workers-negative", "--workers -1"),
        block("scheduler-unreachable", "--scheduler tcp://127.0.0.1:1", timeout=60,
              note="nothing listens on port 1: must fail fast"),
        block("scheduler-banana", "--scheduler banana", timeout=60),
        case("blockwise-tif-output", "reconstruct lr.tif -o out.tif --block-size 32 --workers 1", "lr.tif",
             expect=EITHER, out=("out.tif",), blockwise=True, note="blockwise writes Zarr"),
        train("target-spacing-0", "--target-spacing 0"),
        train("target-spacing-negative", "--target-spacing -4"),
        train("target-spacing-nan", "--target-spacing nan"),
        train("patch-size-0", "--patch-size 0", base="--iterations 2 --recipe gaussian"),
        train("patch-size-negative", "--patch-size -24", base="--iterations 2 --recipe gaussian"),
        train("patch-size-1", "--patch-size 1", base="--iterations 2 --recipe gaussian"),
        train("batch-size-0", "--batch-size 0"),
        train("batch-size-negative", "--batch-size -1"),
        train("iterations-0", "--iterations 0", base="--patch-size 24 --recipe gaussian"),
        train("iterations-negative", "--iterations -1", base="--patch-size 24 --recipe gaussian"),
        train("minutes-negative", "--minutes -1", base="--patch-size 24 --recipe gaussian"),
        train("minutes-0", "--minutes 0", base="--patch-size 24 --recipe gaussian"),
        train("minutes-nan", "--minutes nan", base="--patch-size 24 --recipe gaussian"),
        train("minutes-inf-iterations-2", "--minutes inf", EITHER),
        train("fwhm-0", "--fwhm 0"),
        train("fwhm-negative", "--fwhm -40"),
        train("noise-negative", "--noise -0.1"),
        train("set-lr-notjson", "--set lr=notjson"),
        train("set-no-equals", "--set lr"),
        train("set-empty-key", "--set =1"),
        train("set-unknown-key", "--set banana=1"),
        train("set-lr-negative", "--set lr=-1"),
        train("method-banana", "--method banana"),
        train("arch-banana", "--arch banana"),
        train("preset-banana", "--preset banana"),
        train("recipe-banana", "--recipe banana"),
        train("device-cuda", "--device cuda", note="no CUDA on this machine"),
        train("device-banana", "--device banana"),
        train("seed-negative", "--seed -1", EITHER),
        train("channel-on-3d", "--channel 2"),
        train("spacing-zero", "--spacing 0 4 4"),
        case("train-hr-with-selfsup", f"{T} --hr iso.tif {TINY_TRAIN}", "lr.tif", "iso.tif"),
        case("train-two-inputs-selfsup", f"train lr.tif lr6.tif -o m {TINY_TRAIN}", "lr.tif", "lr6.tif"),
        degrade("batch-size-0", "--batch-size 0"),
        degrade("batch-size-negative", "--batch-size -1"),
        degrade("axis-q", "--axis q"),
        degrade("device-cuda", "--device cuda"),
        degrade("device-banana", "--device banana"),
        degrade("spacing-nan", "--spacing nan 4 4"),
        case("run-iterations-0", "run lr72.tif -o out.tif --iterations 0", "lr72.tif", out=("out.tif", "out_model")),
        case("run-iterations-negative", "run lr72.tif -o out.tif --iterations -1", "lr72.tif",
             out=("out.tif", "out_model")),
        case("run-minutes-negative", "run lr72.tif -o out.tif --minutes -1", "lr72.tif", out=("out.tif", "out_model")),
        case("run-method-banana", "run lr72.tif -o out.tif --method banana --iterations 2", "lr72.tif"),
        case("run-arch-banana", "run lr72.tif -o out.tif --arch banana --iterations 2", "lr72.tif"),
        case("run-device-cuda", "run lr72.tif -o out.tif --device cuda --iterations 2", "lr72.tif"),
        case("evaluate-border-negative", "evaluate ref.tif test.tif --border -1", "ref.tif", "test.tif"),
        case("evaluate-border-huge", "evaluate ref.tif test.tif --border 100", "ref.tif", "test.tif"),
        case("evaluate-planes-bogus", "evaluate ref.tif test.tif --planes xq", "ref.tif", "test.tif"),
        case("evaluate-planes-empty", "evaluate ref.tif test.tif --planes ,", "ref.tif", "test.tif"),
        case("demo-crop-0", "demo lr72.tif -o d --crop 0 --iterations 2", "lr72.tif", out=("d",)),
        case("demo-crop-negative", "demo lr72.tif -o d --crop -5 --iterations 2", "lr72.tif", out=("d",)),
        case("demo-iterations-0", "demo lr72.tif -o d --iterations 0", "lr72.tif", out=("d",)),
        case("info-spacing-zero", "info lr.tif --spacing 0 4 4", "lr.tif"),
        case("info-spacing-1e-300", "info lr.tif --spacing 1e-300 4 4", "lr.tif", expect=EITHER),
    ])


def model_folder_cases() -> list[Case]:
    def rec(model, expect=ERR, source="lr.tif", extra="", **kw):
        return case(f"reconstruct-{model.replace('_', '-')}", f"reconstruct {source} -o out.tif --model {model} {extra}",
                    source, model, expect=expect, out=("out.tif",), **kw)

    return group("model-folder", [
        rec("model_random_weights"),
        rec("model_truncated_weights"),
        rec("model_no_weights"),
        rec("model_no_config"),
        rec("model_bad_json"),
        rec("model_string_factor"),
        rec("model_negative_factor"),
        rec("model_nan_factor"),
        rec("model_unknown_arch"),
        rec("model_empty"),
        case("reconstruct-model-missing", "reconstruct lr.tif -o out.tif --model nowhere", "lr.tif"),
        case("reconstruct-model-is-a-file", "reconstruct lr.tif -o out.tif --model lr.tif", "lr.tif"),
        case("reconstruct-model-factor-mismatch", "reconstruct lr6.tif -o out.tif --model model", "lr6.tif", "model",
             note="model learned x10, the volume is x6"),
        case("reconstruct-model-ok", "reconstruct lr.tif -o out.tif --model model", "lr.tif", "model", expect=OK,
             out=("out.tif",)),
        case("reconstruct-model-blockwise", "reconstruct lr.tif -o out.zarr --model model --block-size 32 --workers 1",
             "lr.tif", "model", expect=OK, out=("out.zarr",), blockwise=True),
        case("reconstruct-asmodel-target-8", "reconstruct lr.tif -o out.tif --model asmodel --target-spacing 8",
             "lr.tif", "asmodel", expect=OK, out=("out.tif",)),
        case("reconstruct-dlmodel", "reconstruct lr.tif -o out.tif --model dlmodel", "lr.tif", "dlmodel",
             expect=EITHER, out=("out.tif",)),
        case("run-model-dir-is-broken-model", "run lr72.tif -o out.tif --model-dir model_random_weights --iterations 2",
             "lr72.tif", "model_random_weights"),
        case("degrade-bad-degradation-pt", "degrade iso.tif -o d.tif --model dlmodel_bad_degradation",
             "iso.tif", "dlmodel_bad_degradation"),
        case("degrade-selfsup-model", "degrade iso.tif -o d.tif --model model", "iso.tif", "model",
             note="not a degradation-learning model"),
        case("degrade-model-missing", "degrade iso.tif -o d.tif --model nowhere", "iso.tif"),
        case("degrade-random-weights", "degrade iso.tif -o d.tif --model model_random_weights",
             "iso.tif", "model_random_weights"),
        case("degrade-anisotropic-input", "degrade lr.tif -o d.tif --model dlmodel", "lr.tif", "dlmodel",
             expect=EITHER, out=("d.tif",), note="input not at the model's target spacing"),
    ])


def methods_cases() -> list[Case]:
    def train(name, argv, *setup, expect=OK, **kw):
        return case(f"train-{name}", f"train {argv} -o m", *setup, expect=expect, out=("m",), **kw)

    def run(name, extra, expect=EITHER, **kw):
        return case(f"run-{name}", f"run lr72.tif -o out.tif {extra}", "lr72.tif", expect=expect,
                    out=("out.tif", "out_model"), **kw)

    archs = [train(f"selfsup-{arch}", f"lr.tif --arch {arch} {TINY_TRAIN}", "lr.tif")
             for arch in ("drcnet", "a2i", "edsr", "rcan", "rdn", "vdsr", "isonet1", "isonet2")]
    return group("methods", [
        *archs,
        train("selfsup-default-patch-48px", "lr.tif --iterations 2 --recipe gaussian", "lr.tif", expect=EITHER,
              note="default patch 64 > 48 px plane: a clean one-line refusal is fine"),
        train("selfsup-minutes", "lr.tif --minutes 0.05 --patch-size 24 --recipe gaussian", "lr.tif"),
        train("selfsup-default-recipe-48px", "lr.tif --iterations 2 --patch-size 24", "lr.tif", expect=EITHER,
              note="recipe auto estimates the profile; a 48 px plane may be too small: a clean refusal is fine"),
        train("selfsup-default-recipe-72px", "lr72.tif --iterations 2", "lr72.tif"),
        train("supervised3d", "--method supervised3d --hr iso.tif --factor 4 --iterations 2 --patch-size 16", "iso.tif"),
        train("supervised3d-kspace", "--method supervised3d --hr iso.tif --factor 2 --axes yx --recipe kspace "
              "--iterations 2 --patch-size 16", "iso.tif"),
        train("supervised3d-gan", "--method supervised3d --hr iso.tif --factor 4 --gan --iterations 2 --patch-size 16",
              "iso.tif", timeout=180, note="--iterations 2 alone: the GAN phase keeps its own budget"),
        train("supervised3d-gan-own-budget", "--method supervised3d --hr iso.tif --factor 4 --gan --iterations 2 "
              "--patch-size 16 --set gan_iterations=2 --set critic_warmup=2", "iso.tif", timeout=180),
        train("supervised3d-dcsrn", "--method supervised3d --arch dcsrn --hr iso.tif --factor 4 --iterations 2 "
              "--patch-size 16", "iso.tif"),
        train("supervised3d-deepresolve", "--method supervised3d --arch deepresolve --hr iso.tif --factor 4 "
              "--iterations 2 --patch-size 16", "iso.tif"),
        train("supervised3d-no-factor", "--method supervised3d --hr iso.tif --iterations 2", "iso.tif", expect=ERR),
        train("supervised3d-anisotropic-hr", "--method supervised3d --hr lr.tif --factor 4 --iterations 2 "
              "--patch-size 16", "lr.tif", expect=ERR),
        train("supervised3d-target-spacing", "--method supervised3d --hr iso.tif --factor 4 --target-spacing 2 "
              "--iterations 2", "iso.tif", expect=ERR),
        train("arbitrary-scale", f"lr.tif --method arbitrary-scale {TINY_TRAIN}", "lr.tif"),
        train("arbitrary-scale-fwhm", f"lr.tif --method arbitrary-scale --fwhm 40 {TINY_TRAIN}", "lr.tif", expect=ERR),
        train("degradation-learning", "lr.tif --method degradation-learning --iterations 2 --patch-size 32 "
              "--set cycle_iterations=2", "lr.tif"),
        train("degradation-learning-patch-24", "lr.tif --method degradation-learning --iterations 2 --patch-size 24 "
              "--set cycle_iterations=2", "lr.tif", expect=EITHER),
        train("degradation-learning-recipe", "lr.tif --method degradation-learning --recipe box --iterations 2 "
              "--patch-size 32", "lr.tif", expect=ERR),
        train("vae-two-stage", "lr.tif --method vae-two-stage --factor 10 --iterations 2 --patch-size 16 "
              "--set warmup_iterations=1 --set adversarial_iterations=1 --set compact_iterations=1", "lr.tif",
              timeout=180),
        train("vae-two-stage-two-inputs", "lr.tif lr2.tif --method vae-two-stage --factor 10 --iterations 2 "
              "--patch-size 16 --set warmup_iterations=1 --set adversarial_iterations=1 --set compact_iterations=1",
              "lr.tif", "lr.tif->lr2.tif", timeout=180),
        train("vae-two-stage-minutes", "lr.tif --method vae-two-stage --factor 10 --minutes 0.05", "lr.tif",
              expect=ERR),
        train("vae-two-stage-no-factor", "lr.tif --method vae-two-stage --iterations 2 --patch-size 16 "
              "--set warmup_iterations=1 --set adversarial_iterations=1 --set compact_iterations=1", "lr.tif",
              expect=EITHER, timeout=180),
        run("selfsup", "--iterations 2", expect=OK),
        run("selfsup-minutes", "--minutes 0.05", expect=OK),
        case("run-selfsup-48px", "run lr.tif -o out.tif --iterations 2", "lr.tif", expect=EITHER,
             out=("out.tif", "out_model"), note="48 px planes, default patch 64; run has no --patch-size"),
        run("supervised3d", "--method supervised3d --iterations 2", note="run has no --hr / --factor"),
        run("arbitrary-scale", "--method arbitrary-scale --iterations 2"),
        run("degradation-learning", "--method degradation-learning --iterations 2",
            note="--iterations 2 alone: stage one keeps its own budget (cycle_iterations)"),
        run("vae-two-stage", "--method vae-two-stage --iterations 2", note="run has no --factor"),
        run("degradation-learning-own-budget", "--method degradation-learning --iterations 2 "
            "--set cycle_iterations=2", expect=OK),
        run("vae-two-stage-own-budget", "--method vae-two-stage --iterations 2 --set warmup_iterations=1 "
            "--set adversarial_iterations=1 --set compact_iterations=1 --set patch_size=16", expect=OK, timeout=180),
        case("demo-tiny", "demo lr72.tif -o d --iterations 2 --crop 72", "lr72.tif", expect=OK, out=("d",)),
        case("demo-default-sample", "demo -o d --iterations 2", expect=EITHER, out=("d",), timeout=900,
             note="the cached (or fetched) CREMI sample, 320 x 320 window, self-check included; "
                  "a clean one-line refusal is fine where the sample cannot be fetched"),
        case("degrade-ok", "degrade iso.tif -o d.tif --model dlmodel", "iso.tif", "dlmodel", expect=OK, out=("d.tif",)),
    ])


def disk_full_cases() -> list[Case]:
    def full(name, argv, *setup, free=0, size="256k", **kw):
        return case(f"disk-full-{name}", argv, *setup, tmpfs("full", size, free), expect=NONZERO, **kw)

    return group("disk-full", [
        full("reconstruct-tif", "reconstruct lr.tif -o full/out.tif", "lr.tif", free=64 << 10),
        full("reconstruct-nii-gz", "reconstruct lr.tif -o full/out.nii.gz", "lr.tif", free=16 << 10),
        full("reconstruct-h5", "reconstruct lr.tif -o full/out.h5", "lr.tif", free=64 << 10),
        full("reconstruct-mrc", "reconstruct lr.tif -o full/out.mrc", "lr.tif", free=64 << 10),
        full("reconstruct-zarr", "reconstruct lr.tif -o full/out.zarr", "lr.tif", free=16 << 10),
        full("reconstruct-blockwise", "reconstruct lr.tif -o full/out.zarr --block-size 32 --workers 1", "lr.tif",
             free=16 << 10, blockwise=True),
        full("simulate-second-file", "simulate iso.tif -o full/lr.tif --factor 4", "iso.tif", free=60 << 10,
             note="lr.tif fits, lr_gt.tif does not: neither may remain"),
        full("train", f"train lr.tif -o full/m {TINY_TRAIN}", "lr.tif", free=64 << 10),
        full("evaluate-json", "evaluate ref.tif test.tif -o full/r.json", "ref.tif", "test.tif", free=0),
        full("degrade", "degrade iso.tif -o full/d.tif --model dlmodel", "iso.tif", "dlmodel", free=0),
        full("run", "run lr72.tif -o full/out.tif --iterations 2", "lr72.tif", free=64 << 10),
        full("demo", "demo lr72.tif -o full/d --iterations 2 --crop 72", "lr72.tif", free=64 << 10),
    ])


def interrupted_cases() -> list[Case]:
    big = "reconstruct big.tif -o out.nii.gz"
    zarr = "reconstruct big.tif -o out.zarr"
    blocks = "reconstruct big.tif -o out.zarr --block-size 32 --workers 1"
    train = "train lr.tif -o m --minutes 0.25 --patch-size 24 --recipe gaussian"

    def cut(name, argv, sig, *setup, out, trigger="*.isovox-tmp-*", delay=0.0, group_=False, rerun=True, **kw):
        return case(f"interrupt-{name}", argv, *setup, expect=OK, out=out,
                    interrupt=Interrupt(sig, trigger, delay, group_, rerun), timeout=180, **kw)

    return group("interrupted", [
        cut("sigterm-reconstruct-write", big, signal.SIGTERM, "big.tif", out=("out.nii.gz",)),
        cut("sigint-reconstruct-write", big, signal.SIGINT, "big.tif", out=("out.nii.gz",)),
        cut("sigkill-reconstruct-write", big, signal.SIGKILL, "big.tif", out=("out.nii.gz",), group_=True),
        cut("sigterm-reconstruct-zarr-write", zarr, signal.SIGTERM, "big.tif", out=("out.zarr",)),
        cut("sigkill-reconstruct-zarr-write", zarr, signal.SIGKILL, "big.tif", out=("out.zarr",), group_=True),
        cut("sigkill-overwrite-keeps-old-output", f"{big} --overwrite", signal.SIGKILL, "big.tif",
            "lr.tif->sub/lr.tif", run_cli("reconstruct sub/lr.tif -o out.nii.gz"), out=("out.nii.gz",),
            group_=True, rerun=False, check=readable("out.nii.gz"),
            note="killed mid-replacement: out.nii.gz must still be a whole volume"),
        cut("sigterm-simulate-write", "simulate big_iso.tif -o lr.tif --factor 4", signal.SIGTERM,
            "big.tif->big_iso.tif", out=("lr.tif", "lr_gt.tif", "lr_degradation.json"),
            note="big_iso.tif read with its 40 x 4 x 4 nm spacing"),
        cut("sigterm-blockwise", blocks, signal.SIGTERM, "big.tif", out=("out.zarr",), trigger=BLOCK_WORK,
            delay=0.5, blockwise=True),
        cut("sigkill-blockwise", blocks, signal.SIGKILL, "big.tif", out=("out.zarr",), trigger=BLOCK_WORK,
            delay=0.5, group_=True, blockwise=True),
        cut("sigterm-train", train, signal.SIGTERM, "lr.tif", out=("m",), trigger=TRAIN_WORK, delay=3.0),
        cut("sigint-train", train, signal.SIGINT, "lr.tif", out=("m",), trigger=TRAIN_WORK, delay=3.0),
        cut("sigkill-train", train, signal.SIGKILL, "lr.tif", out=("m",), trigger=TRAIN_WORK, delay=3.0,
            group_=True),
    ])


def outputs_cases() -> list[Case]:
    R = "reconstruct lr.tif -o"
    return group("outputs", [
        case("reconstruct-o-missing-folder", f"{R} nowhere/out.tif", "lr.tif"),
        case("reconstruct-o-unknown-suffix", f"{R} out.xyz", "lr.tif"),
        case("reconstruct-o-no-suffix", f"{R} out", "lr.tif"),
        case("reconstruct-o-existing-folder", f"{R} folder.tif --overwrite", "lr.tif", mkdir("folder.tif"),
             "test.tif->folder.tif/precious.tif", expect=EITHER, out=("folder.tif",),
             note="replacing a folder with a file: refusing is kinder"),
        case("reconstruct-o-under-a-file", f"{R} lr.tif/out.tif", "lr.tif"),
        case("simulate-gt-missing-folder", "simulate iso.tif -o lr.tif --gt nowhere/gt.tif --factor 4", "iso.tif"),
        case("simulate-gt-unknown-suffix", "simulate iso.tif -o lr.tif --gt gt.xyz --factor 4", "iso.tif"),
        case("simulate-record-exists", "simulate iso.tif -o lr.tif --factor 4", "iso.tif",
             write_text("lr_degradation.json", "{}"), note="the third output exists: refuse before writing any"),
        case("train-o-missing-folder", f"train lr.tif -o nowhere/m {TINY_TRAIN}", "lr.tif"),
        case("train-o-existing-file", f"train lr.tif -o m.tif {TINY_TRAIN}", "lr.tif", "test.tif->m.tif"),
        case("evaluate-o-missing-folder", "evaluate ref.tif test.tif -o nowhere/r.json", "ref.tif", "test.tif"),
        case("evaluate-o-exists", "evaluate ref.tif test.tif -o r.json", "ref.tif", "test.tif",
             write_text("r.json", "{}")),
        case("run-o-model-dir-exists", "run lr72.tif -o out.tif --iterations 2", "lr72.tif", "model->out_model"),
        case("degrade-o-unknown-suffix", "degrade iso.tif -o d.xyz --model dlmodel", "iso.tif", "dlmodel"),
        case("demo-o-is-a-file", "demo lr72.tif -o d.tif --iterations 2 --crop 72", "lr72.tif", "test.tif->d.tif"),
    ])


def edge_ok_cases() -> list[Case]:
    def rec(name, argv, *setup, out, **kw):
        return case(f"reconstruct-{name}", argv, *setup, expect=OK, out=out, **kw)

    formats = [rec(f"to-{suffix.strip('.').replace('.', '-').replace(':/', '-')}", f"reconstruct lr.tif -o out{suffix}",
                   "lr.tif", out=(f"out{suffix.split(':')[0]}",))
               for suffix in (".tif", ".ome.tif", ".nii", ".nii.gz", ".h5", ".h5:/iso", ".zarr", ".ome.zarr", ".mrc")]
    inputs = [rec(f"from-{name.replace('.', '-').replace(':/', '-')}", f"reconstruct {name} -o out.tif", name.split(':')[0], out=("out.tif",))
              for name in ("lr.nii.gz", "lr.nii", "lr.h5", "lr.h5:/raw", "lr.zarr", "lr.mrc")]
    infos = [case(f"info-{name.replace('.', '-')}", f"info {name} --json", name, expect=OK)
             for name in ("lr.tif", "lr.nii.gz", "lr.h5", "lr.zarr", "lr.mrc")]
    SO = ("lr.tif", "lr_gt.tif", "lr_degradation.json")
    return group("edge-ok", [
        *formats, *inputs, *infos,
        *[rec(f"method-{m}", f"reconstruct lr.tif -o out.tif --method {m}", "lr.tif", out=("out.tif",))
          for m in ("nearest", "linear", "lanczos3")],
        rec("json", "reconstruct lr.tif -o out.tif --json", "lr.tif", out=("out.tif",)),
        rec("unicode-and-spaces", ["reconstruct", "my lr ü.tif", "-o", "out ü é.tif"], "lr.tif->my lr ü.tif",
            out=("out ü é.tif",)),
        rec("blockwise", "reconstruct lr.tif -o out.zarr --block-size 32 --workers 1", "lr.tif", out=("out.zarr",),
            blockwise=True),
        rec("blockwise-zyx-blocks", "reconstruct lr.tif -o out.zarr --block-size 16 --block-size 32 --block-size 32 "
            "--workers 1", "lr.tif", out=("out.zarr",), blockwise=True,
            note="Z Y X by repeating --block-size, as the help says"),
        case("blockwise-zyx-blocks-one-flag", "reconstruct lr.tif -o out.zarr --block-size 16 32 32 --workers 1",
             "lr.tif", note="three values after one flag: a usage error naming the extra values"),
        rec("target-spacing-zyx", "reconstruct lr.tif -o out.tif --target-spacing 4 --target-spacing 4 "
            "--target-spacing 4", "lr.tif", out=("out.tif",), note="Z Y X by repeating the option, as the help says"),
        case("target-spacing-zyx-one-flag", "reconstruct lr.tif -o out.tif --target-spacing 4 4 4", "lr.tif",
             note="three values after one flag: a usage error naming the extra values"),
        rec("spacing-override", "reconstruct nospacing.tif -o out.tif --spacing 40 4 4", "nospacing.tif",
            out=("out.tif",)),
        case("simulate-ok", "simulate iso.tif -o lr.tif --factor 4", "iso.tif", expect=OK, out=SO),
        case("simulate-factor-6.5", "simulate iso.tif -o lr.tif --factor 6.5", "iso.tif", expect=OK, out=SO),
        *[case(f"simulate-recipe-{r}", f"simulate iso.tif -o lr.tif --factor 4 --recipe {r}", "iso.tif", expect=OK,
               out=SO) for r in ("take", "box", "cubic", "kspace")],
        case("simulate-noise-artifacts", "simulate iso.tif -o lr.tif --factor 4 --noise 0.1 --artifacts --seed 3",
             "iso.tif", expect=OK, out=SO),
        case("simulate-axis-x", "simulate iso.tif -o lr.tif --factor 4 --axis x", "iso.tif", expect=OK, out=SO),
        case("simulate-to-nii-gz", "simulate iso.tif -o lr.nii.gz --factor 4", "iso.tif", expect=OK,
             out=("lr.nii.gz", "lr_gt.nii.gz", "lr_degradation.json")),
        case("evaluate-ok", "evaluate ref.tif test.tif", "ref.tif", "test.tif", expect=OK),
        case("evaluate-same-file", "evaluate ref.tif ref.tif", "ref.tif", expect=OK),
        case("evaluate-json-output", "evaluate ref.tif test.tif -o r.json --json", "ref.tif", "test.tif",
             expect=OK, out=("r.json",)),
        case("evaluate-mask", "evaluate ref.tif test.tif --mask mask.tif --planes xz,yz", "ref.tif", "test.tif",
             "mask.tif", expect=OK),
        case("evaluate-labels", "evaluate labels_ref.tif labels_test.tif --labels", "labels_ref.tif",
             "labels_test.tif", expect=OK),
        case("evaluate-border-0", "evaluate ref.tif test.tif --border 0", "ref.tif", "test.tif", expect=OK),
    ])


CASES: list[Case] = [
    *usage_cases(), *bad_input_cases(), *replace_input_cases(), *float32_cases(), *values_cases(),
    *model_folder_cases(), *methods_cases(), *disk_full_cases(), *interrupted_cases(), *outputs_cases(),
    *edge_ok_cases(),
]


# --- reporting ------------------------------------------------------------------------------------

def _cell(text: str, limit: int = 140) -> str:
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|").replace("`", "'")


def _argv_text(argv: list) -> str:
    return "isovox " + " ".join(shlex.quote(word) for word in argv)


def _exit_text(result: Result) -> str:
    if result.first_run is not None and result.first_run["rc"] != result.rc:
        return f"{result.first_run['rc']} → {result.rc}"
    return str(result.rc)


def results_table(results: list[Result]) -> str:
    """The Markdown table of docs/hostile_inputs.md: one row a case."""
    header = ["case", "class", "command", "expect", "exit", "first line of stderr", "left behind", "verdict"]
    rows = []
    for r in results:
        left = ", ".join(r.created) or "—"
        verdict = "skip: " + "; ".join(r.notes) if r.status == "skip" else \
            ("FAIL: " + "; ".join(r.failures) if r.failures else "pass")
        rows.append([r.name, r.cls, f"`{_cell(_argv_text(r.argv), 160)}`", r.expect, _exit_text(r),
                     _cell(r.first_stderr), _cell(left), _cell(verdict, 300)])
    return harness.markdown_table(header, rows) + "\n"


def summary_text(results: list[Result]) -> str:
    failed = [r for r in results if r.status == "fail"]
    skipped = [r for r in results if r.status == "skip"]
    lines = [f"{len(results)} cases: {len(results) - len(failed) - len(skipped)} pass, {len(failed)} fail, "
             f"{len(skipped)} skipped"]
    for cls in dict.fromkeys(r.cls for r in failed):
        lines.append(f"\n## {cls}")
        for r in (r for r in failed if r.cls == cls):
            lines.append(f"- {r.name}: `{_argv_text(r.argv)}` -> exit {_exit_text(r)}; "
                         f"stderr: {_cell(r.first_stderr, 160) or '(none)'}; FAILED: {'; '.join(r.failures)}")
    return "\n".join(lines)


def _default_isovox() -> str:
    beside = Path(sys.executable).with_name("isovox")
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "isovox")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", default=[], help="run cases whose name or class contains this")
    parser.add_argument("--table", type=Path, help="write the markdown table here")
    parser.add_argument("--json", type=Path, help="write every result as JSON here")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()), help="where case folders go")
    parser.add_argument("--keep", action="store_true", help="keep each case's folder (for debugging)")
    parser.add_argument("--isovox", default=_default_isovox(), help="the isovox executable")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)

    names = [c.name for c in CASES]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        parser.error(f"duplicate case names: {sorted(duplicates)}")
    cases = [c for c in CASES if not args.only or any(s in c.name or s in c.cls for s in args.only)]
    if args.list:
        for c in cases:
            print(f"{c.cls:16} {c.name:50} {c.expect:6} {_argv_text(c.argv)}")
        print(f"{len(cases)} cases")
        return 0
    args.scratch.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="isovox-hostile-", dir=args.scratch))
    cache = Cache(root / "cache", args.isovox)
    cache.folder.mkdir()
    results = []
    try:
        for index, item in enumerate(cases, 1):
            try:
                result = run_case(item, cache, args.isovox, root, args.keep)
            except Exception as error:          # a bug here must not lose the other cases
                result = Result(item.name, item.cls, item.argv, item.expect, rc=None, status="fail",
                                failures=[f"harness error: {type(error).__name__}: {error}"])
            results.append(result)
            verdict = result.status.upper() + ("" if result.status == "pass" else
                                               ": " + "; ".join(result.failures or result.notes))
            print(f"[{index:3}/{len(cases)}] {item.cls:15} {item.name:48} exit {_exit_text(result):8} "
                  f"{result.seconds:6.1f}s  {verdict}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if args.table:
        harness.write_text(args.table, results_table(results))
    if args.json:
        cases = [{**asdict(r), "first_stderr_line": r.first_stderr} for r in results]
        harness.write_json(args.json, {"machine": harness.machine_info(), "cases": cases}, indent=1)
    print()
    print(summary_text(results))
    return 1 if any(r.status == "fail" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
