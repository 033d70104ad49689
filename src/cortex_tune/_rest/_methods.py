"""The client's Chat Completions methods (mixed into Cortex): routing, streams, async, tools."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from cortex_tune._core.errors import ConfigurationError, ConnectionFailedError, CortexError
from cortex_tune._core.retry import call_with_retries, remaining_budget
from cortex_tune._rest._async import AsyncMethods, sql_kwargs
from cortex_tune._rest._errors import translate_rest
from cortex_tune._rest._request import Request, build_request, to_chat_messages
from cortex_tune._rest._routing import Plan, Route, Transport, check_transport, choose
from cortex_tune._rest._settings import RestSettings
from cortex_tune._rest._stream import Assembler, CompletionStream, Event
from cortex_tune._rest._tools import (
    Tool,
    ToolLoopError,
    ToolResult,
    ToolRun,
    answer_call,
    tools_of,
    with_parsed_calls,
)
from cortex_tune._rest._transport import LocalTransport, OpenAITransport

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex
    from cortex_tune._core.models import Completion

log = logging.getLogger("cortex_tune")
T = TypeVar("T")
#: The most model turns :meth:`run_tools` takes by default.
MAX_TOOL_STEPS = 8


def _client(mixin: RestMethods) -> Cortex:
    return cast("Cortex", mixin)


class RestMethods(AsyncMethods):
    """Streaming, tool calling and conversations through Cortex's Chat Completions API."""

    _transport_mode: Transport
    _rest_settings: RestSettings | None
    _chat_transports: dict[str, Any]

    def _init_rest(
        self, transport: Transport, rest: RestSettings | Mapping[str, Any] | None
    ) -> None:
        check_transport(transport)
        if rest is not None and not isinstance(rest, RestSettings):
            rest = RestSettings.from_params(rest)
        self._transport_mode = transport
        self._rest_settings = rest
        self._chat_transports = {}

    def _close_rest(self) -> None:
        for chat in self._chat_transports.values():
            chat.close()
        self._chat_transports.clear()

    @property
    def rest_settings(self) -> RestSettings | None:
        """The REST endpoint and credential kind (nothing secret), or None."""
        return self._rest_settings

    @classmethod
    def rest(cls, connection_name: str | None = None, **params: Any) -> Cortex:
        """A client for Cortex's REST API, from the same connection settings as ``connect``.

        Needs a REST credential (a programmatic access token, a key pair or an OAuth token);
        raises :class:`RestCredentialsError` saying what is missing. No SQL connection is
        opened until a call needs one (a batch, a table, a fine-tuning job).

        Example:
            >>> cx = Cortex.rest("prod")  # doctest: +SKIP
            >>> for delta in cx.complete("llama3.1-70b", "Hi", stream=True):  # doctest: +SKIP
            ...     print(delta, end="")
        """
        from cortex_tune._backends.lazy import LazySnowflakeBackend
        from cortex_tune._backends.snowflake import connect_params, secrets_of
        from cortex_tune._client.cortex import _pop_client_options

        options = _pop_client_options(params)
        try:
            connector = connect_params(connection_name, params)
        except ConnectionFailedError:
            if connection_name is not None:
                raise
            # No SQL connection configured: REST may still come from the environment alone
            # (CORTEX_TUNE_REST_URL, SNOWFLAKE_PAT); a SQL call then says what is missing.
            connector = dict(params)
        settings = options.pop("rest", None) or RestSettings.from_params(connector)
        settings.require()
        secrets = [*secrets_of(connector), *settings.secrets]
        options.setdefault("transport", "auto")
        client = cls(  # type: ignore[call-arg]
            backend=LazySnowflakeBackend(connector), rest=settings, secrets=secrets, **options
        )
        return cast("Cortex", client)

    # -- routing ---------------------------------------------------------------------------------

    def _route(
        self, prompt: Any, *, stream: bool, tools: bool, guardrails: bool, transport: Any
    ) -> tuple[Route, str]:
        if transport is not None:
            check_transport(transport)
        messages = to_chat_messages(prompt)
        conversation = not (len(messages) == 1 and messages[0]["role"] == "user")
        return choose(
            transport or self._transport_mode,
            stream=stream,
            tools=tools,
            conversation=conversation,
            guardrails=guardrails,
            rest=self._rest_settings,
            local=getattr(_client(self).backend, "emulator", None) is not None,
        )

    def plan_complete(
        self,
        model: str,
        prompt: Any,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        guardrails: bool | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        transport: Transport | None = None,
    ) -> Plan:
        """What ``complete`` would run for these arguments, without running anything.

        Returns a :class:`Plan`: the transport, why, and the SQL :class:`Statement` or the
        Chat Completions :class:`Request` (URL, headers without secrets, JSON body).

        Example:
            >>> print(cx.plan_complete("llama3.1-70b", [Message.system("Be brief"),
            ...       Message.user("Hi")], stream=True))  # doctest: +SKIP
        """
        from cortex_tune.sql import complete_options, complete_sql

        options = complete_options(
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            guardrails=guardrails,
            response_format=response_format,
        )
        route, reason = self._route(
            prompt,
            stream=stream,
            tools=bool(tools),
            guardrails=guardrails is not None,
            transport=transport,
        )
        if route == "sql":
            generation = _client(self)._generation_for(prompt)
            statement = complete_sql(model, prompt, options=options, functions=generation)
            return Plan("sql", reason, statement=statement)
        request = self._request(
            route, model, prompt, options, response_format, tools, tool_choice, stream
        )
        return Plan(route, reason, request=request)

    def _request(
        self,
        route: Route,
        model: str,
        prompt: Any,
        options: Mapping[str, Any],
        response_format: Any,
        tools: Sequence[Any] | None,
        tool_choice: Any,
        stream: bool,
    ) -> Request:
        settings = self._rest_settings if route == "rest" else None
        return build_request(
            settings.base_url if settings else None,
            model,
            prompt,
            options={k: v for k, v in options.items() if k != "response_format"},
            response_format=response_format,
            tools=[t.schema() for t in tools_of(tools or [])],
            tool_choice=tool_choice,
            stream=stream,
            token_type=settings.token_type if settings else None,
        )

    def _routed(
        self,
        model: str,
        prompt: Any,
        *,
        options: Mapping[str, Any],
        response_format: Any,
        stream: bool,
        tools: Sequence[Any] | None,
        tool_choice: Any,
        transport: Transport | None,
    ) -> Any:
        """A completion (or stream) served off the SQL path; None when SQL serves it whole."""
        route, reason = self._route(
            prompt,
            stream=stream,
            tools=bool(tools),
            guardrails="guardrails" in options,
            transport=transport,
        )
        if route == "sql":
            if not stream:
                return None
            whole = _client(self).complete(
                model, prompt, transport="sql", **sql_kwargs(options, response_format)
            )
            events = iter([Event(text=whole.text)])
            return CompletionStream(
                events, Assembler(model, final=whole), transport="sql", translate=translate_rest
            )
        request = self._request(
            route, model, prompt, options, response_format, tools, tool_choice, stream
        )
        known = tools_of(tools or [])
        log.debug("op=%s transport=%s model=%s (%s)", request.op, route, model, reason)
        if stream:
            return self._open_stream(route, request, response_format, known)
        return self._create(route, request, response_format, known)

    # -- execution -------------------------------------------------------------------------------

    def _chat(self, route: Route) -> Any:
        chat = self._chat_transports.get(route)
        if chat is None:
            if route == "rest":
                assert self._rest_settings is not None
                chat = OpenAITransport(self._rest_settings)
            else:
                chat = LocalTransport(_client(self).backend.emulator)  # type: ignore[attr-defined]
            self._chat_transports[route] = chat
        return chat

    def _error(self, exc: BaseException, request: Request) -> CortexError:
        error = translate_rest(exc, op=request.op)
        settings = self._rest_settings
        error._redact([*_client(self)._secrets, *(settings.secrets if settings else ())])
        log.debug(
            "op=%s failed: %s (request_id=%s)", request.op, type(error).__name__, error.query_id
        )
        return error

    def _trace(self, request: Request) -> None:
        tracer = _client(self)._tracer
        if tracer is not None:
            tracer(f"POST {request.url}", (request.to_json(),))

    def _assembler(self, request: Request, response_format: Any, tools: list[Tool]) -> Assembler:
        finish = (lambda c: with_parsed_calls(c, tools)) if tools else None
        return Assembler(request.model, response_format, finish=finish)

    def _retrying(self, request: Request, fn: Callable[[], T]) -> T:
        cx = _client(self)
        return call_with_retries(
            fn,
            policy=cx._retry,
            clock=cx._now,
            sleep=cx._sleep,
            on_retry=lambda e, pause: log.info(
                "op=%s transient %s; retrying in %.1f s", request.op, type(e).__name__, pause
            ),
        )

    def _create(
        self, route: Route, request: Request, response_format: Any, tools: list[Tool]
    ) -> Completion[Any]:
        chat = self._chat(route)

        def attempt() -> Completion[Any]:
            self._trace(request)
            started = time.perf_counter()
            try:
                event = chat.create(request, remaining_budget())
                assembler = self._assembler(request, response_format, tools)
                assembler.add(event)
                completion = assembler.completion()
            except Exception as exc:
                raise self._error(exc, request) from exc
            log.debug("op=%s duration_ms=%.1f", request.op, (time.perf_counter() - started) * 1000)
            return completion

        return self._retrying(request, attempt)

    def _open_stream(
        self, route: Route, request: Request, response_format: Any, tools: list[Tool]
    ) -> CompletionStream[Any]:
        chat = self._chat(route)

        def attempt() -> tuple[Iterator[Event], Callable[[], None]]:
            # Retried until the answer has begun; never once a token may have been shown.
            self._trace(request)
            events, close = None, None
            try:
                events, close = chat.open(request, remaining_budget())
                first = []
                for event in events:
                    first.append(event)
                    if event.substantive:
                        break
            except Exception as exc:
                if close is not None:
                    close()
                raise self._error(exc, request) from exc
            return itertools.chain(first, events), close

        events, close = self._retrying(request, attempt)
        return CompletionStream(
            events,
            self._assembler(request, response_format, tools),
            close=close,
            transport=route,
            translate=lambda exc: self._error(exc, request),
        )

    # -- tools -----------------------------------------------------------------------------------

    def run_tools(
        self,
        model: str,
        prompt: Any,
        *,
        tools: Sequence[Any],
        max_steps: int = MAX_TOOL_STEPS,
        transport: Transport | None = None,
        **options: Any,
    ) -> ToolRun:
        """Let the model call ``tools`` until it answers, at most ``max_steps`` model turns.

        Each turn is one ``complete`` call with the tools offered; every tool call is run
        (a function tool) and its output sent back. Arguments that do not validate, and
        unknown tools, are reported to the model, which may try again; an exception raised
        by a tool propagates.

        Raises:
            ToolLoopError: ``max_steps`` turns passed without a final answer.

        Example:
            >>> def get_weather(city: str) -> str:
            ...     '''The weather in a city.'''
            ...     return "sunny"
            >>> run = cx.run_tools("claude-3-5-sonnet", "Weather in Paris?", tools=[get_weather])  # doctest: +SKIP
            >>> run.text  # doctest: +SKIP
        """
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ConfigurationError(f"max_steps must be a positive integer, not {max_steps!r}")
        known = tools_of(tools)
        by_name = {t.name: t for t in known}
        messages = to_chat_messages(prompt)
        calls: list[ToolResult] = []
        cx = _client(self)
        for _ in range(max_steps):
            completion = cx.complete(model, messages, tools=known, transport=transport, **options)
            from cortex_tune._rest._request import assistant_turn

            messages.append(assistant_turn(completion))
            if not completion.tool_calls:
                return ToolRun(completion=completion, messages=messages, calls=calls)
            for call in completion.tool_calls:
                output, content = answer_call(call, by_name)
                calls.append(ToolResult(call=call, output=output))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
        raise ToolLoopError(
            f"the model asked for tools {max_steps} times without a final answer",
            messages=messages,
            op="rest.tools",
        )
