"""Transient faults are survived by reads (SHOW, DESCRIBE, COMPLETE) within the budget, and
the budget holds when the server never recovers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import snowflake.connector
from wire_faults import (
    INFINITE,
    drop_body,
    http_error,
    reset_after,
    slow,
    snowflake_error,
)
from wire_server import (
    DESCRIBE,
    GIVE_UP,
    RETRY,
    SHOW,
    SOCKET_TIMEOUT,
    WireServer,
    create_job,
    training_table,
)

from cortex_tune import Cortex, NetworkError, RetryPolicy, ThrottledError, TransientError

THROTTLED = (
    "Request failed for external function COMPLETE$V2 with remote service error: "
    "429 'too many requests'"
)


def join_connector_timers() -> None:
    """Let the connector's cancel timers finish inside the test that started them."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer) and thread.is_alive():
            thread.join(timeout=SOCKET_TIMEOUT + 2)


@dataclass(frozen=True)
class Scenario:
    arm: Callable[[WireServer, str], None]
    #: query-requests the server sees for the statement (the first one included)
    requests: int
    #: connections the proxy resets
    resets: int = 0


def _proxy(*, kill_pooled: bool = False, **settings: Any) -> Callable[[WireServer, str], None]:
    def arm(wire: WireServer, sql: str) -> None:
        if kill_pooled:
            wire.proxy.kill_pooled()
        for name, value in settings.items():
            setattr(wire.proxy, name, value)

    return arm


SCENARIOS: dict[str, Scenario] = {
    "http-503-twice": Scenario(lambda w, sql: w.injector.arm(http_error(503, times=2, sql=sql)), 3),
    "http-429": Scenario(lambda w, sql: w.injector.arm(http_error(429, sql=sql)), 2),
    "http-500": Scenario(lambda w, sql: w.injector.arm(http_error(500, sql=sql)), 2),
    "http-503-after-execution": Scenario(
        lambda w, sql: w.injector.arm(http_error(503, after=True, sql=sql)), 2
    ),
    "slower-than-socket-timeout": Scenario(
        lambda w, sql: w.injector.arm(slow(SOCKET_TIMEOUT + 0.5, sql=sql)), 2
    ),
    "body-dropped-mid-way": Scenario(lambda w, sql: w.injector.arm(drop_body(sql=sql)), 2),
    "reset-after-execution": Scenario(
        lambda w, sql: w.injector.arm(reset_after(sql=sql)), 2, resets=1
    ),
    # The request never reaches the server, so it sees one request.
    "reset-when-request-arrives": Scenario(_proxy(reset_on_request=1), 1, resets=1),
    "pooled-connections-killed-then-two-resets": Scenario(
        _proxy(kill_pooled=True, reset_new=2), 1, resets=2
    ),
    "throttled-json-error": Scenario(
        lambda w, sql: w.injector.arm(
            snowflake_error("100351", THROTTLED, sqlstate="P0000", sql=sql)
        ),
        2,
    ),
}

OPS: dict[str, tuple[str, Callable[[Cortex, str], Any]]] = {
    "show": (SHOW, lambda cx, job_id: [j.id for j in cx.finetune.list()]),
    "describe": (DESCRIBE, lambda cx, job_id: cx.finetune.describe(job_id).id),
    "complete": ("AI_COMPLETE", lambda cx, job_id: cx.complete("echo", "still here?").text),
}
EXPECTED = {"show": lambda job_id: [job_id], "describe": lambda job_id: job_id}


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("fault", list(SCENARIOS))
def test_read_survives_transient_fault(wire: WireServer, cx: Cortex, fault: str, op: str) -> None:
    job_id = ""
    if op != "complete":
        training_table(cx)
        job_id = create_job(cx).id
    sql, run = OPS[op]
    scenario = SCENARIOS[fault]
    wire.injector.reset()
    resets = wire.proxy.resets
    scenario.arm(wire, sql)

    started = time.monotonic()
    value = run(cx, job_id)
    elapsed = time.monotonic() - started

    assert value == EXPECTED.get(op, lambda _: "still here?")(job_id)
    assert not wire.injector.unused(), "the fault was played"
    assert wire.proxy.resets - resets >= scenario.resets, "the proxy fault was played"
    assert wire.proxy.reset_new == wire.proxy.reset_on_request == 0
    seen = wire.injector.requests(sql=sql)
    assert len(seen) == scenario.requests
    assert elapsed < RETRY.budget
    print(f"[measure] {fault} {op}: requests={len(seen)} elapsed={elapsed:.2f}s")


# Connector 4.x arms a timer per statement that sends an abort-request when network_timeout
# passes; against a server that never answers, that request times out in the timer's own
# thread, which the connector leaves unhandled.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_server_that_never_answers_fails_within_the_budget(wire: WireServer) -> None:
    cx = wire.connect(network_timeout=SOCKET_TIMEOUT, retry=GIVE_UP)
    wire.proxy.blackhole = True

    started = time.monotonic()
    with pytest.raises(NetworkError) as info:
        cx.finetune.list()
    elapsed = time.monotonic() - started
    wire.proxy.reset()
    join_connector_timers()

    cx.close()
    # Each connector attempt waits socket_timeout; the connector gives up after its own
    # network_timeout (one attempt here), cortex-tune after its budget.
    assert GIVE_UP.budget - SOCKET_TIMEOUT <= elapsed < GIVE_UP.budget + SOCKET_TIMEOUT + 0.5
    assert info.value.op == "finetune.show"
    assert "timed out" in info.value.message.lower()
    print(f"[measure] blackhole show: elapsed={elapsed:.2f}s")


def test_503_forever_fails_within_the_budget(wire: WireServer) -> None:
    cx = wire.connect(network_timeout=SOCKET_TIMEOUT, retry=GIVE_UP)
    wire.injector.arm(http_error(503, times=INFINITE, sql=SHOW))

    started = time.monotonic()
    with pytest.raises(NetworkError) as info:
        cx.finetune.list()
    elapsed = time.monotonic() - started
    cx.close()

    assert GIVE_UP.budget - SOCKET_TIMEOUT <= elapsed < GIVE_UP.budget + SOCKET_TIMEOUT + 0.5
    assert "503" in info.value.message
    seen = wire.injector.requests(sql=SHOW)
    assert 2 <= len(seen) <= 50
    # The connector re-sends under the same request id; cortex-tune retries with a new one.
    assert 2 <= len({s.request_id for s in seen}) <= GIVE_UP.attempts
    print(f"[measure] 503-forever show: requests={len(seen)} elapsed={elapsed:.2f}s")


def test_throttling_that_never_ends_stops_after_the_attempts(wire: WireServer, cx: Cortex) -> None:
    wire.injector.arm(snowflake_error("100351", THROTTLED, sqlstate="P0000", times=INFINITE))

    started = time.monotonic()
    with pytest.raises(ThrottledError) as info:
        cx.complete("echo", "hello")
    elapsed = time.monotonic() - started

    assert len(wire.injector.requests()) == RETRY.attempts
    assert info.value.query_id
    assert info.value.hint and "throttl" in info.value.hint.lower()
    assert elapsed < RETRY.budget
    print(f"[measure] throttled-forever complete: requests={RETRY.attempts} elapsed={elapsed:.2f}s")


def test_budget_holds_on_a_callers_connection_with_connector_defaults(wire: WireServer) -> None:
    # A connection the caller opened without network_timeout or socket_timeout: connector 4.x
    # then retries a 503 without end. cortex-tune's budget must still hold. (The backoff is the
    # tier's: the connector's default one sleeps up to 16 s past any deadline before it looks.)
    kwargs = wire.connect_kwargs()
    for key in ("socket_timeout", "network_timeout", "retry"):
        kwargs.pop(key)
    conn = snowflake.connector.connect(paramstyle="qmark", **kwargs)
    policy = RetryPolicy(attempts=3, budget=2.0, base_delay=0.05, max_delay=0.2)
    cx = Cortex.from_connection(conn, retry=policy)
    fault = http_error(503, times=INFINITE, sql=SHOW)
    fault.ttl = 10.0  # the test ends by itself even if the budget did not hold
    wire.injector.arm(fault)
    try:
        started = time.monotonic()
        with pytest.raises(TransientError):
            cx.finetune.list()
        elapsed = time.monotonic() - started
    finally:
        wire.injector.reset()
        conn.close()

    assert elapsed < policy.budget + 1.5
    print(f"[measure] 503-forever on a default connection: elapsed={elapsed:.2f}s")
