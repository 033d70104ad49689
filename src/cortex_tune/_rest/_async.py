"""The async twin of the client's Chat Completions methods (mixed into Cortex)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_any

from cortex_tune._core.errors import CortexError, is_transient
from cortex_tune._core.retry import _OutOfBudget, retry_after
from cortex_tune._rest._errors import translate_rest
from cortex_tune._rest._routing import Transport
from cortex_tune._rest._stream import Assembler, AsyncCompletionStream, Event
from cortex_tune._rest._tools import tools_of

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex
    from cortex_tune._core.models import Completion

T = TypeVar("T")


def _client(mixin: AsyncMethods) -> Cortex:
    return cast("Cortex", mixin)


class AsyncMethods:
    """``acomplete``: await a completion, or read a stream with ``async for``."""

    async def acomplete(
        self,
        model: str,
        prompt: Any,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        transport: Transport | None = None,
    ) -> Any:
        """The async twin of ``complete``: ``await`` a :class:`Completion`, or with
        ``stream=True`` an :class:`AsyncCompletionStream` to read with ``async for``.

        REST and the emulator are awaited natively; a call that routes to SQL runs the
        blocking connector in a worker thread.

        Example:
            >>> stream = await cx.acomplete("llama3.1-70b", "Hi", stream=True)  # doctest: +SKIP
            >>> async for delta in stream:  # doctest: +SKIP
            ...     print(delta, end="")
        """
        from cortex_tune.sql import complete_options

        options = complete_options(temperature=temperature, top_p=top_p, max_tokens=max_tokens)
        cx = _client(self)
        route, _ = cx._route(
            prompt, stream=stream, tools=bool(tools), guardrails=False, transport=transport
        )
        if route == "sql":
            kwargs = {**sql_kwargs(options, response_format), "transport": "sql"}
            whole = await asyncio.to_thread(lambda: cx.complete(model, prompt, **kwargs))
            return _async_whole(model, whole) if stream else whole
        request = cx._request(
            route, model, prompt, options, response_format, tools, tool_choice, stream
        )
        known = tools_of(tools or [])
        chat = cx._chat(route)
        if not stream:

            async def create() -> Completion[Any]:
                cx._trace(request)
                try:
                    event = await chat.acreate(request, None)
                    assembler = cx._assembler(request, response_format, known)
                    assembler.add(event)
                    completion: Completion[Any] = assembler.completion()
                    return completion
                except Exception as exc:
                    raise cx._error(exc, request) from exc

            return await self._aretrying(create)

        async def open_stream() -> Any:
            cx._trace(request)
            try:
                return await chat.aopen(request, None)
            except Exception as exc:
                raise cx._error(exc, request) from exc

        events, close = await self._aretrying(open_stream)
        return AsyncCompletionStream(
            events,
            cx._assembler(request, response_format, known),
            close=close,
            transport=route,
            translate=lambda exc: cx._error(exc, request),
        )

    async def _aretrying(self, fn: Callable[[], Awaitable[T]]) -> T:
        cx = _client(self)
        policy, clock, start = cx._retry, cx._now, cx._now()

        def wait(state: Any) -> float:
            remaining = max(0.0, policy.budget - (clock() - start))
            return min(max(policy.delay(state.attempt_number), retry_after(state)), remaining)

        retrying = AsyncRetrying(
            stop=stop_any(
                stop_after_attempt(max(1, policy.attempts)),
                _OutOfBudget(clock, start, policy.budget),
            ),
            wait=wait,
            retry=retry_if_exception(lambda e: isinstance(e, CortexError) and is_transient(e)),
            reraise=True,
        )
        result: T = await retrying(fn)
        return result


def _async_whole(model: str, whole: Completion[Any]) -> AsyncCompletionStream[Any]:
    async def events() -> Any:
        yield Event(text=whole.text)

    return AsyncCompletionStream(
        events(),
        Assembler(model, final=whole),
        close=lambda: None,
        transport="sql",
        translate=translate_rest,
    )


def sql_kwargs(options: Any, response_format: Any) -> dict[str, Any]:
    """``complete`` keyword arguments for the SQL path, from an options object."""
    kwargs = {
        k: options[k] for k in ("temperature", "top_p", "max_tokens", "guardrails") if k in options
    }
    kwargs["response_format"] = response_format
    return kwargs
