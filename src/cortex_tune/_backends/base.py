"""The Backend protocol: one method that runs one statement."""

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
