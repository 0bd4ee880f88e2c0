"""The child-process job, without Qt: the same result as in-process, clear failures, real cancel."""

import time

import numpy as np
import pytest

from isovox import reconstruct
from isovox.errors import IsovoxError
from isovox.napari.background import GRACE_SECONDS, NOTHING_ADDED, BackgroundJob, Progress
from isovox.napari.jobs import MODEL, TRAIN, Request
from isovox.volume import Volume

from napari_stacks import STACK_SPACING, smooth_stack

DEADLINE_S = 120


@pytest.fixture(scope="module")
def stack():
    return Volume(smooth_stack(), STACK_SPACING, "nm", origin=(80, 5, -5))


def follow(job, on_progress=lambda progress: None):
    """Drive ``job.follow()`` to its end within DEADLINE_S; return (progress seen, outcome)."""
    seen, steps, started = [], job.follow(), time.monotonic()
    while True:
        assert time.monotonic() - started < DEADLINE_S, f"job still running; last progress {seen[-1:]}"
        try:
            seen.append(next(steps))
        except StopIteration as end:
            return seen, end.value
        on_progress(seen[-1])


def test_interpolation_in_the_child_equals_the_same_call_here(stack):
    seen, outcome = follow(BackgroundJob(Request(stack, "linear")))
    assert outcome.status == "done", outcome.message
    expected = reconstruct(stack, method="linear")
    assert outcome.result.volume.spacing == expected.spacing and outcome.result.volume.origin == stack.origin
    np.testing.assert_array_equal(outcome.result.volume.numpy(), expected.numpy())
    assert "linear interpolation" in [progress.stage for progress in seen]


def test_a_failure_in_the_child_comes_back_as_its_one_line(stack, tmp_path):
    _, outcome = follow(BackgroundJob(Request(stack, MODEL, model_folder=tmp_path / "absent")))
    assert outcome.status == "failed" and outcome.result is None
    assert outcome.message == f"model folder not found: {tmp_path / 'absent'}"


def test_cancel_stops_training_and_keeps_nothing(tmp_path):
    # lateral planes of 72 x 72: room for the default 64-pixel training patches
    job = BackgroundJob(Request(Volume(smooth_stack((16, 72, 72)), STACK_SPACING, "nm"), TRAIN,
                                model_folder=tmp_path / "model", minutes=30))
    cancelled_at = []

    def cancel_while_training(progress):
        if progress.stage.startswith("training") and progress.elapsed > 3 and not cancelled_at:
            assert job._process.is_alive()                # still training: it did not fail early
            cancelled_at.append(time.monotonic())
            job.cancel()

    _, outcome = follow(job, cancel_while_training)
    assert cancelled_at and outcome.status == "cancelled" and outcome.result is None
    assert outcome.message.startswith(NOTHING_ADDED)
    assert time.monotonic() - cancelled_at[0] < GRACE_SECONDS + 10   # stopped, not run to its budget
    assert not (tmp_path / "model").exists()                        # no half-written model folder


def test_a_child_that_dies_is_reported(stack):
    job = BackgroundJob(Request(stack, "cubic"))

    def kill_once_started(progress):
        if job._process.is_alive():
            job._process.kill()                          # as the out-of-memory killer would

    _, outcome = follow(job, kill_once_started)
    assert outcome.status == "failed" and "ended unexpectedly" in outcome.message


def test_a_job_cancelled_before_it_starts_starts_nothing(stack):
    job = BackgroundJob(Request(stack, "cubic"))
    job.cancel()
    seen, outcome = follow(job)
    assert seen == [] and outcome.status == "cancelled" and job._process is None


@pytest.mark.parametrize("options, words", [
    (dict(method="bilinear"), "unknown method"),
    (dict(method=MODEL), "choose the model folder"),
    (dict(method=TRAIN, minutes=0), "positive number of minutes"),
    (dict(method="linear", uncertainty=True), "trained network"),
])
def test_requests_that_cannot_run_are_refused_up_front(stack, options, words):
    with pytest.raises(IsovoxError, match=words):
        Request(stack, **options)


def test_progress_reads_as_time_spent_of_time_expected():
    assert Progress("training", 75, 300).describe() == "training: 1:15 of 5:00"
    assert Progress("training", 400, 300).fraction == 1.0
    assert Progress("cubic interpolation", 3).fraction is None
