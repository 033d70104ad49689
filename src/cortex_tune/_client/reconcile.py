"""Statements that must not run twice, recovered from their first run after an ambiguous failure.

A PAID or WRITE statement (see :mod:`cortex_tune._core.statement`) carries a request marker comment at
the end of its text. When its answer is lost after it may have run (a network error, a truncated
body, an HTTP 5xx or 429 at the transport, a timeout), cortex-tune does not send it again: it looks
the marker up in the session's query history (``INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION``):

- found and succeeded: its result is read with ``RESULT_SCAN('<query id>')``, as if the answer
  had arrived;
- found and still running: cortex-tune waits for it (at most ``RECONCILE_WAIT`` seconds), then
  decides as below;
- found and failed: its error is raised, translated;
- not found: a PAID statement never ran, so it is sent again (within the retry policy); a WRITE
  raises :class:`StatementMayHaveRunError`, as does a history that cannot be read.

Snowflake refusing a statement with a SQL error is definite and atomic (nothing ran), so such a
refusal that is worth retrying (Cortex throttling inside the statement) is retried as usual.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cortex_tune._backends.base import Result
from cortex_tune._core.constants import MARKER_PREFIX, RECONCILE_WAIT
from cortex_tune._core.errors import (
    CortexError,
    ResponseParseError,
    StatementMayHaveRunError,
    TransientError,
    translate,
)
from cortex_tune._core.statement import Kind, Statement

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

log = logging.getLogger("cortex_tune")

#: Rows of the session's history searched for a marker (the function's default is 100; the
#: limit is applied before the WHERE clause, so a busy session needs more).
HISTORY_ROWS = 1000
#: EXECUTION_STATUS values of a statement that ended well, or badly; anything else is still
#: under way (running, queued, resuming_warehouse, blocked, ...). Compared case-insensitively:
#: the documentation lists them in lower case.
_SUCCESS = "SUCCESS"
_FAILED = ("FAILED_WITH_ERROR", "FAILED_WITH_INCIDENT", "ABORTED", "DISCONNECTED")
_QUERY_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
#: A statement text longer than this may be truncated in the history, its marker (at the end)
#: with it: Snowflake truncates QUERY_TEXT at 100K characters in its ACCOUNT_USAGE view (the
#: table function's page does not say), and statements over 1 MB before persisting them. Such
#: a statement missing from the history is never taken to have not run.
HISTORY_TEXT_CHARS = 100_000
#: Seconds waited, at least, before a second look for a PAID statement the history did not show:
#: the documentation gives the table function no latency, nor says it has none.
SECOND_LOOK = 2.0
#: SQLSTATE classes of a failure that is not Snowflake refusing the statement: connection
#: exceptions (08) and client-side timeouts (HYT00).
_TRANSPORT_SQLSTATES = ("08", "HY")

Check = Callable[[Result], None]


# -- statements ----------------------------------------------------------------------------------


def history_lookup_sql(marker: str) -> Statement:
    """The statements of this session whose text carries request marker ``marker``, oldest first."""
    sql = (
        "SELECT QUERY_ID, EXECUTION_STATUS, ERROR_CODE, ERROR_MESSAGE FROM TABLE("  # noqa: S608 - a constant
        f"INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION(RESULT_LIMIT => {HISTORY_ROWS})) "
        "WHERE QUERY_TEXT LIKE ? ORDER BY START_TIME"
    )
    return Statement(sql, (f"%{MARKER_PREFIX}{marker} */%",), "history.lookup")


def result_scan_sql(query_id: str) -> Statement:
    """The result of an earlier statement of the last 24 hours: ``RESULT_SCAN('<query id>')``.

    The query id is Snowflake's own (letters, digits and dashes, checked) and is written as the
    string literal the documented syntax shows.
    """
    if not isinstance(query_id, str) or not _QUERY_ID.fullmatch(query_id):
        raise ResponseParseError(f"not a Snowflake query id: {query_id!r}", raw=query_id)
    sql = f"SELECT * FROM TABLE(RESULT_SCAN('{query_id}'))"  # noqa: S608 - a checked query id
    return Statement(sql, (), "history.result")


# -- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run of a marked statement, as the query history shows it."""

    query_id: str
    status: str
    error_code: Any = None
    error_message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == _SUCCESS

    @property
    def failed(self) -> bool:
        return self.status.startswith(_FAILED)

    @property
    def ended(self) -> bool:
        return self.succeeded or self.failed


def is_ambiguous(error: CortexError) -> bool:
    """Whether ``error`` leaves open that the statement ran: a transient failure that is not
    Snowflake refusing the statement (a refusal carries a SQL SQLSTATE)."""
    if not isinstance(error, TransientError):
        return False
    state = error.sqlstate
    return state is None or state.startswith(_TRANSPORT_SQLSTATES)


# -- the loop ------------------------------------------------------------------------------------


class _Attempts:
    """The retry policy's attempts and budget for one statement, on the client's clock."""

    def __init__(self, cx: Cortex) -> None:
        self.cx, self.started, self.count = cx, cx._now(), 0

    def spent(self) -> bool:
        policy = self.cx._retry
        return self.count >= policy.attempts or self.cx._now() - self.started >= policy.budget

    def pause(
        self, statement: Statement, error: CortexError, why: str, *, least: float = 0.0
    ) -> None:
        policy = self.cx._retry
        left = max(0.0, policy.budget - (self.cx._now() - self.started))
        pause = min(max(policy.delay(self.count), least), left)
        log.info("op=%s %s (%s); pausing %.1f s", statement.op, why, type(error).__name__, pause)
        self.cx._sleep(pause)


def run_once(
    cx: Cortex, statement: Statement, kind: Kind, marker: str, check: Check | None
) -> Result:
    """Run a PAID or WRITE ``statement`` (already marked with ``marker``) at most once in effect."""
    attempts = _Attempts(cx)
    while True:
        attempts.count += 1
        try:
            return cx._attempt(statement, check)
        except CortexError as error:
            if not isinstance(error, TransientError):
                raise
            if not is_ambiguous(error):
                if attempts.spent():
                    raise
                attempts.pause(statement, error, "was refused by Snowflake (nothing ran)")
                continue
            found = recover(cx, statement, marker, error, check)
            if found is None and kind is Kind.PAID and len(statement.sql) <= HISTORY_TEXT_CHARS:
                if attempts.spent():
                    raise  # it never ran, and the policy allows no further attempt
                why = "lost its answer and is not in the query history"
                attempts.pause(statement, error, why, least=SECOND_LOOK)
                # A second look, in case the history shows it late; still absent: it never ran.
                found = recover(cx, statement, marker, error, check)
                if found is None:
                    continue
            if found is not None:
                return found
            raise StatementMayHaveRunError(
                f"the answer was lost ({error.message}) and the statement is not in the "
                "session's query history; it was not sent again",
                marker=marker,
                op=statement.op,
            ) from error


def recover(
    cx: Cortex, statement: Statement, marker: str, cause: CortexError, check: Check | None
) -> Result | None:
    """The first run's result; None if the history shows no run. Raises the first run's error,
    or StatementMayHaveRunError when the history cannot tell."""
    run = _settled_run(cx, statement, marker, cause)
    if run is None:
        log.info("op=%s marker=%s: not in the query history", statement.op, marker)
        return None
    if run.failed:
        log.info("op=%s marker=%s: its first run %s failed", statement.op, marker, run.query_id)
        raise _first_error(run, statement.op)
    try:
        result = cx._execute(result_scan_sql(run.query_id))
    except CortexError as exc:
        raise StatementMayHaveRunError(
            f"the statement ran (query id {run.query_id}) but its result could not be read "
            f"again ({exc.message})",
            marker=marker,
            op=statement.op,
            query_id=run.query_id,
        ) from exc
    result = Result(rows=result.rows, query_id=run.query_id, columns=result.columns)
    if check is not None:
        check(result)
    log.info("op=%s: answer recovered from its first run %s", statement.op, run.query_id)
    return result


def _settled_run(cx: Cortex, statement: Statement, marker: str, cause: CortexError) -> Run | None:
    """The run to decide on: the successful one, else the last one, once it has ended."""
    started, pause = cx._now(), 1.0
    while True:
        run = _pick(_runs(cx, statement, marker, cause))
        if run is None or run.ended:
            return run
        if cx._now() - started >= RECONCILE_WAIT:
            raise StatementMayHaveRunError(
                f"the answer was lost ({cause.message}) and the statement is still running "
                f"(query id {run.query_id}, {run.status}) after {RECONCILE_WAIT:.0f} s; it was "
                "not sent again",
                marker=marker,
                op=statement.op,
                query_id=run.query_id,
                hint="Wait until it ends (Snowsight's Query History, or QUERY_HISTORY_BY_SESSION) "
                "before running anything that repeats it; for 24 hours its result can be read "
                f"with RESULT_SCAN('{run.query_id}').",
            )
        log.info(
            "op=%s: first run %s is %s; waiting %.0f s",
            statement.op,
            run.query_id,
            run.status,
            pause,
        )
        cx._sleep(pause)
        pause = min(pause * 2, 30.0)


def _runs(cx: Cortex, statement: Statement, marker: str, cause: CortexError) -> list[Run]:
    try:
        rows = cx._execute(history_lookup_sql(marker)).rows
    except CortexError as exc:
        raise StatementMayHaveRunError(
            f"the answer was lost ({cause.message}) and the session's query history could not "
            f"be read ({exc.message}); it was not sent again",
            marker=marker,
            op=statement.op,
        ) from exc
    return [
        Run(str(row[0]), str(row[1] or "").upper(), row[2], None if row[3] is None else str(row[3]))
        for row in rows
    ]


def _pick(runs: list[Run]) -> Run | None:
    if not runs:
        return None
    succeeded = [r for r in runs if r.succeeded]
    if len(succeeded) > 1:
        log.warning(
            "the statement with these query ids ran %d times: %s",
            len(succeeded),
            ", ".join(r.query_id for r in succeeded),
        )
    running = [r for r in runs if not r.ended]
    return (succeeded or running or runs)[-1]


class ProgrammingError(Exception):
    """The SQL error a first run ended with, as the query history records it (message, code,
    query id; no SQLSTATE): shaped, and named, like the connector's own ProgrammingError so that
    the one translation treats it alike, whatever the connector's version."""

    def __init__(self, message: str, errno: int | None, query_id: str) -> None:
        super().__init__(message)
        self.msg = self.raw_msg = message
        self.errno = errno
        self.sqlstate = None
        self.sfqid = query_id


def _first_error(run: Run, op: str) -> CortexError:
    """The first run's error, translated as if it had arrived."""
    message = run.error_message or f"the statement ended {run.status}"
    return translate(ProgrammingError(message, _int_or_none(run.error_code), run.query_id), op=op)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
