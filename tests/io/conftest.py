"""Shared fixtures for the I/O tests: small synthetic volumes and the real-data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isovox.volume import Volume

# /work/shared/data, reached from the repository root as ../shared/data.
REAL_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

SHAPE = (7, 9, 11)
SPACING = (5.0, 2.0, 3.0)
ORIGIN = (10.0, -4.0, 6.0)


def synthetic(dtype="uint16", spacing=SPACING, unit="nm", origin=ORIGIN, shape=SHAPE, **kwargs) -> Volume:
    """A volume whose values identify their voxel (so an axis swap cannot go unnoticed)."""
    dtype = np.dtype(dtype)
    values = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    if dtype.kind == "b":
        data = (values % 3 == 0)
    elif dtype.kind in "iu":
        data = (values % min(np.iinfo(dtype).max, 251)).astype(dtype)
    else:
        data = (values * 0.5 - 7.25).astype(dtype)
    return Volume(data=data, spacing=spacing, unit=unit, origin=origin, **kwargs)


def real_file(name: str) -> Path:
    path = REAL_DATA / name
    if not path.exists():
        pytest.skip(f"real data file {name} not available under {REAL_DATA.resolve()}")
    return path


@pytest.fixture
def volume() -> Volume:
    return synthetic()


@pytest.fixture
def make_volume():
    """The :func:`synthetic` factory, for tests that need several dtypes or geometries."""
    return synthetic


@pytest.fixture
def real_data():
    """``real_data(name)``: path of a file in ../shared/data, or skip the test if it is absent."""
    return real_file
