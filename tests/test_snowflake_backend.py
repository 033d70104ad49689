"""SnowflakeBackend binds values on any connection paramstyle; SnowparkBackend binds through session.sql."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cortex_tune import Cortex, ObjectNotFoundError

fakesnow = pytest.importorskip("fakesnow.instance")

NASTY = 'it\'s a "test" with \\ backslash, $$ dollars, -- dashes; ? marks %s and 100%'


@pytest.fixture(scope="module")
def engine() -> Any:
    return fakesnow.FakeSnow()


@pytest.mark.parametrize("paramstyle", ["qmark", "numeric", "pyformat", "format"])
def test_values_round_trip_on_every_paramstyle(engine: Any, paramstyle: str) -> None:
    conn = engine.connect(database="DB", schema="PUBLIC", paramstyle=paramstyle)
    cx = Cortex.from_connection(conn)
    rows = cx.sql("SELECT ? AS a, ? AS b", [NASTY, 42])
    assert rows == [(NASTY, 42)]
    cx.close()
    assert not conn._is_closed if hasattr(conn, "_is_closed") else True


def test_caller_connection_stays_open(engine: Any) -> None:
    conn = engine.connect(database="DB", schema="PUBLIC")
    with Cortex.from_connection(conn) as cx:
        cx.sql("CREATE OR REPLACE TABLE T (X VARCHAR)")
    conn.cursor().execute("INSERT INTO T VALUES ('still open')")
    assert conn.cursor().execute("SELECT X FROM T").fetchall() == [("still open",)]


def test_sql_errors_are_translated_with_query_id(engine: Any) -> None:
    conn = engine.connect(database="DB", schema="PUBLIC", paramstyle="qmark")
    cx = Cortex.from_connection(conn)
    with pytest.raises(ObjectNotFoundError) as info:
        cx.sql("SELECT * FROM NO_SUCH_TABLE")
    assert info.value.op == "sql"
    assert "NO_SUCH_TABLE" in info.value.message


class _Frame:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def collect(self) -> list[tuple[Any, ...]]:
        return self.rows


@dataclass
class _Record:
    query_id: str
    sql_text: str


@dataclass
class _History:
    queries: list[_Record] = field(default_factory=list)

    def __enter__(self) -> _History:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


class SessionLike:
    """The part of a Snowpark Session that cortex-tune uses, over a local engine connection.

    As Snowpark documents ``Session.sql(query, params)``: the query and its params go to the
    connector cursor of the session's connection (``Session.connection``) unchanged, so the
    connection's paramstyle decides how placeholders are read. ``query_history()`` records
    each query's id (``QueryRecord.query_id``), as Snowpark documents it.
    """

    def __init__(self, conn: Any) -> None:
        self.connection = conn
        self.calls: list[tuple[str, list[Any] | None]] = []
        self.history: _History | None = None

    def query_history(self) -> _History:
        self.history = _History()
        return self.history

    def sql(self, query: str, params: list[Any] | None = None) -> _Frame:
        self.calls.append((query, params))
        cur = self.connection.cursor()
        cur.execute(query, params)
        if self.history is not None:
            self.history.queries.append(_Record(cur.sfqid, query))
        return _Frame(cur.fetchall())


@pytest.fixture(params=["qmark", "pyformat"])
def session(engine: Any, request: pytest.FixtureRequest) -> SessionLike:
    return SessionLike(engine.connect(database="DB", schema="PUBLIC", paramstyle=request.param))


def test_snowpark_session_binds_values(session: SessionLike) -> None:
    cx = Cortex.from_session(session)
    assert cx.sql("SELECT ? AS A, '100%' AS B", [NASTY]) == [(NASTY, "100%")]
    assert cx.sql("SELECT '100%' AS B") == [("100%",)]
    sent = {"qmark": "SELECT ? AS A, '100%' AS B", "pyformat": "SELECT %s AS A, '100%%' AS B"}
    assert session.calls[0] == (sent[session.connection._paramstyle], [NASTY])
    assert session.calls[1] == ("SELECT '100%' AS B", None)
    cx.close()  # the session is the caller's: still usable
    assert cx.sql("SELECT 1") == [(1,)]


def test_read_table_streams_through_the_cursor(engine: Any) -> None:
    conn = engine.connect(database="DB", schema="PUBLIC", paramstyle="qmark")
    cx = Cortex.from_connection(conn)
    cx.sql("CREATE OR REPLACE TABLE NUMS AS SELECT range AS N FROM range(7)")
    batches = list(cx.read_table("NUMS", key="N", batch_size=3))
    assert [[row["N"] for row in batch] for batch in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_connect_params_bound_attempts_but_never_cancel_long_statements() -> None:
    from cortex_tune._backends.snowflake import connect_params

    params = connect_params(None, {"account": "a", "user": "u", "password": "p"})
    assert params["paramstyle"] == "qmark"
    assert params["session_parameters"]["QUERY_TAG"].startswith("cortex-tune/")
    assert params["socket_timeout"] > 0
    assert "network_timeout" not in params
    assert "query_timeout" not in params
    # A named connection from another file: the connector reads and checks that file itself.
    named = connect_params("prod", {"connections_file_path": Path("elsewhere.toml")})
    assert named["connection_name"] == "prod"


@pytest.mark.parametrize("paramstyle", ["qmark", "numeric", "pyformat", "format"])
def test_statements_without_values_reach_the_server_untouched(engine: Any, paramstyle: str) -> None:
    # A statement with no bound values (e.g. FINETUNE with literals) keeps its `?` and `%`.
    conn = engine.connect(database="DB", schema="PUBLIC", paramstyle=paramstyle)
    cx = Cortex.from_connection(conn)
    assert cx.sql("SELECT '100% sure? %s :1' AS A") == [("100% sure? %s :1",)]
