"""Backends on a real Snowflake: a connector connection, or a Snowpark session."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from cortex_tune._backends.base import Result, StatementStatus
from cortex_tune._core.constants import ATTEMPT_TIMEOUT, LOGIN_TIMEOUT, QUERY_TAG
from cortex_tune._core.errors import NO_CONNECTION_HINT, ConnectionFailedError, NetworkError
from cortex_tune._core.retry import remaining_budget
from cortex_tune.sql import Statement

log = logging.getLogger("cortex_tune")

#: Connection parameters whose values are secrets: never logged, never in a repr or an error.
SECRET_KEYS = frozenset(
    {
        "password",
        "passcode",
        "token",
        "private_key",
        "private_key_file_pwd",
        "private_key_pwd",
        "private_key_password",
        "proxy_password",
        "oauth_client_secret",
        "oauth_refresh_token",
        "session_token",
        "master_token",
    }
)


#: Short requests, bounded by the retry budget; everything else may run as long as it needs.
BOUNDED = frozenset(
    {
        "finetune.show",
        "finetune.describe",
        "finetune.cancel",
        "complete",
        "ai_complete",
        "count_tokens",
        "ai_count_tokens",
        "doctor",
        "history.lookup",
        "history.result",
    }
)
#: Statements the connector must not re-send on its own. Other writes may be resubmitted by
#: the connector under their own request id: Snowflake answers such a resubmit from the first
#: run instead of running it again ("Snowflake does not execute the statement again if the
#: statement has already been executed successfully", SQL API: Resubmitting a request), and
#: when the connector gives up, cortex-tune recovers them by their marker in the query history.
#: CREATE keeps its own recovery (its marker inside the training query, through SHOW and
#: DESCRIBE), written before that guarantee was relied on.
NOT_RESENT = frozenset({"finetune.create"})


def secrets_of(params: Mapping[str, Any]) -> list[str]:
    """The secret values among connection parameters (strings and bytes as text)."""
    found = []
    for key, value in params.items():
        if key.lower() in SECRET_KEYS and value:
            found.append(
                value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            )
    return found


def connect_params(connection_name: str | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Connector parameters for :meth:`Cortex.connect`, with cortex-tune's defaults.

    Follows the connector's conventions: a named connection from connections.toml, else the
    ``SNOWFLAKE_DEFAULT_CONNECTION_NAME`` / configured default when no account or host is
    given. Adds server-side binding, a QUERY_TAG, and per-attempt and total timeouts.

    Raises:
        ConnectionFailedError: The connection named (or the default one) is not configured;
            the message names the file the connector read.
    """
    import snowflake.connector

    params = dict(kwargs)
    if connection_name is None and not {"account", "host"} & set(params):
        connection_name = os.environ.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME") or _default_name()
    if connection_name is not None:
        if "connections_file_path" not in params:  # else the connector reads another file
            _require_configured(connection_name)
        params["connection_name"] = connection_name
    params.setdefault("paramstyle", "qmark")
    session = dict(params.get("session_parameters") or {})
    session.setdefault("QUERY_TAG", QUERY_TAG)
    params["session_parameters"] = session
    params.setdefault("login_timeout", int(LOGIN_TIMEOUT))
    major = int(str(snowflake.connector.__version__).split(".")[0])
    if major >= 5:
        # 5.x: retry_timeout bounds one HTTP attempt. Its total, query_timeout, stays unset:
        # it counts a statement's whole run, so it would end warehouse-sized work.
        params.setdefault("retry_timeout", int(ATTEMPT_TIMEOUT))
        # Left unset, 5.x warns on every connect; True is what it does by default.
        params.setdefault("enable_server_session_keep_alive_auto_detection", True)
    else:
        # No network_timeout: in 4.x it also cancels any statement running longer, which
        # would kill warehouse-sized work (complete_table, evaluate). Short requests are
        # bounded per statement by cortex-tune's retry budget instead (see _attempt_timeout).
        params.setdefault("socket_timeout", int(ATTEMPT_TIMEOUT))
    return params


def _default_name() -> str:
    try:
        from snowflake.connector.config_manager import CONFIG_MANAGER

        return str(CONFIG_MANAGER["default_connection_name"])
    except Exception:  # an unreadable config file is reported by connect() itself
        return "default"


def to_paramstyle(sql: str, style: str | None) -> str:
    """``sql`` with its ``?`` placeholders rewritten for a connection of paramstyle ``style``.

    qmark (or None, which Snowpark treats as qmark) is left as is; numeric gets ``:1``,
    ``:2`` ...; pyformat, format and anything else get ``%s`` with every literal ``%``
    doubled, since the connector then interpolates the values on the client with its own
    escaping. Only for a statement that has values to bind: with none, the connector sends
    the text unchanged.
    """
    style = (style or "qmark").lower()
    if style == "qmark":
        return sql
    if style == "numeric":
        parts = sql.split("?")
        return parts[0] + "".join(f":{i}{p}" for i, p in enumerate(parts[1:], 1))
    return sql.replace("%", "%%").replace("?", "%s")


def _require_configured(name: str) -> None:
    """Refuse, before connecting, a connection name that connections.toml does not define.

    The connector would say ``Invalid connection_name 'default', known ones are []``, which
    tells a newcomer neither what is missing nor where it was looked for.
    """
    try:
        from snowflake.connector.config_manager import CONFIG_MANAGER
        from snowflake.connector.constants import CONFIG_FILE, CONNECTIONS_FILE

        connections: Any = CONFIG_MANAGER["connections"]
        known = sorted(str(n) for n in connections)
    except Exception:  # an unreadable file is reported by connect() itself, in its words
        return
    if name in known:
        return
    where = str(CONNECTIONS_FILE)
    if not CONNECTIONS_FILE.exists():
        where += " (which does not exist)"
    if CONFIG_FILE.exists():
        where += f" or the [connections] of {CONFIG_FILE}"
    if os.environ.get("SNOWFLAKE_CONNECTIONS") is not None:  # the connector reads it instead
        where = "$SNOWFLAKE_CONNECTIONS"
    if known:
        message = f"no Snowflake connection named {name!r} in {where}; known: {', '.join(known)}"
    else:
        message = f"no Snowflake connection is configured: {name!r} was looked for in {where}"
    raise ConnectionFailedError(message, hint=NO_CONNECTION_HINT, op="connect")


class SnowflakeBackend:
    """Runs statements on a snowflake-connector-python connection.

    Values are always bound server-side: on a qmark/numeric connection directly, on a caller's
    pyformat connection with the connector's forced-qmark switch (or, on a connector without
    it, by adapting placeholders to the connection's paramstyle).

    Args:
        connection: An open connector connection.
        owned: Whether :meth:`close` closes it (True only when cortex-tune opened it).
    """

    def __init__(self, connection: Any, *, owned: bool = False) -> None:
        self.connection = connection
        self.owned = owned
        # 5.x names it paramstyle (its _paramstyle is deprecated); 4.x has _paramstyle only.
        style = getattr(connection, "paramstyle", None) or getattr(connection, "_paramstyle", None)
        self._style = str(style or "qmark")
        self._execute_params: frozenset[str] | None = None

    def __repr__(self) -> str:
        account = getattr(self.connection, "account", None)
        user = getattr(self.connection, "user", None)
        return f"SnowflakeBackend(account={account!r}, user={user!r}, owned={self.owned})"

    def execute(self, statement: Statement) -> Result:
        """Run one statement and fetch all of its rows."""
        cursor = self.connection.cursor()
        try:
            sql, kwargs = self._kwargs(cursor, statement)
            try:
                cursor.execute(sql, list(statement.params) or None, **kwargs)
            except (KeyError, TypeError) as exc:
                if "_no_retry" not in kwargs:
                    raise
                # Connector 4.x, told not to re-send, swallows a transport failure (a body
                # cut off mid-way) and hands the cursor an empty answer it cannot read.
                raise NetworkError(
                    "the connection failed while Snowflake's answer was being read; "
                    "the statement may have run",
                    op=statement.op,
                ) from exc
            rows = [tuple(r) for r in cursor.fetchall()]
            columns = [d[0] for d in (cursor.description or [])]
            return Result(rows=rows, query_id=cursor.sfqid, columns=columns)
        finally:
            cursor.close()

    def stream(
        self, statement: Statement, batch_size: int
    ) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
        """Run one statement and yield its rows ``batch_size`` at a time (bounded memory)."""
        cursor = self.connection.cursor()
        try:
            sql, kwargs = self._kwargs(cursor, statement)
            cursor.execute(sql, list(statement.params) or None, **kwargs)
            columns = [d[0] for d in (cursor.description or [])]
            while rows := cursor.fetchmany(batch_size):
                yield columns, [tuple(r) for r in rows]
        finally:
            cursor.close()

    def submit(self, statement: Statement) -> str:
        """Submit one statement with ``cursor.execute_async`` and return its query id at once.

        The statement runs on in Snowflake whatever happens to this client (ABORT_DETACHED_QUERY
        is FALSE by default), and the connector keeps the session open on ``close()`` while it
        runs. Its query id is ``cursor.sfqid`` (connector 4.x and 5.x; 5.x also returns it).
        """
        cursor = self.connection.cursor()
        try:
            sql, kwargs = self._kwargs(cursor, statement)
            answer = cursor.execute_async(sql, list(statement.params) or None, **kwargs)
            query_id = cursor.sfqid or (answer or {}).get("queryId")
        finally:
            cursor.close()
        if not query_id:
            raise NetworkError(
                "Snowflake accepted the statement but sent no query id", op=statement.op
            )
        return str(query_id)

    def status(self, query_id: str) -> StatementStatus:
        """The status of a statement by its query id (``connection.get_query_status``), from
        this connection or any other of the same user."""
        try:
            return StatementStatus(self.connection.get_query_status(query_id).name)
        except KeyError as exc:
            # The connector looks the server's status up in its QueryStatus enum and raises
            # KeyError for a name it lacks (a status added since, or one spelled otherwise:
            # Snowflake documents QUEUED_REPAIRING_WAREHOUSE, the enum has ...REPARING...).
            # An unnamed status is an unknown one, never a crash of the wait.
            name = str(exc.args[0]) if exc.args else "UNKNOWN"
            log.debug("status of %s: %r is not a status the connector names", query_id, name)
            return StatementStatus(name)

    def may_resend(self, op: str) -> bool:
        """Whether the connector may send statements of ``op`` again by itself, under the
        same request id, after losing an answer (5.x always may: it has no ``_no_retry``)."""
        if op not in NOT_RESENT:
            return True
        cursor = self.connection.cursor()
        try:
            return not self._accepts(cursor, "_no_retry")
        finally:
            cursor.close()

    def _accepts(self, cursor: Any, name: str) -> bool:
        """Whether this connector's ``cursor.execute`` takes keyword ``name``."""
        if self._execute_params is None:
            signature = inspect.signature(type(cursor).execute)
            self._execute_params = frozenset(signature.parameters)
        return name in self._execute_params

    def _kwargs(self, cursor: Any, statement: Statement) -> tuple[str, dict[str, Any]]:
        # A statement without values (e.g. FINETUNE with literals) goes as written: adapting
        # its placeholders would rewrite `?` and `%` inside its string constants.
        sql, kwargs = (
            self._adapt(statement.sql, cursor) if statement.params else (statement.sql, {})
        )
        # The connector re-sends a query whose answer it lost; for CREATE that can start a
        # second paid job, so cortex-tune turns that off and reconciles by marker instead.
        if statement.op in NOT_RESENT and self._accepts(cursor, "_no_retry"):
            kwargs["_no_retry"] = True
        timeout = self._attempt_timeout(cursor, statement.op)
        if timeout is not None:
            kwargs["timeout"] = timeout
        return sql, kwargs

    def _attempt_timeout(self, cursor: Any, op: str) -> float | None:
        """Seconds the connector may spend on this attempt of a short request, when
        cortex-tune's remaining retry budget is shorter than the connection's
        ``network_timeout``, or that is unset (a connection opened with the connector's
        defaults retries a 503 without end). Warehouse-sized work is never cut short."""
        if op not in BOUNDED:
            return None
        remaining = remaining_budget()
        if remaining is None or not self._accepts(cursor, "timeout"):
            return None
        limit = getattr(self.connection, "network_timeout", None)
        if isinstance(limit, (int, float)) and 0 < limit <= remaining:
            return None
        return max(1.0, remaining)

    def _adapt(self, sql: str, cursor: Any) -> tuple[str, dict[str, Any]]:
        if self._style == "qmark":
            return sql, {}
        if self._style in ("pyformat", "format") and self._accepts(
            cursor, "_force_qmark_paramstyle"
        ):
            return sql, {"_force_qmark_paramstyle": True}
        return to_paramstyle(sql, self._style), {}

    def close(self) -> None:
        """Close the connection if cortex-tune opened it."""
        if self.owned:
            self.connection.close()


class SnowparkBackend:
    """Runs statements through a Snowpark session (``session.sql(text, params).collect()``).

    Works in Snowflake Notebooks with ``get_active_session()``. The session belongs to the
    caller and is never closed.

    A session Snowpark opened itself binds ``?`` on the server (Snowpark sets paramstyle qmark);
    a session built on the caller's own connector connection
    (``Session.builder.configs({"connection": conn})``) keeps that connection's paramstyle,
    pyformat by default, so placeholders are rewritten to match it.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._style = _session_paramstyle(session)

    def __repr__(self) -> str:
        return f"SnowparkBackend({type(self.session).__name__}, paramstyle={self._style!r})"

    def execute(self, statement: Statement) -> Result:
        """Run one statement with its values bound and collect its rows.

        The query id comes from ``session.query_history()``, Snowpark's documented record of
        the queries a session pushes down (``QueryRecord.query_id``); a Session has no
        "last query id" attribute.
        """
        params = list(statement.params)
        try:
            with self.session.query_history() as history:
                if params:
                    sql = to_paramstyle(statement.sql, self._style)
                    frame = self.session.sql(sql, params=params)
                else:  # nothing to bind: the connector leaves the text alone, so must we
                    frame = self.session.sql(statement.sql)
                rows = [tuple(r) for r in frame.collect()]
        except Exception as exc:
            # SnowparkSQLException keeps the connector's error (errno, SQLSTATE, query id)
            # on .conn_error: translate that one.
            original = getattr(exc, "conn_error", None)
            if isinstance(original, Exception):
                raise original from exc
            raise
        return Result(rows=rows, query_id=_last_query_id(history))

    def close(self) -> None:
        """The session is the caller's: nothing to close."""
        return


def _last_query_id(history: Any) -> str | None:
    """The id of the last query a Snowpark ``QueryHistory`` recorded, or None."""
    records = getattr(history, "queries", None) or []
    query_id = getattr(records[-1], "query_id", None) if records else None
    return query_id if isinstance(query_id, str) else None


def _session_paramstyle(session: Any) -> str:
    """The paramstyle of the connection under a Snowpark session (``Session.connection``).

    None (as in stored procedures) or no readable connection means qmark, as in Snowpark.
    """
    try:
        connection = session.connection
    except Exception:  # a session without a reachable connector connection
        return "qmark"
    style = getattr(connection, "_paramstyle", None)
    return style.lower() if isinstance(style, str) and style else "qmark"
