"""The Backend protocol: one method that runs one statement; and, for backends that can, statements
submitted asynchronously (:class:`AsyncBackend`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cortex_tune.sql import Statement


@dataclass(frozen=True)
class Result:
    """What a backend returns for one statement.

    Attributes:
        rows: The result rows as tuples.
        query_id: Snowflake's query id, when the engine has one.
        columns: The column names, when known.
    """

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    query_id: str | None = None
    columns: list[str] = field(default_factory=list)

    def scalar(self) -> Any:
        """The first column of the first row (None for no rows)."""
        return self.rows[0][0] if self.rows and self.rows[0] else None


@runtime_checkable
class Backend(Protocol):
    """Runs statements. Implementations: SnowflakeBackend, LocalBackend, FakeBackend."""

    def execute(self, statement: Statement) -> Result:
        """Run ``statement`` and return its rows; raise the engine's own errors."""
        ...

    def close(self) -> None:
        """Release what the backend opened (never a connection the caller owns)."""
        ...


#: Statuses of a statement that has not ended, as the connector names them (QueryStatus):
#: the connector's own ``is_still_running`` list, with RESTARTED (in neither of its lists),
#: ABORTING (being cancelled: it has not ended, and must not be taken as over yet) and the
#: documentation's spelling QUEUED_REPAIRING_WAREHOUSE beside the connector's (contract C-ASYNC-02).
RUNNING_STATUSES = frozenset(
    {
        "RUNNING",
        "QUEUED",
        "RESUMING_WAREHOUSE",
        "QUEUED_REPARING_WAREHOUSE",
        "QUEUED_REPAIRING_WAREHOUSE",
        "BLOCKED",
        "RESTARTED",
        "ABORTING",
    }
)
#: Statuses of a statement that ended in failure (the connector's ``is_an_error`` list, but
#: ABORTING); DISCONNECTED "will change to FAILED_WITH_ERROR soon".
FAILED_STATUSES = frozenset(
    {"FAILED_WITH_ERROR", "ABORTED", "FAILED_WITH_INCIDENT", "DISCONNECTED"}
)


@dataclass(frozen=True)
class StatementStatus:
    """What Snowflake says of a statement submitted asynchronously (``get_query_status``).

    Attributes:
        name: The connector's QueryStatus name, e.g. ``RUNNING``, ``SUCCESS``, ``NO_DATA``.
    """

    name: str

    @property
    def succeeded(self) -> bool:
        """The statement ended well."""
        return self.name == "SUCCESS"

    @property
    def failed(self) -> bool:
        """The statement ended in failure (or was cancelled)."""
        return self.name in FAILED_STATUSES

    @property
    def running(self) -> bool:
        """The statement has not ended (queued, running, being cancelled, ...)."""
        return self.name in RUNNING_STATUSES

    @property
    def unknown(self) -> bool:
        """Snowflake knows nothing of it (yet): NO_DATA, or a status this version does not know."""
        return not (self.succeeded or self.failed or self.running)


@runtime_checkable
class AsyncBackend(Protocol):
    """A backend that can also submit a statement and return at once (``execute_async``)."""

    def submit(self, statement: Statement) -> str:
        """Submit ``statement`` to run on its own; return its query id at once."""
        ...

    def status(self, query_id: str) -> StatementStatus:
        """The status of a statement submitted earlier, by this client or any other."""
        ...
