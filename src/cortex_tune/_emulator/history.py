"""Snowflake's query history and persisted results, as the emulator keeps them.

Every statement a session runs is recorded when it starts (``RUNNING``) and updated when it ends
(``SUCCESS`` or ``FAILED_WITH_ERROR``), so its status can be read while it runs, from any session.
What is recorded follows the documented output of ``INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION``
(https://docs.snowflake.com/en/sql-reference/functions/query_history): the query id, the text as
submitted (comments included), the session, the context, ``EXECUTION_STATUS``, the error code and
message of a failure, the start and end times (``END_TIME`` is the Unix epoch while the statement
runs) and the rows produced. The results of successful statements are kept for ``RESULT_SCAN``
(https://docs.snowflake.com/en/sql-reference/functions/result_scan): Snowflake keeps them 24 hours;
the emulator keeps the most recent ones up to a memory budget.

A running statement can be cancelled (``SYSTEM$CANCEL_QUERY``,
https://docs.snowflake.com/en/sql-reference/functions/system_cancel_query): the engine that runs
it registers how to interrupt it; once interrupted it ends ``FAILED_WITH_ERROR`` with the message
the documentation gives cancelled statements, ``SQL execution canceled``.

Shared by the SQL engine (which exposes it as the table function and ``RESULT_SCAN``) and by
FakeBackend (which answers cortex-tune's own history statements from it).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Statements kept per session; the table function returns at most 10,000 (its RESULT_LIMIT).
SESSION_RECORDS = 10_000
#: Bytes of results kept for RESULT_SCAN; older results are dropped first.
RESULT_BYTES = 32 * 1024 * 1024
#: Characters of a statement's text kept: Snowflake documents this limit for the QUERY_TEXT of
#: its ACCOUNT_USAGE.QUERY_HISTORY view ("The limit is 100K characters. Longer SQL statements
#: are truncated."); the table function's page does not say, so the emulator applies it too.
TEXT_CHARS = 100_000

RUNNING = "RUNNING"
SUCCESS = "SUCCESS"
FAILED = "FAILED_WITH_ERROR"
#: What the connector's status request says of a statement being cancelled (QueryStatus).
ABORTING = "ABORTING"
#: A cancelled statement's error, as Snowflake reports it ("Canceled queries are identified by
#: their error_message text (SQL execution canceled)", QUERY_HISTORY's usage notes).
CANCELED_MESSAGE = "SQL execution canceled"
CANCELED_CODE = 604

#: The documented columns the emulator fills, in this order, with their Snowflake types.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("QUERY_ID", "VARCHAR"),
    ("QUERY_TEXT", "VARCHAR"),
    ("DATABASE_NAME", "VARCHAR"),
    ("SCHEMA_NAME", "VARCHAR"),
    ("QUERY_TYPE", "VARCHAR"),
    ("SESSION_ID", "NUMBER"),
    ("EXECUTION_STATUS", "VARCHAR"),
    ("ERROR_CODE", "NUMBER"),
    ("ERROR_MESSAGE", "VARCHAR"),
    ("START_TIME", "TIMESTAMP_LTZ"),
    ("END_TIME", "TIMESTAMP_LTZ"),
    ("TOTAL_ELAPSED_TIME", "NUMBER"),
    ("ROWS_PRODUCED", "NUMBER"),
)

_WORD = re.compile(r"(?:\s+|--[^\n]*\n|/\*.*?\*/|\()*([A-Za-z]+)", re.S)


@dataclass
class QueryRecord:
    """One statement in the history (the documented columns, lower-cased)."""

    query_id: str
    query_text: str
    session_id: int
    database_name: str | None
    schema_name: str | None
    start_time: float
    query_type: str = "UNKNOWN"
    execution_status: str = RUNNING
    error_code: int | None = None
    error_message: str | None = None
    end_time: float | None = None
    rows_produced: int | None = None
    #: Interrupts the statement (registered by the engine running it), while it runs.
    interrupt: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    #: Whether a cancel was asked for: its failure, when it comes, is the cancellation.
    cancel_requested: bool = False

    @property
    def running(self) -> bool:
        """Whether the statement has not ended yet."""
        return self.end_time is None

    @property
    def status(self) -> str:
        """The statement's status as the connector's status request names it (QueryStatus)."""
        if self.running and self.cancel_requested:
            return ABORTING
        return self.execution_status

    def row(self) -> tuple[Any, ...]:
        """The record in the order of :data:`COLUMNS` (END_TIME is 0, the epoch, while running)."""
        end = 0.0 if self.end_time is None else self.end_time
        elapsed = None if self.end_time is None else round((end - self.start_time) * 1000)
        return (
            self.query_id,
            self.query_text,
            self.database_name,
            self.schema_name,
            self.query_type,
            self.session_id,
            self.execution_status,
            self.error_code,
            self.error_message,
            self.start_time,
            end,
            elapsed,
            self.rows_produced,
        )


class QueryHistory:
    """The statements of every session of one engine, and the results RESULT_SCAN reads.

    Thread-safe: sessions run on their own threads and may read each other's history.

    Args:
        clock: Seconds since the epoch, for START_TIME and END_TIME.
        result_bytes: Bytes of results kept for RESULT_SCAN.
    """

    def __init__(
        self, clock: Callable[[], float] = time.time, *, result_bytes: int = RESULT_BYTES
    ) -> None:
        self.clock = clock
        self.result_bytes = result_bytes
        self._lock = threading.Lock()
        self._sessions: dict[int, deque[QueryRecord]] = {}
        self._by_id: dict[str, QueryRecord] = {}
        self._results: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._kept = 0
        self._session_ids = itertools.count(1_000_001)

    def new_session(self) -> int:
        """A fresh session id (Snowflake's are numbers)."""
        return next(self._session_ids)

    def start(
        self,
        session_id: int,
        text: str,
        database: str | None = None,
        schema: str | None = None,
        *,
        query_id: str | None = None,
    ) -> QueryRecord:
        """Record a statement that starts now (RUNNING), under a new query id or ``query_id``."""
        record = QueryRecord(
            query_id=query_id or str(uuid.uuid4()),
            query_text=text[:TEXT_CHARS],
            session_id=session_id,
            database_name=database,
            schema_name=schema,
            start_time=self.clock(),
        )
        with self._lock:
            records = self._sessions.setdefault(session_id, deque(maxlen=SESSION_RECORDS))
            if len(records) == records.maxlen:
                self._by_id.pop(records[0].query_id, None)
            records.append(record)
            self._by_id[record.query_id] = record
        return record

    def succeed(self, record: QueryRecord, *, rows: int | None, result: Any, size: int) -> None:
        """The statement ended well; keep ``result`` (``size`` bytes) for RESULT_SCAN."""
        with self._lock:
            record.query_type = statement_type(record.query_text)
            record.rows_produced = rows
            record.execution_status = SUCCESS
            record.end_time = self.clock()
            record.interrupt = None
            if size <= self.result_bytes:
                self._results[record.query_id] = (result, size)
                self._kept += size
                while self._kept > self.result_bytes:
                    _, (_, dropped) = self._results.popitem(last=False)
                    self._kept -= dropped

    def fail(self, record: QueryRecord, *, code: int | None, message: str) -> None:
        """The statement ended with an error (the cancellation, if one was asked for)."""
        with self._lock:
            if record.cancel_requested:
                code, message = CANCELED_CODE, CANCELED_MESSAGE
            record.execution_status = FAILED
            record.error_code = code
            record.error_message = message
            record.end_time = self.clock()
            record.interrupt = None

    def cancel(self, query_id: str) -> bool:
        """Ask a running statement to stop; False if no statement of that id is running.

        The statement ends when its engine notices the interruption; until then its status
        reads ABORTING. A statement that completes first keeps its success.
        """
        with self._lock:
            record = self._by_id.get(query_id)
            if record is None or not record.running:
                return False
            record.cancel_requested = True
            interrupt = record.interrupt
        if interrupt is not None:
            interrupt()
        return True

    def running(self) -> list[QueryRecord]:
        """Every statement still running, of any session."""
        with self._lock:
            return [r for r in self._by_id.values() if r.running]

    def get(self, query_id: str) -> QueryRecord | None:
        """The record of ``query_id``, if kept."""
        with self._lock:
            return self._by_id.get(query_id)

    def result(self, query_id: str) -> Any | None:
        """The kept result of a successful statement, or None."""
        with self._lock:
            kept = self._results.get(query_id)
            return None if kept is None else kept[0]

    def matching(self, fragment: str) -> list[QueryRecord]:
        """Every kept record, of any session, whose text contains ``fragment``, oldest first."""
        with self._lock:
            records = [r for s in self._sessions.values() for r in s if fragment in r.query_text]
        return sorted(records, key=lambda r: r.start_time)

    def session(self, session_id: int, limit: int | None = None) -> list[QueryRecord]:
        """A session's records, as the table function picks them before its WHERE clause:
        those still running, then the most recent end times, at most ``limit``."""
        with self._lock:
            records = list(self._sessions.get(session_id, ()))
        records.sort(key=lambda r: (r.running, r.end_time or 0.0, r.start_time), reverse=True)
        return records if limit is None else records[:limit]


def statement_type(text: str) -> str:
    """QUERY_TYPE for a statement that ended: its leading keyword (SELECT, INSERT, ...)."""
    match = _WORD.match(text)
    word = match.group(1).upper() if match else "UNKNOWN"
    return "SELECT" if word == "WITH" else word


def like(pattern: str, text: str) -> bool:
    """SQL LIKE (``%`` any run, ``_`` any one character), case-sensitive, no escape character."""
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch("".join(parts), text, re.S) is not None
