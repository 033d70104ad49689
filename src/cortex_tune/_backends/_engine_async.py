"""Statements the engine runs asynchronously, as a warehouse runs ``execute_async`` submissions.

A submitted statement is recorded in the query history (``RUNNING``, under the submitting
session's id) before :func:`submit` returns its query id, then runs on a session of its own on
a thread, so that a session can have several statements running at once, as a Snowflake session
can. Its status is read from the history (:func:`status`); ``SYSTEM$CANCEL_QUERY`` interrupts it
(see ``_history_sql``). Used by LocalBackend (in process) and by the wire tier's server.

This module imports fakesnow through the engine; only LocalBackend and the wire server import it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from cortex_tune._emulator.history import QueryHistory

if TYPE_CHECKING:
    from cortex_tune._backends._engine import CortexConnection, Engine

#: What the connector's status request answers for a query id it knows nothing of.
NO_DATA = "NO_DATA"


def submit(
    engine: Engine, conn: CortexConnection, sql: str, params: Any = None, **execute: Any
) -> tuple[str, threading.Thread]:
    """Start ``sql`` for session ``conn`` and return its query id (and the thread running it).

    Args:
        engine: The engine ``conn`` is a session of.
        conn: The submitting session: the statement runs in its database and schema and shows
            in its query history.
        sql: The statement.
        params: Its bound values.
        **execute: Passed to the cursor's ``execute`` (the wire server passes ``server=True``).
    """
    history: QueryHistory = conn.history
    worker = engine.connect(conn.database, conn.schema, create=False)
    worker.history, worker.session_id = history, conn.session_id
    record = history.start(conn.session_id, sql, conn.database, conn.schema)
    cursor = worker.cursor()
    cursor.reserved = record

    def run() -> None:
        try:
            cursor.execute(sql, params, **execute)
        except Exception:
            pass
        finally:
            with contextlib.suppress(Exception):
                worker.close()

    thread = threading.Thread(
        target=run, name=f"cortex-tune statement {record.query_id}", daemon=True
    )
    thread.start()
    return record.query_id, thread


def status(history: QueryHistory, query_id: str) -> str:
    """The status of ``query_id`` as the connector's status request names it (QueryStatus):
    RUNNING, ABORTING, SUCCESS, FAILED_WITH_ERROR, or NO_DATA for an id the history lacks."""
    record = history.get(query_id)
    return NO_DATA if record is None else record.status
