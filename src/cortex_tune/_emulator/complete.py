"""COMPLETE, AI_COMPLETE and COUNT_TOKENS semantics of the emulator, with Cortex's JSON shapes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from cortex_tune._core import rules as _rules
from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.model_limits import MAX_TOKENS_DEFAULT, inference_limits
from cortex_tune._emulator.errors import (
    EngineError,
    invalid_argument,
    invalid_options,
    unknown_model,
)
from cortex_tune._emulator.models import ModelRequest

if TYPE_CHECKING:
    from cortex_tune._emulator.core import Emulator

_OPTION_KEYS = {"temperature", "top_p", "max_tokens", "guardrails", "response_format"}
_GUARD_TEXT = "Response filtered by Cortex Guard"
#: Who may come right before each role ("user ... must follow the system prompt (if there is
#: one) or an assistant response"; "assistant ... must follow a user prompt").
_MAY_FOLLOW = {"user": (None, "system", "assistant"), "assistant": ("user",)}


@dataclass(frozen=True)
class AnswerShapes:
    """How the emulator answers where Snowflake's documentation is silent or inconsistent.

    Both answers are plausible, so cortex-tune reads both, and the emulator can give either
    to prove it. The defaults follow the functions' reference pages.

    Attributes:
        legacy_structured: SNOWFLAKE.CORTEX.COMPLETE with a ``response_format``: ``"bare"``
            returns the JSON object adhering to the schema, and nothing else (the COMPLETE
            reference: "a string representation of a JSON object adhering to the specified JSON
            schema"); ``"wrapped"`` returns ``{"structured_output": [{"raw_message": ...}],
            "usage": ...}`` as the structured-output pages show.
        ai_details_value: AI_COMPLETE with ``return_error_details => TRUE``: the ``value``
            field holds the answer as an ``"object"`` or as ``"text"`` (the same JSON in a
            string); the reference says only "same type as the normal return value".
        fine_tuned_window: the context window of a fine-tuned model, which no page gives:
            its fine-tuning allotment (``"training"``, e.g. 24,000 tokens for llama3.1-8b) or
            its base model's inference window (``"base"``, 128,000).
    """

    legacy_structured: Literal["bare", "wrapped"] = "bare"
    ai_details_value: Literal["object", "text"] = "object"
    fine_tuned_window: Literal["training", "base"] = "training"

    @classmethod
    def of(cls, value: AnswerShapes | Mapping[str, str] | None) -> AnswerShapes:
        """``value`` as AnswerShapes: None for the defaults, or a mapping of the fields."""
        if value is None or isinstance(value, AnswerShapes):
            return value or cls()
        choices = {
            "legacy_structured": ("bare", "wrapped"),
            "ai_details_value": ("object", "text"),
            "fine_tuned_window": ("training", "base"),
        }
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"answer_shapes must be a mapping, not {value!r}")
        for key, chosen in value.items():
            if key not in choices or chosen not in choices[key]:
                allowed = "; ".join(f"{k}: {' or '.join(v)}" for k, v in choices.items())
                raise ConfigurationError(
                    f"answer_shapes: {key}={chosen!r} is not a known shape", hint=allowed
                )
        chosen_shapes: dict[str, Any] = {
            f.name: value[f.name] for f in fields(cls) if f.name in value
        }
        return cls(**chosen_shapes)


def _json(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise invalid_argument(f"{what} is not valid JSON: {exc.msg}") from exc
    return value


def _lower_keys(value: Any) -> Any:
    # Snowflake object literals reach the engine with upper-cased keys; normalise them.
    if isinstance(value, dict):
        return {str(k).lower(): v for k, v in value.items()}
    return value


def check_options(options: Any) -> dict[str, Any]:
    """The options object, validated the way Cortex does."""
    options = _lower_keys(_json(options, "options")) if options is not None else {}
    if not isinstance(options, dict):
        raise invalid_options("options must be an object")
    unknown = sorted(set(options) - _OPTION_KEYS)
    if unknown:
        raise invalid_options(f"unknown option(s) {', '.join(unknown)}")
    for key in ("temperature", "top_p"):
        value = options.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1
        ):
            raise invalid_options(f"{key} must be between 0 and 1")
    max_tokens = options.get("max_tokens")
    if isinstance(max_tokens, float) and max_tokens.is_integer():
        options["max_tokens"] = max_tokens = int(max_tokens)
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise invalid_options("max_tokens must be a positive integer")
    if "guardrails" in options and not isinstance(options["guardrails"], bool):
        raise invalid_options("guardrails must be true or false")
    fmt = options.get("response_format")
    if fmt is not None:
        fmt = _lower_keys(fmt)
        if not isinstance(fmt, dict) or str(fmt.get("type", "")).lower() != "json":
            raise EngineError("please provide a type for the response format object")
        if not isinstance(fmt.get("schema"), dict):
            raise EngineError("please provide a schema for the response format object")
        options["response_format"] = fmt
    return options


def _messages(prompt: Any, *, three_args: bool) -> list[dict[str, str]]:
    """The conversation: "If options is not present, the prompt given must be a string. If
    options is present, the argument must be an array of objects ... Each object must contain
    a role key and a content key." (the COMPLETE reference)."""
    if not three_args:
        if not isinstance(prompt, str):
            raise invalid_argument("COMPLETE(model, prompt): the prompt must be a string")
        return [{"role": "user", "content": prompt}]
    prompt = _json(prompt, "prompt")
    if not isinstance(prompt, list) or not prompt:
        raise invalid_argument(
            "COMPLETE with options takes an array of {role, content} objects, not "
            f"{'a string' if isinstance(prompt, str) else type(prompt).__name__}"
        )
    messages: list[dict[str, str]] = []
    for i, item in enumerate(prompt):
        item = _lower_keys(item)
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise invalid_argument(f"message {i} needs a string 'content'")
        if not isinstance(item.get("role"), str):
            raise invalid_argument(f"message {i} needs a 'role' key")
        role = item["role"].lower()
        if role not in ("system", "user", "assistant") or (role == "system" and i > 0):
            raise invalid_argument(f"invalid role {role!r} in message {i}")
        before = messages[-1]["role"] if messages else None
        if role in _MAY_FOLLOW and before not in _MAY_FOLLOW[role]:
            raise invalid_argument(
                f"message {i} ({role}) cannot follow {before or 'the start of the conversation'}: "
                "a user message follows the system prompt or an assistant response, and an "
                "assistant message follows a user message"
            )
        messages.append({"role": role, "content": item["content"]})
    return messages


def _generate(
    emu: Emulator, model: Any, messages: list[dict[str, str]], options: dict[str, Any]
) -> tuple[str, Any]:
    """Run the model within its documented limits: (text, structured value or None)."""
    if not isinstance(model, str) or not model.strip():
        raise invalid_argument("the model name must be a non-empty string")
    tuned = emu.fine_tuned(model)
    if tuned is not None:
        job, adapter = tuned
        _check_limits(messages, options, _tuned_window(emu, job.base_model), job.base_model)
        return adapter.answer(messages[-1]["content"]), None
    responder = emu.models.get(model.strip().lower())
    if responder is None or emu.unavailable(model):
        raise unknown_model(model)
    limits = inference_limits(model)
    # A model the model table does not list (a stand-in's own name) has no window to check.
    _check_limits(messages, options, limits.context_window if limits else None, model)
    try:
        answer = responder(ModelRequest(model=model, messages=messages, options=dict(options)))
    except EngineError:
        raise
    except Exception as exc:  # a stand-in model failing is Cortex's remote service failing
        raise EngineError(
            "Request failed for external function COMPLETE with remote service error: "
            f"500 '{type(exc).__name__}: {exc}'"
        ) from exc
    if isinstance(answer, (dict, list)):
        return json.dumps(answer, ensure_ascii=False), answer
    return str(answer), None


def _tuned_window(emu: Emulator, base_model: str) -> int | None:
    """A fine-tuned model's context window, as the emulator's answer shapes choose it."""
    if emu.answer_shapes.fine_tuned_window == "base":
        limits = inference_limits(base_model)
        return limits.context_window if limits else None
    spec = _rules.base_model_spec(base_model)
    return spec.context_window if spec else None


def _check_limits(
    messages: list[dict[str, str]], options: dict[str, Any], window: int | None, model: str
) -> None:
    """Refuse ``max_tokens`` above the model's documented output and a prompt over its window."""
    limits = inference_limits(model)
    max_tokens = options.get("max_tokens")
    if limits is not None and isinstance(max_tokens, int) and max_tokens > limits.max_output:
        raise invalid_options(f"max_tokens must be an integer from 1 to {limits.max_output}")
    if window is not None:
        _check_window(messages, window)


def _check_window(messages: list[dict[str, str]], window: int) -> None:
    tokens = sum(_rules.estimate_tokens(m["content"]) for m in messages)
    if tokens > window:
        raise EngineError(f"max tokens of {window} exceeded")


def _respond(
    emu: Emulator, model: Any, messages: list[dict[str, str]], options: dict[str, Any]
) -> dict[str, Any]:
    """The detailed answer object, for either generation."""
    text, structured = _generate(emu, model, messages, options)
    max_tokens = options.get("max_tokens", MAX_TOKENS_DEFAULT)
    if _rules.estimate_tokens(text) > max_tokens and structured is None:
        text = text[: int(max_tokens * 4)]
    prompt_tokens = sum(_rules.estimate_tokens(m["content"]) for m in messages)
    completion_tokens = _rules.estimate_tokens(text)
    usage: dict[str, int] = {"completion_tokens": completion_tokens, "prompt_tokens": prompt_tokens}
    guard = 0
    if options.get("guardrails"):
        guard = completion_tokens
        if "unsafe" in text.lower():
            text = _GUARD_TEXT
    usage["guardrail_tokens"] = guard
    usage["total_tokens"] = prompt_tokens + completion_tokens + guard
    answer: dict[str, Any] = {"created": int(emu.clock()), "model": model, "usage": usage}
    if options.get("response_format") is not None:
        if structured is None:
            try:
                structured = json.loads(text)
            except json.JSONDecodeError as exc:
                raise EngineError(
                    "json mode output validation error: Model returned invalid JSON that cannot "
                    f"be parsed due to: {exc.msg}"
                ) from exc
        _check_required(structured, options["response_format"]["schema"])
        answer["structured_output"] = [{"raw_message": structured, "type": "json"}]
    else:
        answer["choices"] = [{"messages": text}]
    return answer


def _check_required(value: Any, schema: dict[str, Any]) -> None:
    if schema.get("type") == "object":
        if not isinstance(value, dict):
            raise EngineError("json mode output validation error: expected an object")
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            raise EngineError(
                f"json mode output validation error: required field(s) missing: {', '.join(missing)}"
            )


def legacy_complete(
    emu: Emulator, model: Any, prompt: Any, options: Any, *, three_args: bool
) -> str:
    """SNOWFLAKE.CORTEX.COMPLETE: text for the 2-argument form, JSON text for the 3-argument form."""
    if prompt is None or model is None:
        raise invalid_argument("COMPLETE arguments must not be NULL")
    messages = _messages(prompt, three_args=three_args)
    opts = check_options(options) if three_args else {}
    if not three_args:
        text, _ = _generate(emu, model, messages, {})
        return text
    answer = _respond(emu, model, messages, opts)
    if "structured_output" in answer and emu.answer_shapes.legacy_structured == "bare":
        return json.dumps(answer["structured_output"][0]["raw_message"], ensure_ascii=False)
    return json.dumps(answer, ensure_ascii=False)


def ai_complete(
    emu: Emulator,
    model: Any,
    prompt: Any,
    *,
    model_parameters: Any = None,
    response_format: Any = None,
    show_details: Any = None,
    return_error_details: Any = None,
) -> Any:
    """AI_COMPLETE: NULL on a failed row, or ``{value, error}`` with return_error_details."""
    try:
        value = _ai_value(emu, model, prompt, model_parameters, response_format, bool(show_details))
    except EngineError as exc:
        if return_error_details:
            return {"value": None, "error": exc.msg}
        return None
    if return_error_details:
        if isinstance(value, (dict, list)) and emu.answer_shapes.ai_details_value == "text":
            value = json.dumps(value, ensure_ascii=False)
        return {"value": value, "error": None}
    return value


def _ai_value(emu: Emulator, model: Any, prompt: Any, params: Any, fmt: Any, details: bool) -> Any:
    if not isinstance(prompt, str):
        raise invalid_argument("AI_COMPLETE: the prompt must be a string")
    options = check_options(params)
    options.pop("response_format", None)  # ignored inside model_parameters, as documented
    if fmt is not None:
        fmt = _lower_keys(_json(fmt, "response_format"))
        options["response_format"] = check_options({"response_format": fmt})["response_format"]
    answer = _respond(emu, model, [{"role": "user", "content": prompt}], options)
    if details:
        return answer
    if "structured_output" in answer:
        return answer["structured_output"][0]["raw_message"]
    return answer["choices"][0]["messages"]


def count_tokens(emu: Emulator, model: Any, text: Any, *, function: str = "COUNT_TOKENS") -> int:
    """COUNT_TOKENS: an estimate (4 characters a token); fine-tuned models are refused, as both
    COUNT_TOKENS ("does not support fine-tuned models") and AI_COUNT_TOKENS ("does not work ...
    with fine-tuned models") document."""
    if not isinstance(model, str) or text is None:
        raise invalid_argument(f"{function} takes a model name and a text")
    if emu.fine_tuned(model) is not None:
        raise invalid_argument(f"{function} does not support fine-tuned models such as {model}")
    known = _rules.base_model_spec(model) is not None or model.strip().lower() in emu.models
    if not known or emu.unavailable(model):
        raise unknown_model(model)
    return _rules.estimate_tokens(str(text))


def ai_count_tokens(emu: Emulator, function: Any, model: Any, text: Any) -> int | None:
    """AI_COUNT_TOKENS('ai_complete', model, text): NULL when it cannot count ("By default, if
    AI_COUNT_TOKENS can't process the input, the function returns NULL.")."""
    try:
        if str(function or "").strip().lower() != "ai_complete":
            raise invalid_argument(f"AI_COUNT_TOKENS: unsupported function {function!r}")
        return count_tokens(emu, model, text, function="AI_COUNT_TOKENS")
    except EngineError:
        return None
