"""``cortex-tune sql``: one statement, run once, its rows keyed by column for ``--json``."""

from __future__ import annotations

from io import StringIO
from typing import Any

from cortex_tune._backends.base import Result
from cortex_tune._cli.core import usage_error
from cortex_tune.sql import Statement


def statements(text: str) -> list[str]:
    """The statements in ``text``, split as the Snowflake connector splits them.

    Semicolons inside strings, ``$$`` blocks and comments do not split; empty statements and
    comments alone do not count.
    """
    from snowflake.connector.util_text import split_statements

    parts = split_statements(StringIO(text), remove_comments=True)
    return [sql for sql, kind in parts if kind is not None and sql.strip(" ;\n\t")]


def require_one(text: str) -> None:
    """A usage error unless ``text`` is exactly one statement.

    Snowflake runs one statement per call unless told how many to expect, so several are
    refused here, before any I/O, rather than half-run.
    """
    found = statements(text)
    if len(found) != 1:
        what = "no SQL statement" if not found else f"{len(found)} SQL statements"
        usage_error(
            f"sql runs one statement, and got {what}: run them one at a time",
            where="cortex-tune sql",
        )


def execute_once(cx: Any, text: str) -> Result:
    """Run ``text`` through the client's funnel (error translation, secrets redacted) with
    no retry, so a write is never sent twice; the Result keeps the column names."""
    result: Result = cx._execute(Statement(text, (), "sql"), retry=False)
    return result


def records(columns: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Rows as objects keyed by column name; a repeated name gets ``_2``, ``_3``...

    Example:
        >>> records(["A", "A"], [(1, 2)])
        [{'A': 1, 'A_2': 2}]
    """
    keys: list[str] = []
    for name in columns or [f"COLUMN{i + 1}" for i in range(len(rows[0]) if rows else 0)]:
        key, n = name, 1
        while key in keys:
            n += 1
            key = f"{name}_{n}"
        keys.append(key)
    return [dict(zip(keys, row, strict=False)) for row in rows]
