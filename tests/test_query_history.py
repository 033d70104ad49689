"""The emulator's query history and RESULT_SCAN follow Snowflake's documentation.

INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION
(https://docs.snowflake.com/en/sql-reference/functions/query_history) and RESULT_SCAN
(https://docs.snowflake.com/en/sql-reference/functions/result_scan), run as SQL on the embedded
emulator: what cortex-tune's recovery after a lost answer relies on, and what asynchronous runs
will poll.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from cortex_tune import Cortex, ModelRequest, ObjectNotFoundError, QueryError
from cortex_tune.sql import Statement

pytest.importorskip("fakesnow")

HISTORY = "TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION({}))"
DOCUMENTED = [
    "QUERY_ID",
    "QUERY_TEXT",
    "DATABASE_NAME",
    "SCHEMA_NAME",
    "QUERY_TYPE",
    "SESSION_ID",
    "EXECUTION_STATUS",
    "ERROR_CODE",
    "ERROR_MESSAGE",
    "START_TIME",
    "END_TIME",
    "TOTAL_ELAPSED_TIME",
    "ROWS_PRODUCED",
]


@pytest.fixture
def cx() -> Iterator[Cortex]:
    client = Cortex.local()
    yield client
    client.close()


def _history(cx: Cortex, arguments: str = "", where: str = "TRUE") -> list[dict[str, Any]]:
    """The client session's history, by column name."""
    sql = f"SELECT * FROM {HISTORY.format(arguments)} WHERE {where} ORDER BY START_TIME"
    result = cx.backend.execute(Statement(sql, (), "history.lookup"))
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def test_statements_are_recorded_with_the_documented_columns_and_statuses(cx: Cortex) -> None:
    cx.sql("CREATE TABLE T (A INT)")
    text = "/* leading */ INSERT INTO T VALUES (1), (2) -- trailing\n/* last */"
    cx.sql(text)
    with pytest.raises(ObjectNotFoundError) as info:
        cx.sql("SELECT * FROM NO_SUCH_TABLE")

    rows = _history(cx)

    assert list(rows[0]) == DOCUMENTED
    (inserted,) = [r for r in rows if r["QUERY_TEXT"].startswith("/* leading */ INSERT")]
    # The text as submitted, comments included (cortex-tune adds its marker at the end).
    assert inserted["QUERY_TEXT"].startswith(text)
    assert inserted["EXECUTION_STATUS"] == "SUCCESS" and inserted["QUERY_TYPE"] == "INSERT"
    assert inserted["ROWS_PRODUCED"] == 2 and inserted["END_TIME"] >= inserted["START_TIME"]
    assert (inserted["DATABASE_NAME"], inserted["SCHEMA_NAME"]) == ("CORTEX_LOCAL", "PUBLIC")
    (failed,) = [r for r in rows if "NO_SUCH_TABLE" in r["QUERY_TEXT"]]
    assert failed["EXECUTION_STATUS"] == "FAILED_WITH_ERROR"
    assert failed["ERROR_CODE"] == 2003 and "NO_SUCH_TABLE" in failed["ERROR_MESSAGE"]
    assert failed["QUERY_ID"] == info.value.query_id  # the id the error carried
    assert len({r["SESSION_ID"] for r in rows}) == 1


def test_long_texts_are_kept_to_100k_characters(cx: Cortex) -> None:
    cx.sql("SELECT 1 /* " + "z" * 200_000 + " */")
    (row,) = _history(cx, "", "QUERY_TEXT LIKE 'SELECT 1 /* zzz%'")
    assert len(row["QUERY_TEXT"]) == 100_000


def test_result_limit_applies_before_the_where_clause(cx: Cortex) -> None:
    for i in range(120):
        cx.sql(f"SELECT {i}")

    assert len(_history(cx)) == 100  # the documented default
    assert len(_history(cx, "RESULT_LIMIT => 10")) == 10
    # (the history queries are in it too: the running one included, as documented)
    assert len(_history(cx, "RESULT_LIMIT => 1000", "QUERY_TEXT NOT LIKE '%HISTORY%'")) == 120
    # the 100 kept are the most recent: the WHERE clause cannot reach the oldest
    assert _history(cx, "", "QUERY_TEXT = 'SELECT 0'") == []
    for bad in ("0", "10001"):
        with pytest.raises(QueryError, match="RESULT_LIMIT"):
            cx.sql(f"SELECT COUNT(*) FROM {HISTORY.format(f'RESULT_LIMIT => {bad}')}")


def test_the_history_is_the_current_sessions_unless_another_is_named(cx: Cortex) -> None:
    other = cx.backend.connection().cursor()  # type: ignore[attr-defined]
    other.execute("SELECT 'from the other session'")
    (session,) = other.execute("SELECT CURRENT_SESSION()").fetchone()
    assert session.isdigit()

    where = "QUERY_TEXT = 'SELECT ''from the other session'''"
    mine = _history(cx, "", where)
    theirs = _history(cx, f"SESSION_ID => {session}", where)

    assert mine == []
    assert [r["SESSION_ID"] for r in theirs] == [int(session)]


def test_a_running_statement_is_visible_from_another_session(cx: Cortex) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(request: ModelRequest) -> str:
        started.set()
        release.wait(timeout=30)
        return "done"

    cx.backend.register_model("slow", slow)  # type: ignore[attr-defined]
    worker = cx.backend.connection().cursor()  # type: ignore[attr-defined]
    (session,) = worker.execute("SELECT CURRENT_SESSION()").fetchone()
    answers: list[Any] = []
    thread = threading.Thread(
        target=lambda: answers.append(
            worker.execute("SELECT SNOWFLAKE.CORTEX.COMPLETE('slow', 'x')").fetchone()
        )
    )
    thread.start()
    try:
        assert started.wait(timeout=30)
        where = "QUERY_TEXT LIKE '%COMPLETE(''slow''%'"
        (running,) = _history(cx, f"SESSION_ID => {session}", where)
        # documented: END_TIME is the epoch while the statement runs
        assert running["EXECUTION_STATUS"] == "RUNNING"
        assert running["END_TIME"].timestamp() == 0
        # END_TIME_RANGE_END leaves out statements that have not completed
        ended = _history(
            cx, f"SESSION_ID => {session}, END_TIME_RANGE_END => CURRENT_TIMESTAMP()", where
        )
        assert ended == []
    finally:
        release.set()
        thread.join(timeout=30)
    assert answers == [("done",)]
    (finished,) = _history(cx, f"SESSION_ID => {session}", "QUERY_TEXT LIKE '%COMPLETE(''slow''%'")
    assert finished["EXECUTION_STATUS"] == "SUCCESS"


def test_result_scan_reads_a_kept_result_from_any_session(cx: Cortex) -> None:
    cx.sql("CREATE TABLE T AS SELECT 1 AS A UNION ALL SELECT 2")
    result = cx.backend.execute(Statement("SELECT A, 'x' AS B FROM T ORDER BY A"))

    other = cx.backend.connection().cursor()  # type: ignore[attr-defined]
    rows = other.execute(f"SELECT * FROM TABLE(RESULT_SCAN('{result.query_id}'))").fetchall()

    assert sorted(rows) == [(1, "x"), (2, "x")]
    with pytest.raises(QueryError):
        cx.sql("SELECT * FROM TABLE(RESULT_SCAN('01234567-89ab-cdef-0123-456789abcdef'))")
