"""Streams of text deltas that end with a :class:`Completion`, for every transport.

A transport turns what it receives (``openai`` chunks, the emulator's answer) into
:class:`Event` objects; :class:`CompletionStream` yields their text as it comes and assembles
the final completion (text, usage, finish reason, tool calls, structured output).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cortex_tune._core.errors import (
    ConfigurationError,
    CortexError,
    NetworkError,
    ResponseParseError,
)
from cortex_tune._core.models import Completion, ToolCall
from cortex_tune._core.parsing import _with_parsed, parse_usage

T = TypeVar("T")


@dataclass
class ToolDelta:
    """A piece of a tool call: its position, and the id, name or argument text received."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class Event:
    """What one chunk (or a whole answer) carries, whatever the transport."""

    text: str | None = None
    tool_calls: list[ToolDelta] | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    model: str | None = None
    created: int | None = None

    @property
    def substantive(self) -> bool:
        """True once the answer has begun (text, a tool call or an end)."""
        return bool(self.text or self.tool_calls or self.finish_reason)


class Assembler:
    """Collects events into the final :class:`Completion`."""

    def __init__(
        self,
        model: str,
        response_format: Any = None,
        *,
        finish: Callable[[Completion[Any]], Completion[Any]] | None = None,
        final: Completion[Any] | None = None,
    ) -> None:
        self.model, self.response_format = model, response_format
        self.finish, self.final = finish, final
        self.parts: list[str] = []
        self.tools: dict[int, ToolDelta] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.served_by: str | None = None
        self.created: int | None = None

    def add(self, event: Event) -> str | None:
        """Take one event; return its text delta (None when it has none)."""
        if event.model and self.served_by is None:
            self.served_by, self.created = event.model, event.created
        if event.finish_reason:
            self.finish_reason = event.finish_reason
        if event.usage is not None:
            self.usage = event.usage  # cumulative: the last one holds the totals
        if event.tool_calls:
            for delta in event.tool_calls:
                known = self.tools.setdefault(delta.index, ToolDelta(delta.index))
                known.id = known.id or delta.id
                known.name = known.name or delta.name
                known.arguments += delta.arguments
        if event.text:
            self.parts.append(event.text)
        return event.text

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self.parts)

    def check_ended(self) -> None:
        """Refuse a stream whose body ended before the answer did (no finish reason, no usage):
        a connection closed early must not pass for a complete answer."""
        if self.final is None and self.finish_reason is None and self.usage is None:
            raise NetworkError(
                "the stream ended before Cortex finished the answer (no finish reason)",
                op="rest.chat",
            )

    def completion(self) -> Completion[Any]:
        """The completion the events add up to (validated into ``.parsed`` if asked)."""
        if self.final is not None:  # a stream over an answer that arrived whole (SQL)
            return self.final
        completion = self._assemble()
        return completion if self.finish is None else self.finish(completion)

    def _assemble(self) -> Completion[Any]:
        completion: Completion[Any] = Completion(
            text=self.text,
            model=self.served_by or self.model,
            created=self.created,
            usage=parse_usage(self.usage),
            finish_reason=self.finish_reason,
            tool_calls=[_tool_call(d) for _, d in sorted(self.tools.items())],
        )
        if self.response_format is None or completion.tool_calls:
            return completion
        return _with_parsed(completion, self.response_format)


def _tool_call(delta: ToolDelta) -> ToolCall:
    text = delta.arguments or "{}"
    try:
        arguments = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResponseParseError(
            f"tool call {delta.name!r}: the arguments are not JSON ({exc.msg})", raw=text
        ) from exc
    if not isinstance(arguments, dict):
        raise ResponseParseError(f"tool call {delta.name!r}: arguments must be an object", raw=text)
    return ToolCall(
        id=delta.id or f"call_{delta.index}",
        name=delta.name or "",
        arguments=arguments,
        arguments_json=text,
    )


class _Base(Generic[T]):
    def __init__(
        self,
        assembler: Assembler,
        *,
        transport: str,
        translate: Callable[[BaseException], CortexError],
    ) -> None:
        self._assembler = assembler
        self._translate = translate
        self._completion: Completion[Any] | None = None
        self.transport = transport
        """Which transport serves the stream: ``"rest"``, ``"local"`` or ``"sql"``."""

    @property
    def text(self) -> str:
        """The text received so far."""
        return self._assembler.text

    @property
    def done(self) -> bool:
        """Whether the stream has ended (and :attr:`completion` is available)."""
        return self._completion is not None

    @property
    def completion(self) -> Completion[T]:
        """The full completion: text, usage, finish reason, tool calls, ``.parsed``.

        Available once the stream has been read to the end (see ``until_done``).
        """
        if self._completion is None:
            raise ConfigurationError(
                "the stream has not ended yet",
                hint="Iterate it to the end, or call until_done() to read the rest.",
            )
        return self._completion

    def _fail(self, exc: BaseException) -> CortexError:
        return exc if isinstance(exc, CortexError) else self._translate(exc)

    def _repr_html_(self) -> str:
        import html

        state = "done" if self.done else "streaming..."
        return (
            f"<div><pre style='white-space:pre-wrap'>{html.escape(self.text)}</pre>"
            f"<small>{state} ({self.transport})</small></div>"
        )


class CompletionStream(_Base[T]):
    """Text deltas as the model generates them, then the full :class:`Completion`.

    Iterate it for ``str`` deltas; afterwards ``.completion`` holds the whole answer with its
    usage and finish reason. Use it as a context manager to close the HTTP stream when you
    stop early. An error in mid-stream is raised as a typed :class:`CortexError` after the
    deltas already yielded (``.text`` keeps them); it is never retried.

    Example:
        >>> with cx.complete("llama3.1-70b", "Tell me a story", stream=True) as stream:  # doctest: +SKIP
        ...     for delta in stream:
        ...         print(delta, end="", flush=True)
        >>> stream.completion.usage  # doctest: +SKIP
    """

    def __init__(
        self,
        events: Iterator[Event],
        assembler: Assembler,
        *,
        close: Callable[[], None] = lambda: None,
        transport: str,
        translate: Callable[[BaseException], CortexError],
    ) -> None:
        super().__init__(assembler, transport=transport, translate=translate)
        self._events = events
        self._close = close
        self._closed = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._completion is not None or self._closed:
            raise StopIteration
        add = self._assembler.add
        try:
            for event in self._events:
                text = add(event)
                if text:
                    return text
            self._assembler.check_ended()
            self._completion = self._assembler.completion()
        except Exception as exc:
            self.close()
            raise self._fail(exc) from (None if isinstance(exc, CortexError) else exc)
        self.close()
        raise StopIteration

    def until_done(self) -> Completion[T]:
        """Read the rest of the stream and return the full completion."""
        for _ in self:
            pass
        return self.completion

    def close(self) -> None:
        """Close the underlying HTTP stream (idempotent)."""
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> CompletionStream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CompletionStream(transport={self.transport!r}, done={self.done})"


class AsyncCompletionStream(_Base[T]):
    """The async twin of :class:`CompletionStream`: ``async for delta in stream``.

    Example:
        >>> stream = await cx.acomplete("llama3.1-70b", "Hi", stream=True)  # doctest: +SKIP
        >>> async with stream:  # doctest: +SKIP
        ...     async for delta in stream:
        ...         await websocket.send_text(delta)
    """

    def __init__(
        self,
        events: AsyncIterator[Event],
        assembler: Assembler,
        *,
        close: Callable[[], Any],
        transport: str,
        translate: Callable[[BaseException], CortexError],
    ) -> None:
        super().__init__(assembler, transport=transport, translate=translate)
        self._events = events
        self._close = close
        self._closed = False

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        if self._completion is not None or self._closed:
            raise StopAsyncIteration
        add = self._assembler.add
        try:
            async for event in self._events:
                text = add(event)
                if text:
                    return text
            self._assembler.check_ended()
            self._completion = self._assembler.completion()
        except Exception as exc:
            await self.aclose()
            raise self._fail(exc) from (None if isinstance(exc, CortexError) else exc)
        await self.aclose()
        raise StopAsyncIteration

    async def until_done(self) -> Completion[T]:
        """Read the rest of the stream and return the full completion."""
        async for _ in self:
            pass
        return self.completion

    async def aclose(self) -> None:
        """Close the underlying HTTP stream (idempotent)."""
        if not self._closed:
            self._closed = True
            result = self._close()
            if hasattr(result, "__await__"):
                await result

    async def __aenter__(self) -> AsyncCompletionStream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncCompletionStream(transport={self.transport!r}, done={self.done})"
