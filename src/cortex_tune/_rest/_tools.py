"""Tools for tool calling: from Python functions or pydantic models, and the loop that runs them.

A function becomes a tool named after it, described by its docstring, whose parameters
are its arguments (types from the annotations, validated by pydantic). A pydantic model
becomes a tool whose arguments are the model's fields: the model's answer is then a typed
object on ``ToolCall.parsed``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ValidationError, create_model

from cortex_tune._core.errors import ConfigurationError, CortexError
from cortex_tune._core.models import Completion, ToolCall


@dataclass(frozen=True)
class Tool:
    """A tool the model may call.

    Attributes:
        name: The name the model calls it by.
        description: What it does (the model reads this).
        arguments: The pydantic model its arguments are validated into.
        fn: The Python function that runs it, when there is one.
    """

    name: str
    description: str
    arguments: type[BaseModel]
    fn: Callable[..., Any] | None = field(default=None, compare=False)

    def schema(self) -> dict[str, Any]:
        """The Chat Completions ``tools`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.arguments.model_json_schema(),
            },
        }

    def parse(self, call: ToolCall) -> BaseModel:
        """The call's arguments validated into :attr:`arguments`."""
        return self.arguments.model_validate(call.arguments)

    def run(self, call: ToolCall) -> Any:
        """Run :attr:`fn` with the call's validated arguments."""
        if self.fn is None:
            raise ConfigurationError(
                f"tool {self.name!r} has no function to run",
                hint="Read the typed call from completion.tool_calls[i].parsed instead.",
            )
        parsed = self.parse(call)
        return self.fn(**{name: getattr(parsed, name) for name in type(parsed).model_fields})


def tool(obj: Any, *, name: str | None = None, description: str | None = None) -> Tool:
    """A :class:`Tool` from a function, a pydantic model class, or a Tool (returned as is).

    Example:
        >>> def get_weather(city: str, unit: str = "celsius") -> str:
        ...     '''The weather in a city right now.'''
        ...     return f"18 degrees in {city}"
        >>> tool(get_weather).schema()["function"]["name"]
        'get_weather'
    """
    if isinstance(obj, Tool):
        return obj
    if isinstance(obj, type) and issubclass(obj, BaseModel):
        return Tool(
            name=name or obj.__name__,
            description=description or inspect.getdoc(obj) or obj.__name__,
            arguments=obj,
        )
    if callable(obj):
        fn_name = name or getattr(obj, "__name__", None)
        if not fn_name or fn_name == "<lambda>":
            raise ConfigurationError("a tool function needs a name: use def, or pass name=")
        return Tool(
            name=fn_name,
            description=description or _summary(obj) or fn_name,
            arguments=_arguments_model(obj, fn_name),
            fn=obj,
        )
    raise ConfigurationError(
        f"a tool is a function, a pydantic model class or a Tool, not {type(obj).__name__}"
    )


def tools_of(items: Sequence[Any]) -> list[Tool]:
    """Tools from functions, models or Tools; names must be unique."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ConfigurationError("tools must be a list of functions, pydantic models or Tools")
    found = [tool(item) for item in items]
    names = [t.name for t in found]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"tool names must be unique: {names}")
    return found


def _summary(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(fn) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def _arguments_model(fn: Callable[..., Any], name: str) -> type[BaseModel]:
    signature = inspect.signature(fn)
    try:
        hints = get_type_hints(fn)
    except Exception:  # unresolvable annotations: fall back to Any
        hints = {}
    fields: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigurationError(f"tool {name!r}: *args and **kwargs cannot be described")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints.get(param.name, Any), default)
    model: type[BaseModel] = create_model(name, **fields)
    return model


def with_parsed_calls(completion: Completion[Any], tools: Sequence[Tool]) -> Completion[Any]:
    """The completion with each tool call's arguments validated into its tool's model.

    A call whose arguments do not validate keeps ``parsed=None`` (the loop tells the model).
    """
    if not completion.tool_calls:
        return completion
    by_name = {t.name: t for t in tools}
    calls = []
    for call in completion.tool_calls:
        known = by_name.get(call.name)
        parsed = None
        if known is not None:
            try:
                parsed = known.parse(call)
            except ValidationError:
                parsed = None
        calls.append(call.model_copy(update={"parsed": parsed}))
    return completion.model_copy(update={"tool_calls": calls})


@dataclass(frozen=True)
class ToolResult:
    """One tool call made during :meth:`Cortex.run_tools`, and what the tool returned."""

    call: ToolCall
    output: Any


@dataclass(frozen=True)
class ToolRun:
    """The end of a tool loop.

    Attributes:
        completion: The model's final answer (no more tool calls).
        messages: The whole conversation, tool calls and results included; pass it back to
            continue the conversation.
        calls: Every tool call made, in order, with its output.
    """

    completion: Completion[Any]
    messages: list[dict[str, Any]]
    calls: list[ToolResult]

    @property
    def text(self) -> str:
        """The final answer's text."""
        return self.completion.text


class ToolLoopError(CortexError):
    """:meth:`Cortex.run_tools` reached its step limit before the model gave a final answer.

    Attributes:
        messages: The conversation so far.
    """

    default_hint = "Raise max_steps, or check that the tools answer what the model asks."

    def __init__(self, message: str, *, messages: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.messages = messages


def answer_call(call: ToolCall, by_name: dict[str, Tool]) -> tuple[Any, str]:
    """Run one call; return (output, the tool message content the model reads).

    An unknown tool or arguments that do not validate are told to the model, which may try
    again; an exception raised by the tool itself propagates.
    """
    known = by_name.get(call.name)
    if known is None:
        return None, f"error: there is no tool named {call.name!r}"
    try:
        output = known.run(call)
    except ValidationError as exc:
        return None, f"error: invalid arguments for {call.name}: {exc.errors()[0]['msg']}"
    return output, _content(output)


def _content(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, BaseModel):
        return output.model_dump_json()
    return json.dumps(output, ensure_ascii=False, default=str)
