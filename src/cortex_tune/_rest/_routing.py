"""Which transport serves a completion, and the :class:`Plan` that shows it without running it.

``transport="auto"`` (the default) keeps SQL for single prompts, batches, tables and evaluation
(the data is in the warehouse) and sends streaming, tool calling and conversations to Cortex's
Chat Completions REST API when the client has a REST credential. The embedded emulator
serves streaming and tools in-process. Without REST, a stream over SQL yields the whole
answer as one delta.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.statement import Statement
from cortex_tune._rest._request import Request
from cortex_tune._rest._settings import RestCredentialsError, RestSettings

Transport: TypeAlias = Literal["auto", "sql", "rest"]
Route: TypeAlias = Literal["sql", "rest", "local"]
TRANSPORTS = ("auto", "sql", "rest")


@dataclass(frozen=True)
class Plan:
    """What a completion call would do, built without I/O (see ``Cortex.plan_complete``).

    Attributes:
        transport: ``"sql"`` (a statement), ``"rest"`` (Cortex's Chat Completions API) or
            ``"local"`` (the emulator's Chat Completions endpoint, in-process).
        reason: Why that transport, in words.
        statement: The SQL statement, for ``"sql"``.
        request: The Chat Completions request, for ``"rest"`` and ``"local"``.
    """

    transport: Route
    reason: str
    statement: Statement | None = None
    request: Request | None = None

    def __str__(self) -> str:
        lines = [f"transport: {self.transport} ({self.reason})"]
        if self.statement is not None:
            lines.append(f"sql: {self.statement.sql}")
            lines.append(f"params: {len(self.statement.params)} bound")
        if self.request is not None:
            lines.append(f"POST {self.request.url}")
            lines.extend(f"{k}: {v}" for k, v in self.request.headers.items())
            lines.append(self.request.to_json())
        return "\n".join(lines)


def check_transport(value: object) -> None:
    """Refuse anything but ``"auto"``, ``"sql"`` or ``"rest"``."""
    if value not in TRANSPORTS:
        raise ConfigurationError(f"transport must be 'auto', 'sql' or 'rest', not {value!r}")


def choose(
    mode: Transport,
    *,
    stream: bool,
    tools: bool,
    conversation: bool,
    guardrails: bool,
    rest: RestSettings | None,
    local: bool,
) -> tuple[Route, str]:
    """The transport for one call, and why."""
    check_transport(mode)
    ready = rest is not None and rest.ready
    if mode == "sql":
        if tools:
            raise ConfigurationError(
                "tool calling needs the Chat Completions API", hint="Use transport='rest'."
            )
        return "sql", "transport='sql'"
    if mode == "rest":
        if ready:
            return "rest", "transport='rest'"
        if local:
            return "local", "transport='rest' on the embedded emulator"
        _missing(rest, "transport='rest'")
    wants = "streaming" if stream else "tool calling" if tools else None
    if guardrails and wants is None:
        return "sql", "guardrails are a SQL COMPLETE option"
    if wants is not None or conversation:
        why = wants or "a conversation"
        if ready:
            return "rest", f"{why} goes through the Chat Completions API"
        if wants is not None and local:
            return "local", f"{why} on the embedded emulator"
        if tools:
            _missing(rest, "tool calling")
        if stream:
            return "sql", "no REST credential: the whole answer arrives as one delta"
        return "sql", "no REST credential: conversations use legacy COMPLETE"
    return "sql", "a single prompt runs in the warehouse (AI_COMPLETE)"


def _missing(rest: RestSettings | None, what: str) -> None:
    if rest is not None:
        rest.require()
    raise RestCredentialsError(
        f"{what} needs Cortex's REST API, and this client has no REST settings",
        missing=("no REST settings (build the client with Cortex.connect or Cortex.rest)",),
    )
