import os
from pathlib import Path

import pytest

# fp32 is the tests' reference: 'auto' would pick bf16 on a CPU with native bf16 (the default
# for users there, isovox.reconstruction.precision), and the exactness tests (tiled == untiled,
# blockwise == in-memory, TorchScript == isovox) compare float32 results to float32 rounding.
# bf16 itself is tested where asked for explicitly (tests/reconstruction/test_precision.py).
# Set in the environment so the CLI tests' subprocesses see it too.
os.environ["ISOVOX_CPU_BF16"] = "0"

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


def _save_tiny_model(folder, arch="drcnet", factor=2.5, lowres=25.0, target=10.0, seed=1, axes=("z",),
                    method="test", **kwargs):
    """A small network from the registry with random weights, saved as a model folder
    (``axes``: the degraded axes a 3D model's card names)."""
    import torch

    from isovox.models import create_model
    from isovox.store import ModelCard, save_model

    torch.manual_seed(seed)
    model = create_model(arch, **kwargs)
    card = ModelCard(method=method, architecture=model.build_config, factor=factor, lowres_spacing=lowres,
                     target_spacing=target, unit="nm", normalisation={"low": 0.0, "high": 255.0},
                     degradation={"axes": list(axes), "scales": [1.1, 4.0]})
    return save_model(folder, model, card)


@pytest.fixture(scope="session")
def save_tiny_model():
    """``save_tiny_model(folder, arch=..., factor=..., **kwargs)``: a small registry network with
    random weights saved as a model folder (test modules cannot import a conftest by name)."""
    return _save_tiny_model


@pytest.fixture(scope="session")
def assert_one_line_error():
    """``assert_one_line_error(code, err, *words, exit_code=None)``: the command failed (with
    ``exit_code`` when given) with exactly one line on stderr, starting ``error:`` and naming
    every word (case-insensitive)."""

    def check(code, err, *words, exit_code=None):
        assert code != 0 and (exit_code is None or code == exit_code), code
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        for word in words:
            assert word.lower() in lines[0].lower(), (word, lines[0])

    return check

