"""The tiny inputs of the hostile-input sweep, each built once into a cache folder.

:data:`FIXTURES` maps a file (or folder) name to the function that makes it: volumes of
12 x 48 x 48 uint8 at 40 x 4 x 4 nm in every format, corrupt files (truncated TIFF, random bytes,
a NIfTI-2 header claiming 10^5 slices, a NIfTI with zero slice thickness and no qform/sform,
complex data, a Zarr with a deleted chunk, constant / NaN volumes, 2D / 4D arrays) and small model
folders trained with two iterations (plus damaged copies). :class:`Cache` builds each one the first
time a case asks for it; the case's :class:`hostile_common.Context` copies it into the case folder.

Imported as a top-level module (``import hostile_fixtures``), like ``harness``: see its docstring.
"""

from __future__ import annotations

import gzip
import json
import shlex
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np

from hostile_common import TINY_TRAIN, SetupError, first_line


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
            raise SetupError(f"training the fixture {path.name} failed: {first_line(done.stderr)}")
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
