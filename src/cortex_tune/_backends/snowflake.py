"""Backends on a real Snowflake: a connector connection, or a Snowpark session."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator, Mapping
from typing import Any

from cortex_tune._backends.base import Result
from cortex_tune._constants import ATTEMPT_TIMEOUT, LOGIN_TIMEOUT, QUERY_TAG
from cortex_tune._errors import NetworkError
from cortex_tune._retry import remaining_budget
from cortex_tune.sql import Statement

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
    }
)
#: Statements the connector must not re-send on its own (they are not idempotent).
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
    """
    import snowflake.connector

    params = dict(kwargs)
    if connection_name is None and not {"account", "host"} & set(params):
        connection_name = os.environ.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME") or _default_name()
    if connection_name is not None:
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
        if self._style == "numeric":
            parts = sql.split("?")
            return parts[0] + "".join(f":{i}{p}" for i, p in enumerate(parts[1:], 1)), {}
        return sql.replace("%", "%%").replace("?", "%s"), {}

    def close(self) -> None:
        """Close the connection if cortex-tune opened it."""
        if self.owned:
            self.connection.close()


class SnowparkBackend:
    """Runs statements through a Snowpark session (``session.sql(text, params).collect()``).

    Works in Snowflake Notebooks with ``get_active_session()``. The session belongs to the
    caller and is never closed.
    """

    def __init__(self, session: Any) -> None:
        self.session = session

    def __repr__(self) -> str:
        return f"SnowparkBackend({type(self.session).__name__})"

    def execute(self, statement: Statement) -> Result:
        """Run one statement with server-side binding and collect its rows."""
        frame = self.session.sql(statement.sql, params=list(statement.params))
        rows = [tuple(r) for r in frame.collect()]
        query_id = getattr(self.session, "last_query_id", None)
        return Result(rows=rows, query_id=query_id if isinstance(query_id, str) else None)

    def close(self) -> None:
        """The session is the caller's: nothing to close."""
        return
