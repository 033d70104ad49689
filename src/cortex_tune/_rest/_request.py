"""The Chat Completions request a call would send: built without I/O, so it can be shown.

``build_request`` is the REST twin of the SQL statement builders: a pure function from the
call's arguments to a :class:`Request` (method, URL, non-secret headers, JSON body).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from cortex_tune._core.errors import ConfigurationError
from cortex_tune._core.models import Completion, Message
from cortex_tune._core.schema import to_cortex_schema
from cortex_tune._core.statement import require_text

PATH = "/chat/completions"
_ROLES = frozenset({"system", "user", "assistant", "tool"})


@dataclass(frozen=True)
class Request:
    """One Chat Completions request, as cortex-tune would send it.

    Attributes:
        url: The endpoint, or a placeholder when the client has no account URL (local).
        body: The JSON body (model, messages, options, tools, stream).
        headers: Headers other than the secret ``Authorization`` one, which is shown as
            ``Bearer ***``.
        op: ``"rest.chat"``, for logs and errors.
    """

    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    op: str = "rest.chat"

    @property
    def stream(self) -> bool:
        """Whether the answer streams back as server-sent events."""
        return bool(self.body.get("stream"))

    @property
    def model(self) -> str:
        """The model named in the body."""
        return str(self.body.get("model", ""))

    def to_json(self) -> str:
        """The body as JSON text, exactly as sent."""
        return json.dumps(self.body, ensure_ascii=False)

    def __repr__(self) -> str:
        # Messages can be private data; keep them out of reprs and logs, like Statement params.
        keys = sorted(k for k in self.body if k not in ("model", "messages"))
        count = len(self.body.get("messages", []))
        return (
            f"Request(POST {self.url}, model={self.model!r}, messages=<{count}>, options={keys!r})"
        )


def build_request(
    base_url: str | None,
    model: str,
    prompt: Any,
    *,
    options: Mapping[str, Any],
    response_format: Any = None,
    tools: Sequence[Mapping[str, Any]] = (),
    tool_choice: Any = None,
    stream: bool = False,
    token_type: str | None = None,
) -> Request:
    """The Chat Completions request for one call.

    ``options`` are the COMPLETE-style options (temperature, top_p, max_tokens); on this
    endpoint ``max_tokens`` travels as ``max_completion_tokens``. A pydantic model or JSON
    schema ``response_format`` becomes ``{"type": "json_schema", ...}``. Streaming asks for
    usage in the last chunk (``stream_options.include_usage``).
    """
    require_text(model, "model")
    if options.get("guardrails") is not None:
        raise ConfigurationError(
            "guardrails are an option of the SQL COMPLETE functions, not of the Chat "
            "Completions API",
            hint="Pass transport='sql' for Cortex Guard, or leave guardrails out.",
        )
    body: dict[str, Any] = {"model": model, "messages": to_chat_messages(prompt)}
    for key in ("temperature", "top_p"):
        if options.get(key) is not None:
            body[key] = options[key]
    if options.get("max_tokens") is not None:
        body["max_completion_tokens"] = options["max_tokens"]
    if response_format is not None:
        body["response_format"] = _response_format(response_format)
    if tools:
        body["tools"] = [dict(t) for t in tools]
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    headers = {"Content-Type": "application/json"}
    if token_type:  # the token itself is secret: shown masked
        headers["Authorization"] = "Bearer ***"
        headers["X-Snowflake-Authorization-Token-Type"] = token_type
    if stream:
        headers["Accept"] = "text/event-stream"
    url = (base_url or "local:/api/v2/cortex/v1") + PATH
    return Request(url=url, body=body, headers=headers)


def _response_format(response_format: Any) -> dict[str, Any]:
    name = "answer"
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        name = response_format.__name__
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": to_cortex_schema(response_format)},
    }


def to_chat_messages(prompt: Any) -> list[dict[str, Any]]:
    """A prompt, a message, a completion or a list of them, as Chat Completions messages.

    Accepts what ``cx.complete`` accepts, plus ``tool`` messages (``{"role": "tool",
    "tool_call_id": ..., "content": ...}``), assistant messages carrying ``tool_calls``, and a
    :class:`Completion` (an assistant turn, with its tool calls).
    """
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, (Message, Completion, Mapping)):
        return [_message(prompt)]
    if isinstance(prompt, Sequence):
        messages = [_message(item) for item in prompt]
        if not messages:
            raise ConfigurationError("the conversation is empty: give at least one user message")
        if any(m["role"] == "system" for m in messages[1:]):
            raise ConfigurationError("a system message may only come first in the conversation")
        return messages
    raise ConfigurationError(
        f"prompt must be a string or a list of messages, not {type(prompt).__name__}"
    )


def _message(item: Any) -> dict[str, Any]:
    if isinstance(item, Message):
        return {"role": item.role, "content": item.content}
    if isinstance(item, Completion):
        return assistant_turn(item)
    if not isinstance(item, Mapping):
        raise ConfigurationError(f"invalid message of type {type(item).__name__}")
    message = {str(k): v for k, v in item.items()}
    role = message.get("role")
    if role not in _ROLES:
        raise ConfigurationError(
            f"invalid message role {role!r}",
            hint="A message is {'role': 'system' | 'user' | 'assistant' | 'tool', 'content': ...}.",
        )
    content = message.get("content")
    if content is None and not (role == "assistant" and message.get("tool_calls")):
        raise ConfigurationError(f"a {role} message needs a 'content'")
    if role == "tool" and not message.get("tool_call_id"):
        raise ConfigurationError("a tool message needs the 'tool_call_id' it answers")
    return message


def assistant_turn(completion: Completion[Any]) -> dict[str, Any]:
    """A completion as the assistant message to append to a conversation."""
    message: dict[str, Any] = {"role": "assistant", "content": completion.text}
    if completion.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for call in completion.tool_calls
        ]
    return message
