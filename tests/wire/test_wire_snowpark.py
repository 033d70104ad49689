"""``Cortex.from_session`` on a real Snowpark Session, over the real connector, on the wire tier.

Three ways a user gets a session: Snowpark opens the connection itself (Snowpark sets
paramstyle qmark), or it wraps the user's own connector connection
(``Session.builder.configs({"connection": conn})``) with the connector's default paramstyle
(pyformat) or with qmark.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from wire_server import WireServer, create_job, training_table

from cortex_tune import Cortex, JobNotFoundError, UnknownModelError

snowpark = pytest.importorskip("snowflake.snowpark")

NASTY = 'it\'s a "test" with \\ backslash, $$ dollars, -- dashes; ? marks %s %(x)s and 100%'

# how the session is made -> the paramstyle of the connection under it
SESSIONS = {"snowpark-opens": "qmark", "own-pyformat": "pyformat", "own-qmark": "qmark"}


def _session(wire: WireServer, how: str) -> Any:
    import snowflake.connector

    kwargs = wire.connect_kwargs()
    if how == "snowpark-opens":
        return snowpark.Session.builder.configs(kwargs).create()
    if how == "own-qmark":
        kwargs["paramstyle"] = "qmark"
    connection = snowflake.connector.connect(**kwargs)  # own-pyformat: the default
    return snowpark.Session.builder.configs({"connection": connection}).create()


@pytest.fixture(params=list(SESSIONS))
def session(request: pytest.FixtureRequest, wire: WireServer) -> Iterator[tuple[str, Any]]:
    session = _session(wire, request.param)
    try:
        yield request.param, session
    finally:
        # close() first runs SYSTEM$CANCEL_ALL_QUERIES, which fakesnow lacks; it closes the
        # connection all the same.
        with contextlib.suppress(snowpark.exceptions.SnowparkSessionException):
            session.close()


def test_the_session_has_the_paramstyle_the_test_means(session: tuple[str, Any]) -> None:
    how, sess = session
    assert sess.connection._paramstyle == SESSIONS[how]


def test_values_round_trip_byte_for_byte(session: tuple[str, Any]) -> None:
    cx = Cortex.from_session(session[1])
    assert cx.sql("SELECT ? AS A, ? AS B, '100%' AS C", [NASTY, 42]) == [(NASTY, 42, "100%")]
    assert cx.sql("SELECT '100%' AS C") == [("100%",)]  # nothing bound: the text as written


@pytest.mark.parametrize("functions", ["ai", "legacy"])
def test_complete_through_the_session(session: tuple[str, Any], functions: str) -> None:
    cx = Cortex.from_session(session[1], functions=functions)
    assert cx.complete("echo", NASTY).text == NASTY
    assert cx.complete("echo", NASTY, max_tokens=50).text == NASTY


def test_finetune_lifecycle_through_the_session(session: tuple[str, Any]) -> None:
    cx = Cortex.from_session(session[1])
    training_table(cx)
    job = create_job(cx, "SNOWPARK_MODEL")
    assert cx.finetune.describe(job.id).id == job.id
    assert [j.id for j in cx.finetune.list()] == [job.id]
    with pytest.raises(JobNotFoundError) as info:
        cx.finetune.describe("abc")
    assert info.value.op == "finetune.describe"
    assert info.value.errno == 2003  # the connector's error, unwrapped from Snowpark's


def test_qmark_sessions_bind_on_the_server(wire: WireServer, session: tuple[str, Any]) -> None:
    how, sess = session
    cx = Cortex.from_session(sess)
    wire.injector.reset()
    cx.sql("SELECT ?", [NASTY])
    (request,) = wire.injector.requests(sql="SELECT")
    bound = [str(b["value"]) for b in request.bindings.values()]
    if SESSIONS[how] == "qmark":
        assert bound == [NASTY]
        assert "it''s a" not in request.sql and "test" not in request.sql
    else:  # pyformat: the connector interpolates on the client, with its own escaping
        assert bound == []
        assert "SELECT ?" not in request.sql


def test_results_and_errors_carry_the_query_id_snowpark_records(
    session: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # Snowpark documents no "last query id" on a Session; session.query_history() records each
    # query pushed down, with QueryRecord.query_id.
    cx = Cortex.from_session(session[1], functions="ai")
    with caplog.at_level(logging.DEBUG, logger="cortex_tune"):
        cx.sql("SELECT 1 AS A")
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("op=sql ")]
    assert logged and "query_id=None" not in logged[-1]
    with pytest.raises(UnknownModelError) as info:
        cx.complete("no-such-model", "hi", max_tokens=1)
    assert isinstance(info.value.query_id, str) and info.value.query_id
