"""Chat Completions transports: Cortex's REST API through ``openai``, or the emulator in-process.

Both take a :class:`Request` and give back :class:`Event` objects, so the stream, the
completion and the errors look the same whichever one served the call. HTTP, server-sent
events and connection handling are the ``openai`` package's; its own retries are off, because
the client's retry policy (one budget for every transport, Retry-After honoured, nothing
retried after the first streamed token) decides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from cortex_tune._core.constants import ATTEMPT_TIMEOUT, QUERY_TAG
from cortex_tune._core.errors import ConfigurationError
from cortex_tune._rest._request import Request
from cortex_tune._rest._settings import RestSettings
from cortex_tune._rest._stream import Event, ToolDelta

if TYPE_CHECKING:
    from cortex_tune._emulator.core import Emulator

_INSTALL_HINT = 'pip install "cortex-tune[rest]"'

Opened = tuple[Iterator[Event], Callable[[], None]]
AsyncOpened = tuple[AsyncIterator[Event], Callable[[], Any]]


class OpenAITransport:
    """Cortex's Chat Completions endpoint through the official ``openai`` client."""

    name = "rest"

    def __init__(self, settings: RestSettings) -> None:
        settings.require()
        try:
            import openai
        except ImportError as exc:
            raise ConfigurationError(
                "Cortex's REST API needs the openai package", hint=_INSTALL_HINT
            ) from exc
        self._openai = openai
        self.settings = settings
        self._sync: Any = None
        self._async: Any = None

    def __repr__(self) -> str:
        return f"OpenAITransport({self.settings.base_url!r})"

    def _options(self) -> dict[str, Any]:
        return {
            "base_url": self.settings.base_url,
            "max_retries": 0,
            "timeout": ATTEMPT_TIMEOUT,
            "default_headers": {
                "X-Snowflake-Authorization-Token-Type": str(self.settings.token_type),
                "User-Agent": QUERY_TAG,
            },
        }

    def client(self) -> Any:
        """The ``openai.OpenAI`` client (the token is asked for on every request)."""
        if self._sync is None:
            self._sync = self._openai.OpenAI(api_key=self.settings.token, **self._options())
        return self._sync

    def async_client(self) -> Any:
        """The ``openai.AsyncOpenAI`` client."""
        if self._async is None:
            token = self.settings.token
            assert token is not None  # settings.require() passed

            async def key() -> str:
                return token()

            self._async = self._openai.AsyncOpenAI(api_key=key, **self._options())
        return self._async

    def create(self, request: Request, timeout: float | None) -> Event:
        """Send a non-streaming request; the whole answer as one event."""
        answer = self.client().chat.completions.create(**request.body, timeout=timeout)
        return completion_event(answer)

    def open(self, request: Request, timeout: float | None) -> Opened:
        """Send a streaming request; raises on an HTTP error status, before any chunk."""
        stream = self.client().chat.completions.create(**request.body, timeout=timeout)
        return (chunk_event(chunk) for chunk in stream), stream.close

    async def acreate(self, request: Request, timeout: float | None) -> Event:
        """:meth:`create`, awaited."""
        client = self.async_client()
        answer = await client.chat.completions.create(**request.body, timeout=timeout)
        return completion_event(answer)

    async def aopen(self, request: Request, timeout: float | None) -> AsyncOpened:
        """:meth:`open`, awaited."""
        client = self.async_client()
        stream = await client.chat.completions.create(**request.body, timeout=timeout)

        async def events() -> AsyncIterator[Event]:
            async for chunk in stream:
                yield chunk_event(chunk)

        return events(), stream.close

    def close(self) -> None:
        """Release the HTTP connections of the sync client (the async one closes on collection)."""
        if self._sync is not None:
            self._sync.close()


def chunk_event(chunk: Any) -> Event:
    """One ``ChatCompletionChunk`` as an :class:`Event`."""
    usage = chunk.usage
    event = Event(
        model=chunk.model,
        created=chunk.created,
        usage=None if usage is None else usage.model_dump(exclude_none=True),
    )
    if chunk.choices:
        choice = chunk.choices[0]
        delta = choice.delta
        event.text = delta.content
        event.finish_reason = choice.finish_reason
        if delta.tool_calls:
            event.tool_calls = [_tool_delta(call) for call in delta.tool_calls]
    return event


def completion_event(answer: Any) -> Event:
    """A whole ``ChatCompletion`` as one :class:`Event`."""
    usage = answer.usage
    event = Event(
        model=answer.model,
        created=answer.created,
        usage=None if usage is None else usage.model_dump(exclude_none=True),
    )
    if answer.choices:
        choice = answer.choices[0]
        event.text = choice.message.content
        event.finish_reason = choice.finish_reason
        calls = choice.message.tool_calls or []
        event.tool_calls = [_tool_delta(call, index) for index, call in enumerate(calls)] or None
    return event


def _tool_delta(call: Any, index: int | None = None) -> ToolDelta:
    function = getattr(call, "function", None)
    position = getattr(call, "index", 0) if index is None else index
    return ToolDelta(
        index=int(position or 0),
        id=call.id,
        name=getattr(function, "name", None),
        arguments=getattr(function, "arguments", None) or "",
    )


class LocalTransport:
    """The emulator's Chat Completions endpoint, in-process (``Cortex.local()``, FakeBackend)."""

    name = "local"

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def __repr__(self) -> str:
        return "LocalTransport()"

    def create(self, request: Request, timeout: float | None) -> Event:
        """Answer a non-streaming request."""
        from cortex_tune._emulator.stream import chat

        return dict_event(chat(self.emulator, request.body), whole=True)

    def open(self, request: Request, timeout: float | None) -> Opened:
        """Answer a streaming request (generated up front, then cut into chunks)."""
        from cortex_tune._emulator.stream import chat_stream

        chunks = chat_stream(self.emulator, request.body)
        return (dict_event(chunk) for chunk in chunks), lambda: None

    async def acreate(self, request: Request, timeout: float | None) -> Event:
        """:meth:`create`, awaited."""
        return self.create(request, timeout)

    async def aopen(self, request: Request, timeout: float | None) -> AsyncOpened:
        """:meth:`open`, awaited."""
        events, close = self.open(request, timeout)

        async def agen() -> AsyncIterator[Event]:
            for event in events:
                yield event

        return agen(), close

    def close(self) -> None:
        """Nothing to release."""


def dict_event(data: dict[str, Any], *, whole: bool = False) -> Event:
    """An OpenAI-shaped chunk (or, with ``whole``, a completion) dict as an :class:`Event`."""
    event = Event(model=data.get("model"), created=data.get("created"), usage=data.get("usage"))
    choices = data.get("choices") or []
    if choices:
        choice = choices[0]
        part = choice.get("message" if whole else "delta") or {}
        event.text = part.get("content")
        event.finish_reason = choice.get("finish_reason")
        calls = part.get("tool_calls") or []
        event.tool_calls = [
            ToolDelta(
                index=call.get("index", i),
                id=call.get("id"),
                name=(call.get("function") or {}).get("name"),
                arguments=(call.get("function") or {}).get("arguments") or "",
            )
            for i, call in enumerate(calls)
        ] or None
    return event
