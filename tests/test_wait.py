"""wait() returns the terminal job, honours its timeout, and polls sparingly but promptly."""

from __future__ import annotations

import pytest

from cortex_tune import (
    Cortex,
    FineTuneJob,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobStatus,
    JobVanishedError,
    WaitTimeoutError,
)
from cortex_tune.testing import FakeBackend

TRAIN = "SELECT p AS prompt, c AS completion FROM t"


def _create(cx: Cortex, training: str = TRAIN) -> FineTuneJob:
    return cx.finetune.create("MODEL", base_model="mistral-7b", training=training)


def test_wait_returns_the_successful_job(cx: Cortex, fake: FakeBackend) -> None:
    job = cx.finetune.wait(_create(cx).id, progress=False)
    assert job.status is JobStatus.SUCCESS
    assert job.progress == 1.0
    assert job.model == "CORTEX_LOCAL.PUBLIC.MODEL"
    assert job.trained_tokens and job.trained_tokens > 0
    assert job.training_result is not None


def test_wait_returns_a_failed_job_without_raising(cx: Cortex, fake: FakeBackend) -> None:
    fake.add_query("SELECT a, b FROM t", [{"A": "x", "B": "y"}])
    job = cx.finetune.wait(_create(cx, training="SELECT a, b FROM t").id, progress=False)
    assert job.status is JobStatus.ERROR
    assert job.error is not None and "PROMPT" in job.error.message


def test_wait_raises_on_error_when_asked(cx: Cortex, fake: FakeBackend) -> None:
    fake.add_query("SELECT a, b FROM t", [{"A": "x", "B": "y"}])
    job = _create(cx, training="SELECT a, b FROM t")
    with pytest.raises(JobFailedError) as info:
        cx.finetune.wait(job.id, raise_on_error=True, progress=False)
    assert info.value.job.status is JobStatus.ERROR


def test_wait_returns_a_cancelled_job(cx: Cortex, fake: FakeBackend) -> None:
    job = _create(cx)
    fake.clock.advance(20)
    cancelled = cx.finetune.cancel(job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert cx.finetune.wait(job.id, progress=False).status is JobStatus.CANCELLED
    with pytest.raises(JobCancelledError):
        cx.finetune.wait(job.id, raise_on_error=True, progress=False)
    # Cancelling again is not an error.
    assert cx.finetune.cancel(job.id).status is JobStatus.CANCELLED


def test_wait_times_out_on_time_and_the_job_goes_on(cx: Cortex, fake: FakeBackend) -> None:
    job = _create(cx)
    start = fake.clock.time()
    with pytest.raises(WaitTimeoutError) as info:
        cx.finetune.wait(job.id, timeout=30, progress=False)
    assert fake.clock.time() - start == pytest.approx(30)
    assert info.value.job.status is JobStatus.IN_PROGRESS
    assert fake.ops().count("finetune.cancel") == 0


@pytest.mark.parametrize("duration", [60.0, 3600.0, 36000.0])
def test_polling_notices_the_end_promptly(duration: float) -> None:
    fake = FakeBackend(job_duration=duration, pending_seconds=30)
    cx = Cortex(backend=fake)
    job = _create(cx)
    start = fake.clock.time()
    done = cx.finetune.wait(job.id, progress=False)
    assert done.finished_on is not None
    detected = fake.clock.time()
    delay = detected - done.finished_on.timestamp()
    assert 0 <= delay <= max(5.0, 0.05 * (detected - start))


def test_a_one_hour_job_costs_at_most_25_describes() -> None:
    fake = FakeBackend(job_duration=3600.0, pending_seconds=30)
    cx = Cortex(backend=fake)
    job = _create(cx)
    cx.finetune.wait(job.id, progress=False)
    describes = fake.ops().count("finetune.describe") - 1  # the one create() itself ran
    assert describes <= 25


def test_fixed_poll_interval(cx: Cortex, fake: FakeBackend) -> None:
    job = _create(cx)
    cx.finetune.wait(job.id, poll=7, progress=False)
    assert set(fake.clock.slept) == {7}


def test_a_vanished_job_is_reported_as_such(cx: Cortex, fake: FakeBackend) -> None:
    job = _create(cx)
    seen: list[JobStatus] = []

    def forget(j: FineTuneJob) -> None:
        seen.append(j.status)
        fake.emulator.store._jobs.clear()  # Snowflake garbage-collected the job

    with pytest.raises(JobVanishedError, match="disappeared"):
        cx.finetune.wait(job.id, progress=forget)
    assert seen


def test_waiting_for_an_unknown_job_raises_not_found(cx: Cortex) -> None:
    with pytest.raises(JobNotFoundError) as info:
        cx.finetune.wait("ft_00000000-0000-0000-0000-000000000000", progress=False)
    assert not isinstance(info.value, JobVanishedError)


def test_progress_callback_sees_every_state(cx: Cortex) -> None:
    states: list[tuple[JobStatus, float]] = []
    cx.finetune.wait(_create(cx).id, progress=lambda j: states.append((j.status, j.progress)))
    statuses = [s for s, _ in states]
    assert statuses[0] is JobStatus.PENDING
    assert JobStatus.IN_PROGRESS in statuses
    assert statuses[-1] is JobStatus.SUCCESS
    progress = [p for _, p in states]
    assert progress == sorted(progress)


def test_progress_bar_in_a_terminal(cx: Cortex, capsys: pytest.CaptureFixture[str]) -> None:
    job = _create(cx)
    cx.finetune.wait(job.id, progress=True)
    err = capsys.readouterr().err
    assert job.id[:16] in err
    assert "SUCCESS" in err
    assert "100%" in err


def test_no_output_without_progress(cx: Cortex, capsys: pytest.CaptureFixture[str]) -> None:
    cx.finetune.wait(_create(cx).id, progress=False)
    assert capsys.readouterr() == ("", "")


def test_ctrl_c_stops_waiting_without_cancelling(cx: Cortex, fake: FakeBackend) -> None:
    job = _create(cx)

    def interrupt(j: FineTuneJob) -> None:
        if j.status is JobStatus.IN_PROGRESS:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cx.finetune.wait(job.id, progress=interrupt)
    assert "finetune.cancel" not in fake.ops()
    fake.clock.advance(3600)
    assert cx.finetune.describe(job.id).status is JobStatus.SUCCESS


def test_notebook_without_widgets_falls_back_to_a_text_bar(
    cx: Cortex, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys
    import types

    from cortex_tune._core import progress as _progress

    class Shell:
        def __init__(self) -> None:
            self.config = {"IPKernelApp": {}}

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: Shell()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed
    assert _progress.in_notebook()
    job = cx.finetune.wait(_create(cx).id)  # progress=None: a bar, because this is a kernel
    assert job.succeeded
    assert "100%" in capsys.readouterr().err
