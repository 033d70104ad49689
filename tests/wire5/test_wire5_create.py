"""FINETUNE('CREATE') on connector 5.x, whose answer is lost: one job, whatever the fault.

5.x cannot be told not to re-send a query whose answer it lost: it sends CREATE again under
the same request id. Snowflake answers such a resubmit from the first run (a server that
deduplicates, as the wire server does where it can); on a server that runs it again,
cortex-tune's safety net cancels the second job and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from wire5_client import (
    CREATE,
    DESCRIBE,
    RETRY_TIMEOUT,
    SHOW,
    Wire,
    create_job,
    drop_body,
    http_error,
    reset_after,
    slow,
    training_table,
)

from cortex_tune import Cortex, JobStatus
from cortex_tune._core.constants import MARKER_PREFIX

#: Faults that lose CREATE's answer after it ran, after which 5.x sends it again.
RESENT: dict[str, Callable[[], dict[str, Any]]] = {
    "http-503-after-execution": lambda: http_error(503, after=True, sql=CREATE),
    "connection-reset-after-execution": lambda: reset_after(sql=CREATE),
    "slower-than-retry-timeout": lambda: slow(RETRY_TIMEOUT + 0.5, sql=CREATE),
}


def _marker(training_data: str | None) -> str:
    assert training_data is not None
    return training_data.split(MARKER_PREFIX, 1)[1].split(" ", 1)[0]


def _ready(wire: Wire, cx: Cortex, *, dedupe: bool) -> None:
    training_table(cx)
    switched = wire.dedupe(dedupe)
    if dedupe and not switched["supported"]:
        pytest.fail("the wire server must deduplicate resubmitted request ids, as Snowflake does")
    assert switched["on"] is dedupe


def _resent_under_one_request_id(wire: Wire) -> None:
    creates = wire.requests(sql=CREATE)
    assert [c["retry_count"] for c in creates] == [0, 1], "5.x sent CREATE again, once"
    assert len({c["request_id"] for c in creates}) == 1


@pytest.mark.parametrize("fault", list(RESENT))
def test_lost_answer_resent_by_the_connector_yields_exactly_one_job(
    wire: Wire, cx: Cortex, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    _ready(wire, cx, dedupe=True)
    wire.arm(RESENT[fault]())

    job = create_job(cx)

    _resent_under_one_request_id(wire)
    jobs = wire.jobs()
    assert [j["id"] for j in jobs] == [job.id]
    assert jobs[0]["status"] != "CANCELLED"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_truncated_answer_is_reconciled_by_its_marker(wire: Wire, cx: Cortex) -> None:
    # 5.x raises on a body cut short after CREATE ran, and does not send it again.
    training_table(cx)
    wire.arm(drop_body(sql=CREATE))

    job = create_job(cx)

    assert len(wire.requests(sql=CREATE)) == 1
    assert [j["id"] for j in wire.jobs()] == [job.id]
    assert _marker(wire.jobs()[0]["training_data"]) == _marker(job.training_data)


def test_create_refused_before_it_ran_is_sent_again_and_yields_one_job(
    wire: Wire, cx: Cortex
) -> None:
    training_table(cx)
    wire.arm(http_error(503, sql=CREATE))

    job = create_job(cx)

    _resent_under_one_request_id(wire)
    assert [j["id"] for j in wire.jobs()] == [job.id]


def test_create_the_connector_gave_up_on_before_it_ran_is_sent_again(
    wire: Wire, cx: Cortex
) -> None:
    # 503 to every attempt 5.x makes (six by default): it gives up (errno 4). No job carries
    # the marker, so cortex-tune sends CREATE again, under a new request id.
    training_table(cx)
    wire.arm(http_error(503, times=6, sql=CREATE))

    job = create_job(cx)

    creates = wire.requests(sql=CREATE)
    assert [c["status"] for c in creates] == [503] * 6 + [200]
    assert len({c["request_id"] for c in creates}) == 2
    assert wire.requests(sql=SHOW), "looked for a job with the marker before sending again"
    assert [j["id"] for j in wire.jobs()] == [job.id]


@pytest.mark.parametrize("fault", list(RESENT))
def test_safety_net_cancels_the_second_job_of_a_server_that_runs_a_resubmit_again(
    wire: Wire, cx: Cortex, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    _ready(wire, cx, dedupe=False)
    wire.arm(RESENT[fault]())

    job = create_job(cx)

    _resent_under_one_request_id(wire)
    jobs = wire.jobs()
    assert len(jobs) == 2, "the server ran CREATE twice"
    assert len({_marker(j["training_data"]) for j in jobs}) == 1
    live = [j["id"] for j in jobs if j["status"] != "CANCELLED"]
    assert live == [job.id], "one job goes on: the one create() returned"
    (repeat,) = [j["id"] for j in jobs if j["id"] != job.id]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(repeat in w and job.id in w for w in warned)
    assert cx.finetune.describe(job.id).status is not JobStatus.CANCELLED


def test_safety_net_costs_one_show_after_a_clean_create(wire: Wire, cx: Cortex) -> None:
    training_table(cx)

    job = create_job(cx)

    # CREATE, DESCRIBE of its job, then the SHOW that finds no second job with the marker.
    statements = [r["sql"] for r in wire.requests() if "FINETUNE" in r["sql"]]
    assert [next(k for k in (CREATE, DESCRIBE, SHOW) if k in s) for s in statements] == [
        CREATE,
        DESCRIBE,
        SHOW,
    ]
    assert [j["id"] for j in wire.jobs()] == [job.id]


def test_two_jobs_found_after_a_lost_answer_keep_the_first(
    wire: Wire, cx: Cortex, caplog: pytest.LogCaptureFixture
) -> None:
    # The connection drops after CREATE ran, 5.x sends it again, the server runs it again
    # and that answer is cut short: 5.x raises, and two jobs carry the marker.
    _ready(wire, cx, dedupe=False)
    wire.arm(reset_after(sql=CREATE), drop_body(sql=CREATE))

    job = create_job(cx)

    _resent_under_one_request_id(wire)
    jobs = wire.jobs()
    assert [j["id"] for j in jobs if j["status"] != "CANCELLED"] == [job.id] == [jobs[0]["id"]]
    assert jobs[1]["status"] == "CANCELLED"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(jobs[1]["id"] in w for w in warned)


def test_create_whose_duplicate_check_fails_returns_its_job_and_says_so(
    wire: Wire, cx: Cortex, caplog: pytest.LogCaptureFixture
) -> None:
    training_table(cx)
    wire.arm(http_error(503, times="inf", sql=SHOW))

    job = create_job(cx)

    assert [j["id"] for j in wire.jobs()] == [job.id]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(job.id in w and "find_by_marker" in w for w in warned)
