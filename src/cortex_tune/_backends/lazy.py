"""A Snowflake backend that opens its connection on the first statement (for ``Cortex.rest``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from cortex_tune._backends.base import Result
from cortex_tune._backends.snowflake import SnowflakeBackend
from cortex_tune.sql import Statement


class LazySnowflakeBackend:
    """Opens a connector connection with ``params`` when a statement first needs one.

    A client that only streams through Cortex's REST API never opens a SQL session (and
    needs no warehouse); one that also runs a batch or a fine-tuning job opens it then.
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        self._params = dict(params)
        self._backend: SnowflakeBackend | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LazySnowflakeBackend(opened={self._backend is not None})"

    def _get(self) -> SnowflakeBackend:
        with self._lock:
            if self._backend is None:
                import snowflake.connector

                connection = snowflake.connector.connect(**self._params)
                self._backend = SnowflakeBackend(connection, owned=True)
            return self._backend

    def execute(self, statement: Statement) -> Result:
        """Run one statement, opening the connection first if needed."""
        return self._get().execute(statement)

    def stream(
        self, statement: Statement, batch_size: int
    ) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
        """Run one statement and yield its rows in batches."""
        return self._get().stream(statement, batch_size)

    def close(self) -> None:
        """Close the connection if it was opened."""
        if self._backend is not None:
            self._backend.close()
