"""The emulator's Chat Completions endpoint: request bodies in, OpenAI-shaped answers out.

It takes the JSON body a client would POST to ``/api/v2/cortex/v1/chat/completions`` and
answers from the same models as COMPLETE (registered stand-ins, fine-tuned adapters): a
``chat.completion`` object, or the ``chat.completion.chunk`` objects of a stream (the text cut
at word boundaries, a final chunk with the finish reason, then one with the usage).

A stand-in asks for tools by returning ``{"tool_calls": [{"name": ..., "arguments": {...}}]}``
when the request offers tools (``request.options["tools"]``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cortex_tune._core import rules as _rules
from cortex_tune._emulator.complete import _generate
from cortex_tune._emulator.errors import EngineError, invalid_argument, invalid_options

if TYPE_CHECKING:
    from cortex_tune._emulator.core import Emulator

_PIECE = re.compile(r"\s*\S+|\s+")
_ROLES = {"system", "user", "assistant", "tool"}

#: HTTP status for an emulator error, by Cortex's text: the Chat Completions status codes
#: ("400 unknown model model_name", "400 schema validation failed", "400 all requests were
#: throttled by remote service", "402 budget exceeded", "429 too many requests", "503
#: inference timed out") and the structured outputs page's "json mode output validation
#: error: <reason> ... | 422"; anything else is a 400.
_STATUS_RULES = [
    (re.compile(r"too many requests"), 429),
    (re.compile(r"budget exceeded"), 402),
    (re.compile(r"json mode output validation error"), 422),
    (re.compile(r"remote service error: 500|inference timed out"), 503),
]


def status_of(error: EngineError) -> int:
    """The HTTP status Cortex's REST API answers an error with (400 when nothing matches)."""
    text = error.msg.lower()
    for pattern, status in _STATUS_RULES:
        if pattern.search(text):
            return status
    return 400


def chat(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    """Answer a non-streaming request: one ``chat.completion`` object."""
    answer = _answer(emu, body)
    message: dict[str, Any] = {"role": "assistant", "content": answer["text"]}
    if answer["tool_calls"]:
        message["tool_calls"] = answer["tool_calls"]
    return {
        "id": answer["id"],
        "object": "chat.completion",
        "created": answer["created"],
        "model": answer["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": answer["finish_reason"]}],
        "usage": answer["usage"],
    }


def chat_stream(emu: Emulator, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer a streaming request: the ``chat.completion.chunk`` objects, in order.

    The answer is generated before the first chunk, so errors about the request (unknown
    model, bad options, a prompt too long) are raised here, before anything is streamed.
    """
    answer = _answer(emu, body)
    return list(_chunks(answer, include_usage=_include_usage(body)))


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _chunks(answer: dict[str, Any], *, include_usage: bool) -> Iterator[dict[str, Any]]:
    head = {"id": answer["id"], "object": "chat.completion.chunk", "created": answer["created"]}
    head["model"] = answer["model"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    for piece in _PIECE.findall(answer["text"]):
        yield chunk({"content": piece})
    for index, call in enumerate(answer["tool_calls"]):
        function = call["function"]
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": function["name"], "arguments": ""},
                    }
                ]
            }
        )
        yield chunk(
            {"tool_calls": [{"index": index, "function": {"arguments": function["arguments"]}}]}
        )
    yield chunk({}, answer["finish_reason"])
    if include_usage:
        yield {**head, "choices": [], "usage": answer["usage"]}


def _answer(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    model = body.get("model")
    messages = _messages(body.get("messages"))
    options = _options(body)
    text, structured = _generate(emu, model, messages, options)
    tool_calls: list[dict[str, Any]] = []
    finish = "stop"
    if options.get("tools") and isinstance(structured, dict) and "tool_calls" in structured:
        tool_calls = _tool_calls(structured["tool_calls"])
        text, finish = "", "tool_calls"
    elif "response_format" in options:
        text = _structured_text(text, structured, options["response_format"]["schema"])
    limit = options.get("max_tokens")
    if limit is not None and _rules.estimate_tokens(text) > limit and not tool_calls:
        text, finish = text[: int(limit * 4)], "length"
    prompt_tokens = sum(_rules.estimate_tokens(m["content"]) for m in messages)
    completion_tokens = _rules.estimate_tokens(text) + sum(
        _rules.estimate_tokens(c["function"]["arguments"]) for c in tool_calls
    )
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "created": int(emu.clock()),
        "model": model,
        "text": text,
        "tool_calls": tool_calls,
        "finish_reason": finish,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _messages(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise invalid_argument("messages must be a non-empty array")
    messages = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or item.get("role") not in _ROLES:
            raise invalid_argument(f"invalid message {i}: a role of {sorted(_ROLES)} is required")
        content = item.get("content")
        if content is None and not item.get("tool_calls"):
            raise invalid_argument(f"invalid message {i}: 'content' is required")
        messages.append({**item, "content": "" if content is None else str(content)})
    return messages


def _options(body: dict[str, Any]) -> dict[str, Any]:
    if "max_tokens" in body:
        raise invalid_options(
            "max_tokens is deprecated on this endpoint; use max_completion_tokens"
        )
    options: dict[str, Any] = {}
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise invalid_options(f"{key} must be a non-negative number")
            options[key] = value
    limit = body.get("max_completion_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise invalid_options("max_completion_tokens must be a positive integer")
        options["max_tokens"] = limit
    fmt = body.get("response_format")
    if fmt is not None:
        schema = fmt.get("json_schema", {}).get("schema") if isinstance(fmt, dict) else None
        if not isinstance(schema, dict):
            raise EngineError("response_format needs json_schema.schema, an object")
        options["response_format"] = {"type": "json", "schema": schema}
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not all(_is_tool(t) for t in tools):
            raise invalid_argument("tools must be an array of {type: function, function: {name}}")
        options["tools"] = tools
    return options


def _is_tool(tool: Any) -> bool:
    function = tool.get("function") if isinstance(tool, dict) else None
    return isinstance(function, dict) and isinstance(function.get("name"), str)


def _tool_calls(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise EngineError("remote service error: 500 'the stand-in returned malformed tool_calls'")
    calls = []
    for item in value:
        arguments = item.get("arguments", {}) if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise EngineError("remote service error: 500 'a tool call needs a name'")
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        calls.append(
            {
                "id": str(item.get("id") or f"call_{uuid.uuid4().hex[:12]}"),
                "type": "function",
                "function": {"name": item["name"], "arguments": text},
            }
        )
    return calls


def _structured_text(text: str, structured: Any, schema: dict[str, Any]) -> str:
    if structured is None:
        try:
            structured = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EngineError(
                f"json mode output validation error: the model returned invalid JSON ({exc.msg})"
            ) from exc
    if schema.get("type") == "object":
        missing = [
            k
            for k in schema.get("required", [])
            if not isinstance(structured, dict) or k not in structured
        ]
        if missing:
            raise EngineError(
                f"json mode output validation error: required field(s) missing: {', '.join(missing)}"
            )
    return json.dumps(structured, ensure_ascii=False)
