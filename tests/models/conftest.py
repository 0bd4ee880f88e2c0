import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The networks here are tiny: one thread is as fast, and it does not collapse (OpenMP
    spin-waiting) when another process shares the two cores. Restored after each module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
