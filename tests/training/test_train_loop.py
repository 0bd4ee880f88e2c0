"""The training loop: determinism, checkpoints, resume, budgets, best weights."""

import math

import numpy as np
import pytest
import torch

from isovox.errors import IsovoxError
from isovox.models import create_model
from isovox.pairs import LateralPairs
from isovox.training import SelfSupLoss, TrainSettings, TrainingInterrupted, fit
from isovox.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from isovox.device import resolve_device
from isovox.training.settings import lr_scale, resolve_amp

TINY = {"n_feats": 8, "n_blocks": 1}       # drcnet keywords (isovox/models/slice2d.py)


@pytest.fixture(scope="module")
def pairs(blobs):
    return LateralPairs(blobs, patch_size=32, seed=0)


def settings(**changes):
    base = dict(iterations=20, batch_size=4, lr=1e-3, warmup=5, validate_every=5, checkpoint_every=5,
                device="cpu", seed=0)
    return TrainSettings(**{**base, **changes})


def run(pairs, workdir, sampler=None, resume=True, **changes):
    torch.manual_seed(0)
    model = create_model("drcnet", **TINY)
    history = fit(model, sampler or pairs.batch_sampler(4), SelfSupLoss(), pairs.validation_set(8),
                  settings(**changes), workdir, resume=resume)
    return model, history


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values()])


def test_same_seed_same_weights(pairs, tmp_path):
    a, history_a = run(pairs, tmp_path / "a", validate_every=100)
    b, history_b = run(pairs, tmp_path / "b", validate_every=100)
    assert torch.equal(weights(a), weights(b))
    assert history_a["loss"] == history_b["loss"] and len(history_a["loss"]) == 20
    assert history_a["iterations"] == 20 and history_a["stopped_by"] == "iterations"
    assert history_a["input_psnr"] > 0 and history_a["final_psnr"] is not None


def test_interrupt_then_resume_matches_uninterrupted_run(pairs, tmp_path):
    full, history_full = run(pairs, tmp_path / "full", validate_every=100)
    sampler = pairs.batch_sampler(4)

    def interrupting(iteration):
        if iteration == 10:
            raise KeyboardInterrupt
        return sampler(iteration)

    with pytest.raises(KeyboardInterrupt):
        run(pairs, tmp_path / "cut", sampler=interrupting, validate_every=100)
    saved = load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)
    assert saved["iteration"] == 10 and len(saved["history"]["loss"]) == 10
    resumed, history = run(pairs, tmp_path / "cut", validate_every=100)
    assert history["iterations"] == 20 and history["runs"] == 2
    assert history["loss"] == history_full["loss"]              # the loss history continues
    assert torch.equal(weights(resumed), weights(full))          # CPU: bit for bit
    assert history["elapsed_seconds"] >= saved["elapsed"]        # time accumulates over runs


def test_resume_of_a_finished_run_returns_at_once(pairs, tmp_path):
    _, first = run(pairs, tmp_path)
    model, second = run(pairs, tmp_path)
    assert second["iterations"] == 20 and len(second["loss"]) == 20 and second["runs"] == 2
    _, fresh = run(pairs, tmp_path, resume=False, iterations=3)
    assert fresh["iterations"] == 3 and fresh["runs"] == 1


def test_minutes_budget_stops_the_loop(pairs, tmp_path):
    sampler = pairs.batch_sampler(4)
    _, history = run(pairs, tmp_path, iterations=None, minutes=1.5 / 60, validate_every=1000,
                     sampler=lambda i: (__import__("time").sleep(0.05), sampler(i))[1])
    assert history["stopped_by"] == "minutes"
    assert 1.5 <= history["elapsed_seconds"] < 10
    assert 3 <= history["iterations"] <= 40


def test_best_validation_weights_are_returned(pairs, tmp_path):
    model, history = run(pairs, tmp_path, iterations=15, lr=3e-2, validate_every=5)
    psnrs = [entry["psnr"] for entry in history["validation"]]
    assert [entry["iteration"] for entry in history["validation"]] == [5, 10, 15]
    assert history["best_psnr"] == max(psnrs)
    best = load_checkpoint(tmp_path / CHECKPOINT_NAME)["best"]
    assert all(torch.equal(model.state_dict()[k], best[k]) for k in best)


def test_training_without_validation(pairs, tmp_path):
    model = create_model("drcnet", **TINY)
    history = fit(model, pairs.batch_sampler(2), SelfSupLoss(), None, settings(iterations=3), tmp_path)
    assert history["iterations"] == 3 and history["validation"] == [] and history["input_psnr"] is None


def test_stop_request_saves_then_raises(pairs, tmp_path):
    import os
    import signal
    sampler = pairs.batch_sampler(2)

    def terminating(iteration):
        if iteration == 4:
            os.kill(os.getpid(), signal.SIGTERM)       # handled between iterations
        return sampler(iteration)

    with pytest.raises(TrainingInterrupted, match="iteration 5"):
        run(pairs, tmp_path, sampler=terminating, validate_every=100, checkpoint_every=100)
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["iteration"] == 5
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL     # handlers restored


def test_checkpoint_of_another_model_raises(pairs, tmp_path):
    run(pairs, tmp_path, iterations=2)
    other = create_model("drcnet", n_feats=4, n_blocks=1)
    with pytest.raises(IsovoxError, match="does not fit this model"):
        fit(other, pairs.batch_sampler(2), SelfSupLoss(), None, settings(iterations=4), tmp_path)


def test_settings_checks():
    with pytest.raises(IsovoxError, match="budget"):
        TrainSettings(iterations=None, minutes=None).check()
    with pytest.raises(IsovoxError, match="schedule"):
        TrainSettings(schedule="linear").check()
    with pytest.raises(IsovoxError, match="not available|not supported|unknown device"):
        resolve_device("cuda:7" if not torch.cuda.is_available() else "nope")
    assert resolve_device("cpu").type == "cpu"
    assert resolve_amp("auto", torch.device("cpu")) is None


@pytest.mark.parametrize("schedule", ["cosine", "step", "constant"])
def test_lr_schedules(schedule):
    s = TrainSettings(schedule=schedule, warmup=10, min_lr_factor=0.01)
    assert lr_scale(s, 0, 0.0) == pytest.approx(0.1)                 # linear warm-up
    assert lr_scale(s, 9, 0.0) == pytest.approx(1.0)
    values = [lr_scale(s, 100, p) for p in np.linspace(0, 1, 11)]
    assert all(a >= b for a, b in zip(values, values[1:]))          # never increases after warm-up
    end = {"cosine": 0.01, "step": 0.5 ** 4, "constant": 1.0}[schedule]
    assert math.isclose(values[-1], end, rel_tol=1e-9)


def test_prefetching_batches_keep_order_and_errors():
    """The CUDA path draws batch i + 1 in a thread while i trains; same batches, same errors."""
    from isovox.training.loop import _Batches

    def sampler(i):
        if i == 3:
            raise KeyboardInterrupt
        return i

    batches = _Batches(sampler, prefetch=True)
    try:
        assert [batches.get(i) for i in range(3)] == [0, 1, 2]
        assert batches.get(1) == 1                          # out of order: drawn directly
        with pytest.raises(KeyboardInterrupt):
            batches.get(3)
    finally:
        batches.close()


def test_mixed_precision_path_runs(pairs, tmp_path, monkeypatch):
    """CUDA autocast is not available here; bf16 autocast on CPU runs the same code path."""
    import isovox.training.loop as loop
    monkeypatch.setattr(loop, "resolve_amp", lambda mode, device: torch.bfloat16)
    _, history = run(pairs, tmp_path, iterations=3, validate_every=3)
    assert history["amp"] == "bfloat16" and all(math.isfinite(v) for v in history["loss"])
