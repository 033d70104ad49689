"""Connector 5.x error shapes: classified right, and handled right through the funnel.

fakesnow cannot serve connector 5.x (it needs 4.x to import), so the 5.x shapes are built
here: the exception classes and attributes 5.2 raises (its universal core maps error kinds to
errno 4 = I/O, 6 = internal, 14 = timeout, and authentication failures to errno 250001 with
SQLSTATE 08001), raised by a cursor shaped like 5.x's around a real 4.8 cursor on the wire
server, so that CREATE reconciliation and retries run against real statements.
tests/test_errors.py covers the plain errno 4 / 14 / 6 classification; this adds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from snowflake.connector import errors
from wire_server import CREATE, RETRY, SHOW, WireServer, create_job, training_table

from cortex_tune import (
    AuthenticationError,
    ConnectionFailedError,
    Cortex,
    NetworkError,
    SessionExpiredError,
    TransientError,
)
from cortex_tune._errors import translate


class ReauthenticationRequest(errors.ProgrammingError):
    """As 5.2 defines it: a ProgrammingError carrying the GS code, raised when the session
    cannot be renewed (4.8 has no public class of that name)."""


def _auth_failed() -> errors.Error:
    # ERROR_KIND_AUTHENTICATION_ERROR with no GS code: errno 250001, SQLSTATE 08001.
    return errors.DatabaseError(
        msg="Authentication error. HTTP 401 Unauthorized; token refresh failed",
        errno=250001,
        sqlstate="08001",
        send_telemetry=False,
    )


@pytest.mark.parametrize("op", ["connect", "complete", "finetune.show"])
def test_connector5_authentication_failure_is_not_retried(op: str) -> None:
    error = translate(_auth_failed(), op=op)

    assert type(error) is AuthenticationError
    assert not isinstance(error, TransientError)
    assert (error.errno, error.sqlstate, error.op) == (250001, "08001", op)
    assert error.hint and "password, key or token" in error.hint


def test_connector4_unreachable_host_stays_a_network_error() -> None:
    exc = errors.OperationalError(
        msg="Could not connect to Snowflake backend after 2 attempt(s).Aborting",
        errno=250001,
        send_telemetry=False,
    )

    assert type(translate(exc, op="connect")) is NetworkError


def test_connector5_reauthentication_request_keeps_its_gs_code() -> None:
    exc = ReauthenticationRequest(
        msg="Authentication token has expired.  The user must authenticate again.",
        errno=390114,
        sqlstate="08001",
        sfqid="01b2-q",
        send_telemetry=False,
    )

    error = translate(exc, op="finetune.describe")

    assert type(error) is SessionExpiredError
    assert (error.errno, error.sqlstate, error.query_id) == (390114, "08001", "01b2-q")
    assert error.message.startswith("Authentication token has expired")


def test_connector5_transport_error_is_a_network_error() -> None:
    # A ProtoTransportException between the Python layer and the core.
    exc = errors.OperationalError(
        msg="Driver communication error: broken pipe", send_telemetry=False
    )

    error = translate(exc, op="complete")

    assert type(error) is NetworkError and error.errno is None


@pytest.mark.parametrize("errno", [250002])
def test_closed_connection_is_a_connection_error_with_a_reconnect_hint(errno: int) -> None:
    exc = errors.DatabaseError(
        msg="Connection is closed", errno=errno, sqlstate="08003", send_telemetry=False
    )

    error = translate(exc, op="finetune.show")

    assert type(error) is ConnectionFailedError
    assert not isinstance(error, TransientError)
    assert error.hint and "Cortex.connect" in error.hint


# -- through the funnel, on the wire server ---------------------------------------------------


@dataclass
class Failure:
    """Raise ``error`` on the next statement containing ``sql``, before or after it ran."""

    sql: str
    error: errors.Error
    after: bool = False
    times: int = 1


class Connector5Cursor:
    """A cursor with connector 5.x's ``execute`` signature (no ``_no_retry``, no ``timeout``)
    and its error shapes, running statements on a real 4.8 cursor."""

    def __init__(self, real: Any, failures: list[Failure], attempts: list[str]) -> None:
        self._real = real
        self._failures = failures
        self._attempts = attempts

    def execute(self, operation: str, parameters: Any = None, **kwargs: Any) -> Connector5Cursor:
        assert not kwargs, f"5.x options only: {kwargs}"
        self._attempts.append(operation)
        failure = next((f for f in self._failures if f.times and f.sql in operation), None)
        if failure is not None:
            failure.times -= 1
            if not failure.after:
                raise failure.error
        self._real.execute(operation, parameters)
        if failure is not None:
            raise failure.error
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class Connector5Connection:
    def __init__(self, real: Any) -> None:
        self._real = real
        self._paramstyle = "qmark"
        self.failures: list[Failure] = []
        self.attempts: list[str] = []

    def cursor(self) -> Connector5Cursor:
        return Connector5Cursor(self._real.cursor(), self.failures, self.attempts)

    def close(self) -> None:
        self._real.close()


@pytest.fixture
def cx5(wire: WireServer, cx: Cortex) -> Cortex:
    conn = Connector5Connection(cx.backend.connection)  # type: ignore[attr-defined]
    training_table(cx)
    wire.injector.reset()
    return Cortex.from_connection(conn, retry=RETRY)


def _shim(cx5: Cortex) -> Connector5Connection:
    conn = cx5.backend.connection  # type: ignore[attr-defined]
    assert isinstance(conn, Connector5Connection)
    return conn


def test_connector5_timeouts_are_retried(wire: WireServer, cx5: Cortex) -> None:
    timeout = errors.OperationalError(
        msg="Timeout. Query timed out", errno=14, sqlstate="HYT00", send_telemetry=False
    )
    _shim(cx5).failures.append(Failure(SHOW, timeout, times=2))

    assert cx5.finetune.list() == []
    assert len(_shim(cx5).attempts) == 3
    assert len(wire.injector.requests(sql=SHOW)) == 1


def test_connector5_truncated_create_answer_adopts_the_job(wire: WireServer, cx5: Cortex) -> None:
    truncated = errors.InternalError(
        msg="Internal error. Response body ended early", errno=6, send_telemetry=False
    )
    _shim(cx5).failures.append(Failure(CREATE, truncated, after=True))

    job = create_job(cx5, "WIRE5")

    assert len(wire.injector.requests(sql=CREATE)) == 1
    assert [j.id for j in cx5.finetune.list()] == [job.id]


def test_connector5_io_failure_before_create_sends_it_again(wire: WireServer, cx5: Cortex) -> None:
    io_error = errors.OperationalError(
        msg="I/O error. Max retry attempts reached", errno=4, send_telemetry=False
    )
    _shim(cx5).failures.append(Failure(CREATE, io_error))

    job = create_job(cx5, "WIRE5")

    assert len(wire.injector.requests(sql=CREATE)) == 1  # the first never left the client
    assert [j.id for j in cx5.finetune.list()] == [job.id]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: ReauthenticationRequest(
                msg="Session no longer exists.", errno=390112, send_telemetry=False
            ),
            SessionExpiredError,
        ),
        (_auth_failed, AuthenticationError),
    ],
    ids=["reauthentication-request", "authentication-error-250001"],
)
def test_connector5_session_errors_are_not_retried(
    wire: WireServer, cx5: Cortex, make: Any, expected: type[Exception]
) -> None:
    _shim(cx5).failures.append(Failure("AI_COMPLETE", make(), times=99))

    with pytest.raises(expected):
        cx5.complete("echo", "hello")

    assert len(_shim(cx5).attempts) == 1
    assert wire.injector.requests() == []
