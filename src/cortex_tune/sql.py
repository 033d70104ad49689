"""Statement builders: the exact SQL and parameters every cortex-tune call runs.

Each function is pure and returns a :class:`Statement` without running anything, so you can see
(or run yourself) exactly what a call would send::

    >>> from cortex_tune import sql
    >>> st = sql.finetune_describe_sql("ft_123")
    >>> st.sql
    "SELECT SNOWFLAKE.CORTEX.FINETUNE('DESCRIBE', ?)"
    >>> st.params
    ('ft_123',)

Every value travels as a bound parameter (``?``); the SQL text of a builder never depends on a
value, only on which arguments are present. Identifiers are validated before they are used.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from pydantic import ValidationError

from cortex_tune._core.constants import MARKER_PREFIX
from cortex_tune._core.errors import ConfigurationError, InvalidOptionsError
from cortex_tune._core.identifiers import validate_model_name
from cortex_tune._core.literals import quote_literal
from cortex_tune._core.model_limits import inference_limits
from cortex_tune._core.models import Message
from cortex_tune._core.schema import to_cortex_schema
from cortex_tune._core.statement import Generation, Param, Statement, dump_json, require_text
from cortex_tune._finetune.training_data import TrainingData, normalise_query
from cortex_tune._inference.sql_batch import (
    Template,
    complete_batch_sql,
    complete_table_sql,
    create_results_table_sql,
    read_table_sql,
    table_summary_sql,
)

PromptInput: TypeAlias = "str | Message | Mapping[str, str] | Sequence[Message | Mapping[str, str]]"

__all__ = [
    "Statement",
    "Template",
    "complete_batch_sql",
    "complete_options",
    "complete_sql",
    "complete_table_sql",
    "count_tokens_sql",
    "create_results_table_sql",
    "finetune_cancel_sql",
    "finetune_create_sql",
    "finetune_describe_sql",
    "finetune_show_sql",
    "new_marker",
    "quote_literal",
    "read_table_sql",
    "table_summary_sql",
    "training_query",
]


# -- fine-tuning ---------------------------------------------------------------------------------


def new_marker() -> str:
    """A fresh request marker id for :func:`finetune_create_sql`."""
    return uuid.uuid4().hex


def training_query(data: str | TrainingData, *, marker: str | None = None) -> str:
    """The query text sent to FINETUNE for ``data``.

    Trailing semicolons are removed (Cortex wraps the query in a subquery, where ``;`` fails the
    job minutes later), and with ``marker`` a ``/* cortex-tune:req=<marker> */`` comment is put
    in front so the job can be found again after a lost response.
    """
    query = data.to_sql() if isinstance(data, TrainingData) else normalise_query(data)
    if marker is not None:
        query = f"/* {MARKER_PREFIX}{marker} */ {query}"
    return query


def finetune_create_sql(
    name: str,
    *,
    base_model: str,
    training: str | TrainingData,
    validation: str | TrainingData | None = None,
    max_epochs: int | None = None,
    marker: str | None = None,
    literals: bool = False,
) -> Statement:
    """FINETUNE('CREATE', name, base_model, training [, validation [, options]]).

    The options travel as the documented JSON string (``'{"max_epochs": 3}'``); an absent
    validation query is NULL when options follow it. With ``literals=True`` the arguments are
    written as string constants by :func:`quote_literal` instead of bound (for an account that
    refuses bound FINETUNE arguments; the SQL then depends on the values).
    """
    validate_model_name(name)
    require_text(base_model, "base_model")
    if max_epochs is not None and (
        isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or not 1 <= max_epochs <= 10
    ):
        raise ConfigurationError(
            f"max_epochs must be an integer from 1 to 10, not {max_epochs!r}",
            hint="Leave it out to let Cortex choose.",
        )
    params: list[Param] = [name, base_model, training_query(training, marker=marker)]
    if validation is not None or max_epochs is not None:
        params.append(training_query(validation) if validation is not None else None)
    if max_epochs is not None:
        params.append(json.dumps({"max_epochs": max_epochs}))
    return _finetune("CREATE", params, "finetune.create", literals=literals)


def finetune_show_sql() -> Statement:
    """FINETUNE('SHOW'): every fine-tuning job in the account."""
    return Statement("SELECT SNOWFLAKE.CORTEX.FINETUNE('SHOW')", (), "finetune.show")


def finetune_describe_sql(job_id: str, *, literals: bool = False) -> Statement:
    """FINETUNE('DESCRIBE', job_id): the full state of one job."""
    require_text(job_id, "job_id")
    return _finetune("DESCRIBE", [job_id], "finetune.describe", literals=literals)


def finetune_cancel_sql(job_id: str, *, literals: bool = False) -> Statement:
    """FINETUNE('CANCEL', job_id): stop a job."""
    require_text(job_id, "job_id")
    return _finetune("CANCEL", [job_id], "finetune.cancel", literals=literals)


def _finetune(verb: str, params: list[Param], op: str, *, literals: bool) -> Statement:
    if literals:
        args = ", ".join("NULL" if p is None else quote_literal(str(p)) for p in params)
        return Statement(f"SELECT SNOWFLAKE.CORTEX.FINETUNE('{verb}', {args})", (), op)
    marks = ", ".join("?" for _ in params)
    return Statement(f"SELECT SNOWFLAKE.CORTEX.FINETUNE('{verb}', {marks})", tuple(params), op)


# -- inference -----------------------------------------------------------------------------------


def complete_options(
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    guardrails: bool | None = None,
    response_format: Any = None,
    model: str | None = None,
) -> dict[str, Any]:
    """The COMPLETE options object for the given settings, checked against Cortex's ranges.

    temperature and top_p: "A value from 0 to 1 (inclusive)"; max_tokens: a positive integer,
    at most the model's documented maximum output (give ``model``; "Maximum allowed value:
    8192" for the models the model table lists at 8,192, see :mod:`cortex_tune._core.model_limits`);
    guardrails: "Either TRUE or FALSE".

    Raises:
        InvalidOptionsError: A value out of its documented range (before any I/O; Cortex's own
            refusal of an options object raises the same class).
    """
    options: dict[str, Any] = {}
    for key, value in (("temperature", temperature), ("top_p", top_p)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InvalidOptionsError(f"{key} must be a number from 0 to 1, not {value!r}")
        options[key] = value
    if max_tokens is not None:
        options["max_tokens"] = _max_tokens(max_tokens, model)
    if guardrails is not None:
        if not isinstance(guardrails, bool):
            raise InvalidOptionsError(f"guardrails must be True or False, not {guardrails!r}")
        options["guardrails"] = guardrails
    if response_format is not None:
        options["response_format"] = {"type": "json", "schema": to_cortex_schema(response_format)}
    return options


def _max_tokens(value: Any, model: str | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionsError(f"max_tokens must be a positive integer, not {value!r}")
    limits = inference_limits(model) if model is not None else None
    if limits is not None and value > limits.max_output:
        raise InvalidOptionsError(
            f"max_tokens must be at most {limits.max_output} for {model} (its documented "
            f"maximum output), not {value}"
        )
    return value


def complete_sql(
    model: str,
    prompt: PromptInput,
    *,
    options: Mapping[str, Any] | None = None,
    functions: Generation = "legacy",
    usage: bool = True,
) -> Statement:
    """COMPLETE / AI_COMPLETE for one prompt or conversation.

    Cortex returns token usage only in its detailed answers, and they cost nothing more (Cortex
    bills the tokens processed), so by default every form asks for them:

    - legacy: ``COMPLETE(?, PARSE_JSON(?), PARSE_JSON(?))`` with the conversation as an array of
      messages and the options object (``{}`` when none); the answer is JSON with ``choices``
      (or the structured output) and ``usage``;
    - AI: named arguments with ``show_details => TRUE``, and ``return_error_details => TRUE``
      so a failure comes back with its reason (AI_COMPLETE otherwise returns a bare NULL).

    ``usage=False`` sends a plain prompt without options in the short forms instead
    (``COMPLETE(?, ?)``, or AI_COMPLETE without ``show_details``), whose answer is the text
    alone. AI_COMPLETE has no documented conversation form, so a conversation must be a single
    user message there.
    """
    require_text(model, "model")
    messages = to_messages(prompt)
    plain = isinstance(prompt, str) and not options and not usage
    if functions == "legacy":
        if plain:
            return Statement("SELECT SNOWFLAKE.CORTEX.COMPLETE(?, ?)", (model, prompt), "complete")  # type: ignore[arg-type]
        return Statement(
            "SELECT SNOWFLAKE.CORTEX.COMPLETE(?, PARSE_JSON(?), PARSE_JSON(?))",
            (
                model,
                dump_json([m.model_dump() for m in messages]),
                dump_json(dict(options or {})),
            ),
            "complete",
        )
    text = _single_prompt(messages)
    params = dict(options or {})
    response_format = params.pop("response_format", None)
    sql = "SELECT AI_COMPLETE(model => ?, prompt => ?"
    values: list[Param] = [model, text]
    if params or response_format is not None:
        sql += ", model_parameters => PARSE_JSON(?)"
        values.append(dump_json(params))
    if response_format is not None:
        sql += ", response_format => PARSE_JSON(?)"
        values.append(dump_json(response_format))
    if not plain:
        sql += ", show_details => TRUE"
    sql += ", return_error_details => TRUE)"
    return Statement(sql, tuple(values), "ai_complete")


def count_tokens_sql(model: str, text: str, *, functions: Generation = "legacy") -> Statement:
    """COUNT_TOKENS(model, text) or AI_COUNT_TOKENS('ai_complete', model, text)."""
    require_text(model, "model")
    if not isinstance(text, str):
        raise ConfigurationError(f"text must be a string, not {type(text).__name__}")
    if functions == "legacy":
        return Statement(
            "SELECT SNOWFLAKE.CORTEX.COUNT_TOKENS(?, ?)", (model, text), "count_tokens"
        )
    return Statement(
        "SELECT AI_COUNT_TOKENS('ai_complete', ?, ?)", (model, text), "ai_count_tokens"
    )


# -- helpers -------------------------------------------------------------------------------------


def to_messages(prompt: PromptInput) -> list[Message]:
    """Normalise a prompt, a message, or a list of messages/dicts into messages.

    The order is checked before anything is sent: an optional system message first, then user
    and assistant messages taking turns, starting with a user message (the COMPLETE reference).
    """
    if isinstance(prompt, str):
        return [Message.user(prompt)]
    if isinstance(prompt, (Message, Mapping)):
        messages = [prompt if isinstance(prompt, Message) else _message(prompt)]
    elif isinstance(prompt, Sequence):
        messages = [m if isinstance(m, Message) else _message(m) for m in prompt]
        if not messages:
            raise ConfigurationError("the conversation is empty: give at least one user message")
    else:
        raise ConfigurationError(
            f"prompt must be a string or a list of messages, not {type(prompt).__name__}"
        )
    _check_order(messages)
    return messages


#: The roles each role may follow, from the COMPLETE reference: "'user': ... Must follow the
#: system prompt (if there is one) or an assistant response. 'assistant': ... Must follow a user
#: prompt." and a system prompt "must be the first in the array".
_MAY_FOLLOW = {"system": (None,), "user": (None, "system", "assistant"), "assistant": ("user",)}


_RULE = {
    "system": "a system message may only come first in the conversation",
    "user": "a user message comes first, or after the system message or an assistant message",
    "assistant": "an assistant message comes after a user message",
}


def _check_order(messages: list[Message]) -> None:
    before: str | None = None
    for i, message in enumerate(messages):
        if before not in _MAY_FOLLOW[message.role]:
            where = f"after a {before} message" if before else "first"
            raise ConfigurationError(
                f"message {i} ({message.role}) cannot come {where}: {_RULE[message.role]}",
                hint="Cortex takes an optional system message, then user and assistant messages "
                "taking turns, starting with a user message.",
            )
        before = message.role


def _message(value: Any) -> Message:
    try:
        return Message.model_validate(value)
    except ValidationError as exc:
        raise ConfigurationError(
            f"invalid message {value!r}: {exc.errors()[0]['msg']}",
            hint="A message is {'role': 'system' | 'user' | 'assistant', 'content': '...'}.",
        ) from None


def _single_prompt(messages: list[Message]) -> str:
    if len(messages) == 1 and messages[0].role == "user":
        return messages[0].content
    raise ConfigurationError(
        "AI_COMPLETE has no documented conversation form; pass one prompt string",
        hint="Use Cortex(..., functions='legacy') for system/assistant messages.",
    )
