from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """Path to ../shared/data (real volumes); tests that need it skip, saying why, without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA.resolve()} is not present")
    return SHARED_DATA.resolve()
