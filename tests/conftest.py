from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """Path to ../shared/data (real volumes); tests that need it skip, saying why, without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA.resolve()} is not present")
    return SHARED_DATA.resolve()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The networks in the tests are tiny: one thread is as fast, and it does not collapse
    (OpenMP spin-waiting) when other work shares the two cores. Restored after each test."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
