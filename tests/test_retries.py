"""Transient failures are retried within budget; CREATE is never blindly re-sent."""

from __future__ import annotations

import pytest
from snowflake.connector import errors as sf

from cortex_tune import (
    AmbiguousCreateError,
    Cortex,
    NetworkError,
    RetryPolicy,
    ThrottledError,
    UnknownModelError,
)
from cortex_tune.testing import FakeBackend

TRAIN = "SELECT p AS prompt, c AS completion FROM t"


def test_transient_errors_are_retried_then_succeed(cx: Cortex, fake: FakeBackend) -> None:
    fake.respond("mistral-7b", "fine")
    fake.fail_next(times=2)
    assert cx.complete("mistral-7b", "hi").text == "fine"
    assert fake.ops().count("complete") + fake.ops().count("ai_complete") == 3
    pauses = fake.clock.slept
    assert len(pauses) == 2
    assert all(0 <= p <= 2.0 for p in pauses)  # full jitter under base * 2**(n-1)


def test_throttling_is_retried_for_reads(cx: Cortex, fake: FakeBackend) -> None:
    fake.throttle(op="finetune.show", times=2)
    assert cx.finetune.list() == []
    assert fake.ops() == ["finetune.show"] * 3


def test_retries_stop_after_the_attempt_limit(fake: FakeBackend) -> None:
    cx = Cortex(backend=fake, retry=RetryPolicy(attempts=3, budget=1000))
    fake.fail_next(op="finetune.show", times=10)
    with pytest.raises(NetworkError) as info:
        cx.finetune.list()
    assert fake.ops() == ["finetune.show"] * 3
    assert info.value.op == "finetune.show"


def test_retries_stop_when_the_time_budget_is_spent(fake: FakeBackend) -> None:
    cx = Cortex(backend=fake, retry=RetryPolicy(attempts=100, budget=30, base_delay=4, max_delay=8))
    fake.throttle(op="finetune.show", times=1000)
    start = fake.clock.time()
    with pytest.raises(ThrottledError):
        cx.finetune.list()
    assert fake.clock.time() - start <= 30
    assert 2 <= len(fake.statements) < 100


def test_permanent_errors_are_not_retried(cx: Cortex, fake: FakeBackend) -> None:
    with pytest.raises(UnknownModelError) as info:
        cx.complete("no-such-model", "hi")
    assert len(fake.statements) == 1
    assert info.value.query_id is not None
    assert 'unknown model "no-such-model"' in info.value.message
    assert info.value.hint


def test_create_whose_response_was_lost_adopts_the_job_it_made(
    cx: Cortex, fake: FakeBackend
) -> None:
    fake.lose_response(op="finetune.create")
    job = cx.finetune.create("SUPPORT", base_model="mistral-7b", training=TRAIN)
    jobs = cx.finetune.list()
    assert [j.id for j in jobs] == [job.id]
    assert fake.ops().count("finetune.create") == 1
    assert job.training_data is not None and "cortex-tune:req=" in job.training_data


def test_create_that_failed_before_running_is_sent_again(cx: Cortex, fake: FakeBackend) -> None:
    fake.fail_next(op="finetune.create", times=1)
    job = cx.finetune.create("SUPPORT", base_model="mistral-7b", training=TRAIN)
    assert [j.id for j in cx.finetune.list()] == [job.id]
    assert fake.ops().count("finetune.create") == 2


def test_create_lost_twice_still_makes_exactly_one_job(cx: Cortex, fake: FakeBackend) -> None:
    fake.fail_next(op="finetune.create", times=1)
    fake.lose_response(op="finetune.create", times=1)
    job = cx.finetune.create("SUPPORT", base_model="mistral-7b", training=TRAIN)
    assert [j.id for j in cx.finetune.list()] == [job.id]


def test_create_is_ambiguous_when_reconciliation_cannot_run(fake: FakeBackend) -> None:
    cx = Cortex(backend=fake, retry=RetryPolicy(attempts=2, budget=100))
    fake.lose_response(op="finetune.create")
    fake.fail_next(op="finetune.show", times=10)
    with pytest.raises(AmbiguousCreateError) as info:
        cx.finetune.create("SUPPORT", base_model="mistral-7b", training=TRAIN)
    marker = info.value.marker
    # The job exists, and the marker finds it once SHOW works again.
    fake._faults.clear()
    found = cx.finetune.find_by_marker(marker)
    assert len(found) == 1


def test_a_failing_create_is_not_retried_forever(fake: FakeBackend) -> None:
    cx = Cortex(backend=fake, retry=RetryPolicy(attempts=3, budget=100))
    fake.fail_next(op="finetune.create", times=10)
    with pytest.raises(NetworkError):
        cx.finetune.create("SUPPORT", base_model="mistral-7b", training=TRAIN)
    assert fake.ops().count("finetune.create") == 3
    assert cx.finetune.list() == []


def test_custom_errors_can_be_injected(cx: Cortex, fake: FakeBackend) -> None:
    fake.fail_next(sf.ProgrammingError(msg="budget exceeded", errno=100351, send_telemetry=False))
    with pytest.raises(Exception, match="budget exceeded") as info:
        cx.finetune.list()
    assert type(info.value).__name__ == "BudgetExceededError"
    assert len(fake.statements) == 1
