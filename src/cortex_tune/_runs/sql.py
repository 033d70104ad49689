"""Statement builders for runs: the runs table, the query history of a session, cancellation.

Pure functions returning :class:`Statement`; values are bound, the table name is a validated
identifier. The runs table holds one row per statement a run submitted (a *part*)::

    RUN_ID      the run                       STATE       SUBMITTING, RUNNING, SUCCEEDED,
    PART        its number in the run                     FAILED, CANCELLED, ABANDONED, LOST
    KIND        complete_table, evaluate      ROWS_TODO   its LIMIT, when bounded
    TARGET      results table, or model       ROWS_DONE   rows it inserted, once ended
    WORK        the identity of the work      SECONDS     how long it ran, once ended
    PARAMETERS  what the work computes (JSON) ERROR       why it failed
    PLAN        lanes, buckets, baseline      CREATED     when it was claimed
    LANE        its key partition             UPDATED     when its row last changed
    MARKER      request marker in its text
    SESSION_ID, USER_NAME, QUERY_ID: who submitted it, and Snowflake's id for it

Every write to it is idempotent (kind IDEMPOTENT): a claim inserts a row only if its marker is
not there yet; an update sets fixed values on the rows of one marker in an expected state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cortex_tune._core.constants import MARKER_PREFIX
from cortex_tune._core.errors import ConfigurationError, ResponseParseError
from cortex_tune._core.identifiers import validate_name
from cortex_tune._core.statement import Param, Statement

#: The columns of a part, in the order the statements below read them.
COLUMNS = (
    "RUN_ID",
    "PART",
    "KIND",
    "TARGET",
    "WORK",
    "PARAMETERS",
    "PLAN",
    "LANE",
    "MARKER",
    "SESSION_ID",
    "USER_NAME",
    "QUERY_ID",
    "STATE",
    "ROWS_TODO",
    "ROWS_DONE",
    "SECONDS",
    "ERROR",
    "CREATED",
    "UPDATED",
)
#: The columns a claim writes (the rest are NULL, or the server's time).
CLAIMED = COLUMNS[:14]
_TYPES = {
    "PART": "NUMBER",
    "LANE": "NUMBER",
    "ROWS_TODO": "NUMBER",
    "ROWS_DONE": "NUMBER",
    "SECONDS": "FLOAT",
    "CREATED": "TIMESTAMP_LTZ",
    "UPDATED": "TIMESTAMP_LTZ",
}
LIVE = ("SUBMITTING", "RUNNING")
#: Most rows of a session's history searched for a marker (the function's maximum).
HISTORY_ROWS = 10_000


def _table(table: str) -> str:
    validate_name(table, what="runs table name")
    return table


def create_runs_table_sql(table: str) -> Statement:
    """``CREATE TABLE IF NOT EXISTS`` the runs table."""
    columns = ", ".join(f"{c} {_TYPES.get(c, 'VARCHAR')}" for c in COLUMNS)
    return Statement(f"CREATE TABLE IF NOT EXISTS {_table(table)} ({columns})", (), "runs.create")


def probe_sql(table: str) -> Statement:
    """Read no row of the runs table: fails if the table does not exist."""
    return Statement(f"SELECT RUN_ID FROM {_table(table)} LIMIT 0", (), "runs.read")  # noqa: S608


def context_sql() -> Statement:
    """The session's id, user and Snowflake's clock: who a claim is made by, and when."""
    return Statement(
        "SELECT CURRENT_SESSION(), CURRENT_USER(), CURRENT_TIMESTAMP()", (), "runs.context"
    )


def claim_sql(table: str, rows: Sequence[Sequence[Param]]) -> Statement:
    """Insert parts (values of :data:`CLAIMED`, in order) whose marker is not there yet."""
    if not rows:
        raise ConfigurationError("a claim needs at least one part")
    one = ", ".join(f"? AS {c}" for c in CLAIMED)
    union = " UNION ALL ".join(f"SELECT {one}" for _ in rows)
    names = ", ".join(CLAIMED)
    sql = (
        f"INSERT INTO {_table(table)} ({names}, CREATED, UPDATED) "  # noqa: S608 - validated
        f"SELECT {names}, CURRENT_TIMESTAMP(), CURRENT_TIMESTAMP() FROM ({union}) v "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE r.MARKER = v.MARKER)"
    )
    return Statement(sql, tuple(v for row in rows for v in row), "runs.claim")


def started_sql(table: str, marker: str, query_id: str) -> Statement:
    """Record the query id of a submitted part, if it is still claimed (not abandoned)."""
    sql = (
        f"UPDATE {_table(table)} SET QUERY_ID = ?, STATE = 'RUNNING', "  # noqa: S608
        "UPDATED = CURRENT_TIMESTAMP() WHERE MARKER = ? AND STATE = 'SUBMITTING'"
    )
    return Statement(sql, (query_id, marker), "runs.update")


def settle_sql(
    table: str,
    marker: str,
    *,
    state: str,
    query_id: str | None,
    rows_done: int | None,
    seconds: float | None,
    error: str | None,
) -> Statement:
    """Record how a live part ended (or that it runs, with the query id the history showed)."""
    sql = (
        f"UPDATE {_table(table)} SET STATE = ?, QUERY_ID = COALESCE(?, QUERY_ID), "  # noqa: S608
        "ROWS_DONE = ?, SECONDS = ?, ERROR = ?, UPDATED = CURRENT_TIMESTAMP() "
        f"WHERE MARKER = ? AND STATE IN ('{LIVE[0]}', '{LIVE[1]}', 'ABANDONED')"
    )
    return Statement(sql, (state, query_id, rows_done, seconds, error, marker), "runs.update")


def abandon_sql(table: str, markers: Sequence[str]) -> Statement:
    """Mark claimed parts that were never submitted ABANDONED (their statements, should they
    start later, find their claim gone and answer nothing)."""
    if not markers:
        raise ConfigurationError("nothing to abandon")
    marks = ", ".join("?" for _ in markers)
    sql = (
        f"UPDATE {_table(table)} SET STATE = 'ABANDONED', UPDATED = CURRENT_TIMESTAMP() "  # noqa: S608
        f"WHERE MARKER IN ({marks}) AND STATE = 'SUBMITTING'"
    )
    return Statement(sql, tuple(markers), "runs.update")


def withdraw_sql(table: str, markers: Sequence[str]) -> Statement:
    """Remove claims of this client that were never submitted (it gives way to another)."""
    if not markers:
        raise ConfigurationError("nothing to withdraw")
    marks = ", ".join("?" for _ in markers)
    sql = f"DELETE FROM {_table(table)} WHERE MARKER IN ({marks}) AND STATE = 'SUBMITTING'"  # noqa: S608
    return Statement(sql, tuple(markers), "runs.update")


def cancelled_sql(table: str, run_id: str) -> Statement:
    """Mark every live part of a run CANCELLED."""
    sql = (
        f"UPDATE {_table(table)} SET STATE = 'CANCELLED', UPDATED = CURRENT_TIMESTAMP() "  # noqa: S608
        f"WHERE RUN_ID = ? AND STATE IN ('{LIVE[0]}', '{LIVE[1]}')"
    )
    return Statement(sql, (run_id,), "runs.update")


def parts_sql(
    table: str, *, run_id: str | None = None, work: str | None = None, live: bool = False
) -> Statement:
    """The parts of a run, or of every run of a work, oldest first, with Snowflake's clock."""
    where: list[str] = []
    params: list[Param] = []
    if run_id is not None:
        where.append("RUN_ID = ?")
        params.append(run_id)
    if work is not None:
        where.append("WORK = ?")
        params.append(work)
    if live:
        where.append(f"STATE IN ('{LIVE[0]}', '{LIVE[1]}')")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = (
        f"SELECT {', '.join(COLUMNS)}, CURRENT_TIMESTAMP() AS NOW "  # noqa: S608
        f"FROM {_table(table)}{clause} ORDER BY CREATED, PART"
    )
    return Statement(sql, tuple(params), "runs.read")


def recent_runs_sql(table: str, *, limit: int) -> Statement:
    """The parts of the ``limit`` most recent runs."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigurationError(f"limit must be a positive integer, not {limit!r}")
    t = _table(table)
    sql = (
        f"SELECT {', '.join(COLUMNS)}, CURRENT_TIMESTAMP() AS NOW FROM {t} "  # noqa: S608
        f"WHERE RUN_ID IN (SELECT RUN_ID FROM {t} GROUP BY RUN_ID "
        "ORDER BY MIN(CREATED) DESC LIMIT ?) ORDER BY CREATED, PART"
    )
    return Statement(sql, (limit,), "runs.read")


def guard(table: str, marker: str) -> tuple[str, tuple[Param, ...]]:
    """A condition a part's statement carries: true only while its claim is live, so that a
    statement that starts after its claim was abandoned or cancelled answers nothing."""
    sql = (
        f"EXISTS (SELECT 1 FROM {_table(table)} WHERE MARKER = ? "  # noqa: S608
        f"AND STATE IN ('{LIVE[0]}', '{LIVE[1]}'))"
    )
    return sql, (marker,)


def session_history_sql(session_id: str, marker: str, *, database: str | None) -> Statement:
    """The statements of session ``session_id`` whose text carries ``marker``, oldest first.

    The session id is Snowflake's own number (checked) and is written as the number the
    table function's SESSION_ID argument takes; the function is qualified with ``database``'s
    INFORMATION_SCHEMA when given (a session without a current database needs it).
    """
    if not str(session_id).isdigit():
        raise ResponseParseError(f"not a Snowflake session id: {session_id!r}", raw=session_id)
    scope = "INFORMATION_SCHEMA"
    if database is not None:
        validate_name(database, what="database name")
        scope = f"{database}.{scope}"
    sql = (
        "SELECT QUERY_ID, EXECUTION_STATUS, ERROR_CODE, ERROR_MESSAGE, START_TIME, END_TIME, "  # noqa: S608
        f"ROWS_PRODUCED FROM TABLE({scope}.QUERY_HISTORY_BY_SESSION(SESSION_ID => "
        f"{int(session_id)}, RESULT_LIMIT => {HISTORY_ROWS})) WHERE QUERY_TEXT LIKE ? "
        "ORDER BY START_TIME"
    )
    return Statement(sql, (f"%{MARKER_PREFIX}{marker} */%",), "runs.history")


def cancel_query_sql(query_id: str) -> Statement:
    """``SYSTEM$CANCEL_QUERY(<query id>)``: stop a running statement."""
    return Statement("SELECT SYSTEM$CANCEL_QUERY(?)", (query_id,), "runs.cancel")


def row_dict(columns: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A row of :func:`parts_sql` as a dict keyed by upper-cased column name."""
    return {str(c).upper(): v for c, v in zip(columns, row, strict=False)}
