"""DistributedDataParallel training under torchrun: 2 gloo processes on the CPU.

The launched script trains a tiny DRCNet twice with :func:`isovox.training.fit`; the test checks
that both processes end with identical weights, that these equal a single process trained on
both processes' batches at once (gradients averaged, not summed or dropped), that the two runs
agree, that each process drew its own batches, and that only rank 0 wrote checkpoints.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from isovox.models import create_model
from isovox.training import TrainSettings, distributed, fit

SETTINGS = dict(iterations=4, lr=1e-2, warmup=0, device="cpu", checkpoint_every=2, validate_every=100)

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path

    import numpy as np
    import torch

    from isovox.models import create_model
    from isovox.training import TrainSettings, distributed, fit

    torch.set_num_threads(1)
    folder = Path(sys.argv[1])

    def sample(i):
        rng = np.random.default_rng(i)
        x = rng.normal(size=(2, 1, 12, 12)).astype(np.float32)
        return x, 0.5 * np.roll(x, 1, axis=-1)

    for run in ("a", "b"):
        torch.manual_seed(0)
        model = create_model("drcnet", n_feats=4, n_blocks=1)
        drawn = []
        fit(model, lambda i: (drawn.append(i), sample(i))[1], torch.nn.functional.mse_loss, None,
            TrainSettings(**SETTINGS), folder / f"work_{run}_{distributed.rank()}")
        torch.save({"state": model.state_dict(), "drawn": drawn, "world": distributed.world_size()},
                   folder / f"{run}_{distributed.rank()}.pt")
""").replace("SETTINGS", repr(SETTINGS))


def sample(i):
    rng = np.random.default_rng(i)
    x = rng.normal(size=(2, 1, 12, 12)).astype(np.float32)
    return x, 0.5 * np.roll(x, 1, axis=-1)


def both_batches(i):
    """What two processes draw at iteration i, as one batch."""
    (x0, y0), (x1, y1) = sample(2 * i), sample(2 * i + 1)
    return np.concatenate([x0, x1]), np.concatenate([y0, y1])


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    (folder / "train.py").write_text(SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(folder / "train.py"), str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "ISOVOX_PROGRESS": "0"})
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, {(run, r): torch.load(folder / f"{run}_{r}.pt") for run in "ab" for r in (0, 1)}


def test_ranks_end_with_identical_weights_equal_to_one_process_on_both_batches(launched):
    _, results = launched
    torch.manual_seed(0)
    model = create_model("drcnet", n_feats=4, n_blocks=1)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    fit(model, both_batches, torch.nn.functional.mse_loss, None, TrainSettings(**SETTINGS),
        launched[0] / "single")
    for name, value in model.state_dict().items():
        for run in "ab":
            torch.testing.assert_close(results[(run, 0)]["state"][name], results[(run, 1)]["state"][name],
                                       rtol=0, atol=0)                     # ranks: bit-identical
            torch.testing.assert_close(results[(run, 0)]["state"][name], value, rtol=0, atol=1e-5)
    assert any(not torch.equal(initial[k], v) for k, v in model.state_dict().items())   # it trained


def test_each_rank_draws_its_own_batches_and_only_rank_0_writes(launched):
    folder, results = launched
    assert results[("a", 0)]["world"] == 2
    assert results[("a", 0)]["drawn"] == [0, 2, 4, 6] and results[("a", 1)]["drawn"] == [1, 3, 5, 7]
    assert (folder / "work_a_0" / "checkpoint.pt").is_file()
    assert not (folder / "work_a_1" / "checkpoint.pt").exists()


def test_without_torchrun_every_hook_is_a_no_op():
    networks = {"G": torch.nn.Conv2d(1, 1, 3)}
    assert distributed.wrap(networks, torch.device("cpu")) == networks
    assert distributed.rank_sampler(sample) is sample
    assert distributed.agree(True) and not distributed.agree(False)
    assert distributed.is_main() and distributed.world_size() == 1
