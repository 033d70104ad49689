"""Models the emulator can answer with: user-registered callables and OpenAI-compatible endpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cortex_tune._core.errors import ConfigurationError


@dataclass(frozen=True)
class ModelRequest:
    """What a registered model is asked: the conversation and the options, exactly as sent.

    Attributes:
        model: The model name the statement named.
        messages: The conversation as ``{"role", "content"}`` dicts.
        options: The options object (temperature, max_tokens, response_format, ...).
    """

    model: str
    messages: list[dict[str, str]]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The last user message: for a plain prompt, the prompt itself."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message.get("content", "")
        return ""


#: A registered model: given the request, return the completion text (or a JSON value).
Responder = Callable[[ModelRequest], str | dict[str, Any] | list[Any]]


class OpenAIEndpoint:
    """A model served by an OpenAI-compatible ``/v1/chat/completions`` endpoint (Ollama, vLLM).

    Example:
        >>> OpenAIEndpoint("http://127.0.0.1:11434/v1", model="llama3.1")  # doctest: +SKIP
    """

    def __init__(self, base_url: str, *, model: str, timeout: float = 120.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"endpoint URL must start with http:// or https://: {base_url!r}"
            )
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout

    def __call__(self, request: ModelRequest) -> str:
        body: dict[str, Any] = {"model": self.model, "messages": request.messages}
        for key in ("temperature", "top_p", "max_tokens"):
            if key in request.options:
                body[key] = request.options[key]
        import urllib.request  # only endpoints need it; keep `import cortex_tune` light

        data = json.dumps(body).encode("utf-8")
        http = urllib.request.Request(
            self.url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(http, timeout=self.timeout) as response:
            answer = json.loads(response.read().decode("utf-8"))
        return str(answer["choices"][0]["message"]["content"])

    def __repr__(self) -> str:
        return f"OpenAIEndpoint({self.url!r}, model={self.model!r})"
