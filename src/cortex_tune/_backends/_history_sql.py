"""The query history in the engine's SQL: recording, the table function, RESULT_SCAN.

Every statement a session runs through the engine is recorded in the engine's
:class:`~cortex_tune._emulator.history.QueryHistory` (see :func:`run_recorded`). Then:

- ``TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION([SESSION_ID => ...] [, END_TIME_RANGE_START
  => ...] [, END_TIME_RANGE_END => ...] [, RESULT_LIMIT => ...]))`` reads it, as documented
  (https://docs.snowflake.com/en/sql-reference/functions/query_history): the session defaults to
  the current one; RESULT_LIMIT (1 to 10,000, default 100) picks the running statements and the
  most recent end times *before* the query's WHERE clause; without END_TIME_RANGE_END running
  statements are included; the unqualified ``INFORMATION_SCHEMA.`` form needs a current database;
- ``CURRENT_SESSION()`` is the session's id, as text;
- ``SELECT * FROM TABLE(RESULT_SCAN('<query id>'))`` reads any kept result, from any session
  (fakesnow supports that form; the engine keeps results beyond fakesnow's per-call cache);
- ``SELECT SYSTEM$CANCEL_QUERY('<query id>')`` interrupts a running statement of any session and
  answers ``query [<id>] terminated.``, as documented
  (https://docs.snowflake.com/en/sql-reference/functions/system_cancel_query). The documentation
  does not say what it answers for a statement that is not running; the emulator answers what
  Snowflake's own command line tests read back from an account (a row, not an error):
  ``Identified SQL statement is not currently executing.`` (contract row C-ASYNC-05).

This module imports fakesnow through the engine; only the engine imports it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, MutableMapping
from typing import Any

from snowflake.connector.errors import ProgrammingError
from sqlglot import exp

from cortex_tune._emulator.history import (
    CANCELED_CODE,
    CANCELED_MESSAGE,
    COLUMNS,
    QueryHistory,
    QueryRecord,
)

_FUNCTION = "QUERY_HISTORY_BY_SESSION"
#: SYSTEM$CANCEL_QUERY's answer for a statement that is not running (ended, or unknown).
NOT_EXECUTING = "Identified SQL statement is not currently executing."
_CANCEL = re.compile(
    r"\s*SELECT\s+SYSTEM\$CANCEL_QUERY\s*\(\s*(\?|'[^']*')\s*\)\s*(?:/\*.*?\*/\s*)?;?\s*",
    re.I | re.S,
)
_RESULT_SCAN = re.compile(r"RESULT_SCAN\s*\(\s*'([^']*)'\s*\)", re.I)
_DUCK_TYPES = {"VARCHAR": "VARCHAR", "NUMBER": "BIGINT", "TIMESTAMP_LTZ": "TIMESTAMPTZ"}
_ARGUMENTS = {
    "SESSION_ID",
    "END_TIME_RANGE_START",
    "END_TIME_RANGE_END",
    "RESULT_LIMIT",
    "INCLUDE_CLIENT_GENERATED_STATEMENT",
}


def run_recorded(cursor: Any, command: str, run: Callable[[], Any]) -> Any:
    """Run ``command`` on ``cursor`` (through ``run``) and record it in the engine's history.

    The statement is RUNNING while ``run`` runs; then SUCCESS, with its result kept for
    RESULT_SCAN under the query id the caller sees, or FAILED_WITH_ERROR. Errors leave with the
    recorded query id (``sfqid``).
    """
    conn = cursor._conn
    history: QueryHistory = conn.history
    # A statement submitted asynchronously was recorded (RUNNING) when it was submitted.
    record: QueryRecord | None = getattr(cursor, "reserved", None)
    cursor.reserved = None
    if record is None:
        record = history.start(conn.session_id, command, conn.database, conn.schema)
    _restore_results(command, conn.results_cache, history)
    record.interrupt = cursor._duck_conn.interrupt
    try:
        if record.cancel_requested:  # cancelled before it started
            raise _canceled()
        value = run()
    except Exception as exc:
        history.fail(record, code=getattr(exc, "errno", None), message=_message(exc))
        if record.cancel_requested and getattr(exc, "errno", None) != CANCELED_CODE:
            canceled = _canceled()  # DuckDB's interruption, as Snowflake reports a cancel
            canceled.sfqid = record.query_id
            raise canceled from None
        if hasattr(exc, "sfqid"):
            exc.sfqid = record.query_id
        raise
    _keep_result(cursor, record, history)
    return value


def _canceled() -> ProgrammingError:
    return ProgrammingError(msg=CANCELED_MESSAGE, errno=CANCELED_CODE, sqlstate="57014")


def cancel_query(
    conn: Any, command: str, params: Any, kwargs: dict[str, Any]
) -> tuple[str, Any, dict[str, Any]]:
    """``SELECT SYSTEM$CANCEL_QUERY(...)`` carried out, as a SELECT of its answer; any other
    statement is returned unchanged."""
    match = _CANCEL.fullmatch(command)
    if match is None:
        return command, params, kwargs
    bound = params if params is not None else kwargs.get("binding_params")
    argument = match.group(1)
    query_id = str((bound or [None])[0]) if argument == "?" else argument[1:-1]
    history: QueryHistory = conn.history
    answer = f"query [{query_id}] terminated." if history.cancel(query_id) else NOT_EXECUTING
    rest = {k: v for k, v in kwargs.items() if k != "binding_params"}
    return 'SELECT ? AS "SYSTEM$CANCEL_QUERY"', [answer], rest


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "raw_msg", None) or getattr(exc, "msg", None) or exc)


def _keep_result(cursor: Any, record: QueryRecord, history: QueryHistory) -> None:
    cache: MutableMapping[str, Any] = cursor._conn.results_cache
    value = cache.pop(cursor._sfqid, None) if cursor._sfqid else None
    if value is None:  # RESULT_SCAN answers from the cache without adding to it
        value = (
            cursor._arrow_table,
            cursor._rowcount,
            cursor._last_sql,
            cursor._last_params,
            cursor._last_transformed,
        )
    cache[record.query_id] = value
    cursor._sfqid = record.query_id
    table = value[0]
    size = int(table.nbytes) if table is not None else 0
    history.succeed(record, rows=cursor._rowcount, result=value, size=size)


def _restore_results(command: str, cache: MutableMapping[str, Any], history: QueryHistory) -> None:
    """Put kept results back in fakesnow's cache before a RESULT_SCAN reads them."""
    for query_id in _RESULT_SCAN.findall(command):
        if query_id not in cache and (kept := history.result(query_id)) is not None:
            cache[query_id] = kept


# -- the table function ----------------------------------------------------------------------------


def transform(expression: exp.Expr, conn: Any) -> exp.Expr:
    """Replace the history table function and CURRENT_SESSION() in ``expression``."""

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.CurrentSession):
            return exp.Literal.string(str(conn.session_id))
        if isinstance(node, exp.TableFromRows):
            call, qualifier = _call(node.this)
            if call is not None:
                _check_scope(qualifier, conn)
                alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier("_QH"))
                return exp.Subquery(this=_relation(call, conn), alias=alias)
        return node

    return expression.transform(replace, copy=False)


def _call(node: Any) -> tuple[exp.Anonymous | None, list[str]]:
    """The QUERY_HISTORY_BY_SESSION call in a TABLE(...) and its qualifier parts, if it is one."""
    qualifier: list[str] = []
    while isinstance(node, exp.Dot):
        qualifier = [*_parts(node.this), *qualifier]
        node = node.expression
    if isinstance(node, exp.Anonymous) and str(node.this).upper() == _FUNCTION:
        return node, [q.upper() for q in qualifier]
    return None, []


def _parts(node: Any) -> list[str]:
    if isinstance(node, exp.Dot):
        return [*_parts(node.this), *_parts(node.expression)]
    return [str(node.name if isinstance(node, exp.Identifier) else node)]


def _check_scope(qualifier: list[str], conn: Any) -> None:
    if qualifier[-1:] == ["INFORMATION_SCHEMA"]:
        if len(qualifier) == 1 and (not conn.database_set or conn.database is None):
            raise ProgrammingError(
                msg="Cannot perform SELECT. This session does not have a current database. "
                "Call 'USE DATABASE', or use a qualified name.",
                errno=90105,
                sqlstate="22000",
            )
        return
    if str(conn.schema or "").upper() != "INFORMATION_SCHEMA":
        raise ProgrammingError(
            msg=f"SQL compilation error:\nUnknown user-defined table function {_FUNCTION}",
            errno=2141,
            sqlstate="42601",
        )


def _relation(call: exp.Anonymous, conn: Any) -> exp.Select:
    args = _arguments(call)
    session = _session_id(args.get("SESSION_ID"), conn)
    limit = _result_limit(args.get("RESULT_LIMIT"))
    start, end = args.get("END_TIME_RANGE_START"), args.get("END_TIME_RANGE_END")
    ranged = start is not None or end is not None
    history: QueryHistory = conn.history
    records = history.session(session, None if ranged else limit)
    select = _select(records)
    if not ranged:
        return select
    running = exp.column("EXECUTION_STATUS").eq(exp.Literal.string("RUNNING"))
    select = exp.select("*").from_(select.subquery("_QHR"))
    if start is not None:
        select = select.where(exp.or_(exp.column("END_TIME") >= start, running))
    if end is not None:
        select = select.where(exp.and_(exp.not_(running), exp.column("END_TIME") <= end))
    return (
        select.order_by(exp.Ordered(this=running, desc=True))
        .order_by(exp.Ordered(this=exp.column("END_TIME"), desc=True), append=True)
        .limit(limit)
    )


def _arguments(call: exp.Anonymous) -> dict[str, exp.Expr]:
    args: dict[str, exp.Expr] = {}
    for arg in call.expressions:
        name = str(arg.this.name).upper() if isinstance(arg, exp.Kwarg) else ""
        if name not in _ARGUMENTS:
            raise ProgrammingError(
                msg=f"SQL compilation error:\ninvalid argument for {_FUNCTION}: {arg.sql()}",
                errno=1044,
                sqlstate="42601",
            )
        args[name] = arg.expression
    return args


def _session_id(value: exp.Expr | None, conn: Any) -> int:
    if value is None or isinstance(value, exp.CurrentSession):
        return int(conn.session_id)
    if isinstance(value, exp.Literal) and str(value.this).strip().isdigit():
        return int(str(value.this))
    raise ProgrammingError(
        msg="SQL compilation error:\nSESSION_ID must be a session number or CURRENT_SESSION()",
        errno=1044,
        sqlstate="42601",
    )


def _result_limit(value: exp.Expr | None) -> int:
    if value is None:
        return 100
    text = str(value.this) if isinstance(value, exp.Literal) else ""
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise ProgrammingError(
            msg=f"SQL compilation error:\ninvalid value [{value.sql()}] for parameter "
            "'RESULT_LIMIT': it must be between 1 and 10000",
            errno=1008,
            sqlstate="22023",
        )
    return int(text)


def _select(records: list[QueryRecord]) -> exp.Select:
    """The records as a relation with the documented column names and types."""
    names = [name for name, _ in COLUMNS]
    casts = [
        exp.cast(exp.column(name) if records else exp.null(), _DUCK_TYPES[kind]).as_(name)
        for name, kind in COLUMNS
    ]
    if not records:
        return exp.select(*casts).where(exp.false())
    rows = [
        tuple(_value(v, kind) for v, (_, kind) in zip(r.row(), COLUMNS, strict=True))
        for r in records
    ]
    return exp.select(*casts).from_(exp.values(rows, alias="_QH", columns=names))


def _value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "TIMESTAMP_LTZ":
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc).isoformat()
    return value
