"""The Statement every builder returns, and the small helpers builders share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from cortex_tune._errors import ConfigurationError

Param: TypeAlias = "str | int | float | bool | None"
Generation: TypeAlias = Literal["ai", "legacy"]


@dataclass(frozen=True)
class Statement:
    """One SQL statement with its bound parameters.

    Attributes:
        sql: The SQL text, with ``?`` placeholders.
        params: The values bound to the placeholders, in order.
        op: What the statement does, e.g. ``"finetune.create"``; backends and logs use it.
    """

    sql: str
    params: tuple[Param, ...] = ()
    op: str = "sql"

    def __repr__(self) -> str:
        # Parameters can be prompts or data; keep them out of reprs and logs.
        return f"Statement(op={self.op!r}, sql={self.sql!r}, params=<{len(self.params)} bound>)"


def require_text(value: object, what: str) -> None:
    """Refuse anything but a non-empty string without NUL characters."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ConfigurationError(f"{what} must be a non-empty string, not {value!r}")


def dump_json(value: Any) -> str:
    """Compact JSON text for a bound parameter."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
