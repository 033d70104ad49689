"""The client's single-call inference: complete and count_tokens (mixed into Cortex)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from pydantic import BaseModel

from cortex_tune._backends.base import Result
from cortex_tune._core.errors import (
    InvalidIdentifierError,
    ObjectNotFoundError,
    QueryError,
    ResponseParseError,
    UnknownModelError,
    from_text,
)
from cortex_tune._core.identifiers import normalise_part, split_name, validate_model_name
from cortex_tune._core.models import Completion, JobStatus
from cortex_tune._core.parsing import load_json, parse_completion, parse_count
from cortex_tune._core.statement import Generation
from cortex_tune.sql import (
    PromptInput,
    complete_options,
    complete_sql,
    count_tokens_sql,
    to_messages,
)

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex
    from cortex_tune._rest import CompletionStream, Transport

log = logging.getLogger("cortex_tune")

M = TypeVar("M", bound=BaseModel)

#: Errors a counting function may give for a fine-tuned model. What Cortex says then is not
#: documented, so any of these leads to looking the model up among the fine-tuning jobs.
_MAYBE_FINE_TUNED = (QueryError, UnknownModelError, ObjectNotFoundError)


def _client(mixin: InferenceMethods) -> Cortex:
    return cast("Cortex", mixin)


class InferenceMethods:
    """One completion, one token count."""

    def _base_model_cache(self) -> dict[str, str]:
        """Fine-tuned model name -> base model, as found by count_tokens."""
        cache: dict[str, str] = self.__dict__.setdefault("_base_models", {})
        return cache

    @overload
    def complete(
        self,
        model: str,
        prompt: PromptInput,
        *,
        temperature: float | None = ...,
        top_p: float | None = ...,
        max_tokens: int | None = ...,
        guardrails: bool | None = ...,
        response_format: Any = ...,
        stream: Literal[True],
        tools: Sequence[Any] | None = ...,
        tool_choice: Any = ...,
        transport: Transport | None = ...,
    ) -> CompletionStream[Any]: ...

    @overload
    def complete(
        self,
        model: str,
        prompt: PromptInput,
        *,
        temperature: float | None = ...,
        top_p: float | None = ...,
        max_tokens: int | None = ...,
        guardrails: bool | None = ...,
        response_format: type[M],
        stream: Literal[False] = ...,
        tools: Sequence[Any] | None = ...,
        tool_choice: Any = ...,
        transport: Transport | None = ...,
    ) -> Completion[M]: ...

    @overload
    def complete(
        self,
        model: str,
        prompt: PromptInput,
        *,
        temperature: float | None = ...,
        top_p: float | None = ...,
        max_tokens: int | None = ...,
        guardrails: bool | None = ...,
        response_format: Mapping[str, Any] | None = ...,
        stream: Literal[False] = ...,
        tools: Sequence[Any] | None = ...,
        tool_choice: Any = ...,
        transport: Transport | None = ...,
    ) -> Completion[Any]: ...

    def complete(
        self,
        model: str,
        prompt: PromptInput,
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
    ) -> Completion[Any] | CompletionStream[Any]:
        """Complete a prompt or a conversation with a base or fine-tuned model.

        Cortex is always asked for its detailed answer, which carries token usage at no extra
        cost: ``COMPLETE(model, [messages], {options})`` or ``AI_COMPLETE(..., show_details =>
        TRUE)``. So ``.usage`` is set, except for a legacy structured answer in the bare shape
        the COMPLETE reference describes (the schema's object alone, without usage). With
        ``response_format`` (a pydantic model or a JSON schema) the answer is validated into
        ``.parsed``.

        Args:
            model: A Cortex model (``"llama3.1-70b"``) or a fine-tuned model's name.
            prompt: A string, a :class:`Message`, or a list of messages (an optional system
                message, then user and assistant messages taking turns).
            temperature: 0 to 1.
            top_p: 0 to 1.
            max_tokens: Most tokens to generate (at most 8192 for most models).
            guardrails: Filter unsafe answers with Cortex Guard.
            response_format: A pydantic model class or a JSON schema for structured output.
            stream: Return a :class:`CompletionStream` of text deltas ending with the
                Completion (Chat Completions API; over SQL, the whole answer as one delta).
            tools: Functions or pydantic models the model may call (Chat Completions API);
                the calls come back typed on ``.tool_calls`` (see also :meth:`run_tools`).
            tool_choice: ``"auto"``, ``"required"``, ``"none"`` or a named function.
            transport: ``"auto"``, ``"sql"`` or ``"rest"`` for this call; see
                :meth:`plan_complete` for which one a call would use, and why.

        Raises:
            UnknownModelError, ThrottledError, MaxTokensExceededError, StructuredOutputError,
            InvalidOptionsError, ConfigurationError: see the error table in the README.
            Options out of range and conversations in the wrong order are refused before
            anything is sent.

        Example:
            >>> cx.complete("llama3.1-70b", "Summarise: ...", max_tokens=100).usage  # doctest: +SKIP
        """
        cx = _client(self)
        options = complete_options(
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            guardrails=guardrails,
            response_format=response_format,
            model=model,
        )
        routed = cx._routed(
            model,
            prompt,
            options=options,
            response_format=response_format,
            stream=stream,
            tools=tools,
            tool_choice=tool_choice,
            transport=transport,
        )
        if routed is not None:
            return routed  # type: ignore[no-any-return]
        to_messages(prompt)  # validate before any I/O

        def run(generation: Generation) -> Completion[Any]:
            statement = complete_sql(model, prompt, options=options, functions=generation)
            check = _ai_error_check if generation == "ai" else None
            value = cx._execute(statement, check=check).scalar()
            if generation == "ai":
                value = load_json(value, what="AI_COMPLETE").get("value")
            return parse_completion(
                value, model=model, detailed=True, response_format=response_format
            )

        result: Completion[Any] = cx._with_fallback(run, prompt)
        return result

    def count_tokens(self, model: str, text: str) -> int:
        """Tokens in ``text`` for ``model``: AI_COUNT_TOKENS or COUNT_TOKENS (billed compute).

        Neither function supports fine-tuned models (COUNT_TOKENS "does not support fine-tuned
        models"; AI_COUNT_TOKENS "does not work ... with fine-tuned models"). When Cortex
        refuses a name that is a fine-tuned model's, cortex-tune finds its base model through
        FINETUNE('SHOW') and ('DESCRIBE') and counts with that: a fine-tuned model is an
        adapter on its base model, read with the base model's tokenizer. The lookup is
        remembered for the life of the client and logged at INFO.
        """
        cx = _client(self)

        def counter(name: str) -> Any:
            def run(generation: Generation) -> int:
                statement = count_tokens_sql(name, text, functions=generation)
                return parse_count(cx._execute(statement).scalar())

            return run

        known = self._base_model_cache().get(model)
        try:
            count: int = cx._with_fallback(counter(known or model), text)
        except _MAYBE_FINE_TUNED as exc:
            if known is not None or type(exc) not in _MAYBE_FINE_TUNED:
                raise
            base = self._base_model_of(model)
            if base is None:
                raise
            log.info("count_tokens: %s is fine-tuned; counting with its base model %s", model, base)
            count = cx._with_fallback(counter(base), text)
        return count

    def _base_model_of(self, model: str) -> str | None:
        """The base model of the fine-tuned model ``model``, from its job, or None."""
        try:
            validate_model_name(model)
        except InvalidIdentifierError:
            return None  # base model names such as "mistral-7b" are not model identifiers
        cx = _client(self)
        wanted = [normalise_part(p) for p in split_name(model)]
        bases = set()
        for summary in cx.finetune.list():
            if summary.status is not JobStatus.SUCCESS:
                continue
            job = cx.finetune.describe(summary.id)
            if job.model and job.base_model and _same_model(job.model, wanted):
                bases.add(job.base_model)
        if len(bases) != 1:
            return None
        base = bases.pop()
        self._base_model_cache()[model] = base
        return base


def _same_model(name: str, wanted: list[str]) -> bool:
    """Whether the (usually qualified) ``name`` of a job's model is the one ``wanted`` names."""
    try:
        parts = [normalise_part(p) for p in split_name(name)]
    except InvalidIdentifierError:
        return False
    return parts[-len(wanted) :] == wanted


def _is_conversation(prompt: PromptInput) -> bool:
    messages = to_messages(prompt)
    return not (len(messages) == 1 and messages[0].role == "user")


def _ai_error_check(result: Result) -> None:
    """AI_COMPLETE(..., return_error_details => TRUE) carries a failure as ``{"error": ...}``."""
    value = result.scalar()
    data = load_json(value, what="AI_COMPLETE") if value is not None else None
    if not isinstance(data, dict):
        raise ResponseParseError("AI_COMPLETE returned no {value, error} object", raw=value)
    error = data.get("error")
    if error:
        raise from_text(str(error), query_id=result.query_id)
