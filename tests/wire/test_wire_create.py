"""FINETUNE('CREATE') whose answer is lost ends with exactly one job, whatever the fault."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from wire_faults import INFINITE, drop_body, http_error, reset_after, result_value, slow
from wire_server import (
    CREATE,
    DESCRIBE,
    GIVE_UP,
    RETRY,
    SHOW,
    SOCKET_TIMEOUT,
    WireServer,
    create_job,
    training_table,
)

from cortex_tune import AmbiguousCreateError, Cortex, FineTuneJob, JobStatus
from cortex_tune._core.constants import MARKER_PREFIX

#: Faults that lose CREATE's answer after the statement ran (the job exists).
LOST_AFTER: dict[str, Callable[[WireServer], None]] = {
    "http-503-after-execution": lambda w: w.injector.arm(http_error(503, after=True, sql=CREATE)),
    "connection-reset-after-execution": lambda w: w.injector.arm(reset_after(sql=CREATE)),
    "body-dropped-mid-way": lambda w: w.injector.arm(drop_body(sql=CREATE)),
    "slower-than-socket-timeout": lambda w: w.injector.arm(slow(SOCKET_TIMEOUT + 0.5, sql=CREATE)),
}

#: Faults that stop CREATE before it ran (no job yet), creating again is safe; with the
#: CREATE requests the server sees.
LOST_BEFORE: dict[str, tuple[Callable[[WireServer], None], int]] = {
    "http-503-before-execution": (lambda w: w.injector.arm(http_error(503, sql=CREATE)), 2),
    # The first request never reaches the server.
    "connection-reset-when-request-arrives": (
        lambda w: setattr(w.proxy, "reset_on_request", 1),
        1,
    ),
}


def _marker(job: FineTuneJob) -> str:
    assert job.training_data is not None
    return job.training_data.split(MARKER_PREFIX, 1)[1].split(" ", 1)[0]


def _only_job(cx: Cortex, job: FineTuneJob) -> None:
    jobs = cx.finetune.list()
    assert [j.id for j in jobs] == [job.id], "exactly one job, the one create() returned"


@pytest.mark.parametrize("fault", list(LOST_AFTER))
def test_lost_answer_after_create_ran_yields_exactly_one_job(
    wire: WireServer, cx: Cortex, fault: str
) -> None:
    training_table(cx)
    wire.injector.reset()
    LOST_AFTER[fault](wire)

    started = time.monotonic()
    job = create_job(cx)
    elapsed = time.monotonic() - started

    assert not wire.injector.unused(), "the fault was played"
    creates = wire.injector.requests(sql=CREATE)
    # Sent once and never again: neither the connector nor cortex-tune re-sent it.
    assert len(creates) == 1
    assert creates[0].retry_count == 0
    # Reconciled by its marker: SHOW, then DESCRIBE of the job found.
    assert len(wire.injector.requests(sql=SHOW)) == 1
    assert MARKER_PREFIX in (job.training_data or "")
    _only_job(cx, job)
    assert elapsed < RETRY.budget
    print(
        f"[measure] create {fault}: requests={len(wire.injector.requests())} elapsed={elapsed:.2f}s"
    )


@pytest.mark.parametrize("fault", list(LOST_BEFORE))
def test_create_that_never_ran_is_sent_again_and_yields_one_job(
    wire: WireServer, cx: Cortex, fault: str
) -> None:
    training_table(cx)
    wire.injector.reset()
    arm, seen = LOST_BEFORE[fault]
    arm(wire)

    job = create_job(cx)

    assert not wire.injector.unused() and wire.proxy.reset_on_request == 0
    # The first CREATE never ran (SHOW found no job with its marker), so it was sent again,
    # with the same marker.
    creates = wire.injector.requests(sql=CREATE)
    assert len(creates) == seen
    assert all(_marker(job) in str(c.bindings["3"]["value"]) for c in creates)
    assert wire.injector.requests(sql=SHOW)
    _only_job(cx, job)


def test_unreadable_create_answer_is_reconciled_not_left_behind(
    wire: WireServer, cx: Cortex
) -> None:
    # CREATE ran, but its answer is not a job id: the job exists and must be found.
    training_table(cx)
    wire.injector.reset()
    wire.injector.arm(result_value("", sql=CREATE))

    job = create_job(cx)

    assert len(wire.injector.requests(sql=CREATE)) == 1
    _only_job(cx, job)


def test_create_whose_job_cannot_be_looked_up_says_so(wire: WireServer) -> None:
    cx = wire.connect(network_timeout=SOCKET_TIMEOUT, retry=GIVE_UP)
    training_table(cx)
    wire.injector.reset()
    wire.injector.arm(reset_after(sql=CREATE), http_error(503, times=INFINITE, sql=SHOW))

    started = time.monotonic()
    with pytest.raises(AmbiguousCreateError) as info:
        create_job(cx)
    elapsed = time.monotonic() - started
    wire.injector.reset()

    error = info.value
    assert error.marker and error.marker in str(error)
    assert "cx.finetune.find_by_marker" in (error.hint or "")
    assert elapsed < GIVE_UP.budget + SOCKET_TIMEOUT + 1.0
    # What the hint says to do finds the one job; nothing was created twice.
    (found,) = cx.finetune.find_by_marker(error.marker)
    assert [j.id for j in cx.finetune.list()] == [found.id]
    cx.close()


def test_create_retried_after_answer_lost_before_describe(wire: WireServer, cx: Cortex) -> None:
    # CREATE succeeds but the DESCRIBE that follows it loses its answer: a read, retried.
    training_table(cx)
    wire.injector.reset()
    wire.injector.arm(reset_after(sql=DESCRIBE))

    job = create_job(cx)

    assert len(wire.injector.requests(sql=CREATE)) == 1
    assert len(wire.injector.requests(sql=DESCRIBE)) == 2
    _only_job(cx, job)


def test_job_runs_to_success_and_its_model_answers(wire: WireServer, cx: Cortex) -> None:
    training_table(cx)
    job = create_job(cx, "WIRE_TICKETS", max_epochs=2)
    wire.clock.advance(120)  # the emulator's jobs train for a minute of its clock

    done = cx.finetune.wait(job.id, progress=False)

    assert done.status is JobStatus.SUCCESS and done.model
    assert cx.complete(done.model, "my bill is wrong").text == "billing"
