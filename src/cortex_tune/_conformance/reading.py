"""Reading an answer's form for the documentation-silent contract rows, never its content.

Each function here turns an answer into a short sentence about its *form* (an OBJECT or JSON
text, which keys, which usage key spelling, whether totals add up), which is what the contract
rows leave open. No sentence quotes a value.
"""

from __future__ import annotations

from typing import Any

from cortex_tune._conformance.shape import error_text, json_container, keys_of, python_type
from cortex_tune._core.errors import CortexError
from cortex_tune._core.parsing import parse_completion

#: The structured-output schema of every probe: its smallest valid answer is {"ok": true}.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
}


def as_object(answer: Any) -> dict[str, Any] | None:
    """The answer as a JSON object (decoded from text if need be), or None."""
    if isinstance(answer, dict):
        return answer
    decoded = json_container(answer)
    return decoded if isinstance(decoded, dict) else None


def text_form(answer: Any) -> str:
    """A plain string, JSON text, NULL, or another type."""
    if answer is None:
        return "NULL"
    if isinstance(answer, str):
        return "JSON text, not a plain string" if json_container(answer) else "a plain string"
    return f"a {python_type(answer)}"


def key_list(answer: Any) -> str:
    """``keys: a, b, c`` for an object, else what it is."""
    keys = keys_of(answer)
    return f"an object with keys {', '.join(keys)}" if keys else text_form(answer)


def usage_form(answer: Any) -> str:
    """How ``usage`` is spelled and whether ``total_tokens`` adds up (contract C-COMPLETE-05)."""
    data = as_object(answer) or {}
    usage = {str(k).lower(): v for k, v in (data.get("usage") or {}).items()}
    if not usage:
        return "no usage object"
    guard = sorted(k for k in usage if "guard" in k)
    parts = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
    total = usage.get("total_tokens")
    spelled = f"guard-token key {guard[0]!r}" if guard else "no guard-token key"
    if not all(isinstance(v, int) for v in [*parts, total]):
        return f"{spelled}; prompt/completion/total tokens not all integers"
    plain = sum(parts)  # type: ignore[arg-type]
    guarded = plain + sum(v for k, v in usage.items() if k in guard and isinstance(v, int))
    if total == plain:
        adds = "total_tokens = prompt + completion"
    elif total == guarded:
        adds = "total_tokens = prompt + completion + guard"
    else:
        adds = "total_tokens is not the sum of the parts"
    return f"{spelled}; {adds}"


def structured_form(answer: Any) -> str:
    """Which documented shape a structured answer has (contract C-COMPLETE-07, C-AI-04/05)."""
    data = as_object(answer)
    if data is None:
        return f"not an object: {text_form(answer)}"
    keys = {str(k).lower() for k in data}
    if "structured_output" in keys:
        inner = next(v for k, v in data.items() if str(k).lower() == "structured_output")
        if isinstance(inner, list) and inner and isinstance(inner[0], dict):
            return (
                "the structured_output wrapper: an array of {" + ", ".join(keys_of(inner[0])) + "}"
            )
        return f"the structured_output wrapper holding {text_form(inner)}"
    if "choices" in keys:
        return "the choices form (the schema was not applied)"
    if keys and keys <= set(SCHEMA["properties"]):
        return "the bare object following the schema"
    return key_list(data)


def value_form(answer: Any) -> str:
    """``value`` of a ``return_error_details`` answer: OBJECT, JSON text or NULL (C-AI-07)."""
    data = as_object(answer)
    if data is None:
        return f"no {{value, error}} object: {text_form(answer)}"
    value, error = data.get("value"), data.get("error")
    if isinstance(value, (dict, list)):
        return "value is an OBJECT"
    if isinstance(value, str):
        return "value is JSON text" if json_container(value) else "value is a plain string"
    if value is None:
        return "value is NULL, " + ("error is set" if error else "error is NULL too")
    return f"value is a {python_type(value)}"


def error_object_form(answer: Any) -> str:
    """An answer that should be ``{value, error}``: which keys it has (C-AI-06)."""
    data = as_object(answer)
    if data is None:
        return f"not an OBJECT: {text_form(answer)}"
    return f"an OBJECT with keys {', '.join(keys_of(data))}; {value_form(data)}"


def parses(value: Any, *, model: str, structured: bool) -> str:
    """Whether cortex-tune's own parser reads a detailed answer (the class of its error if not)."""
    try:
        parse_completion(
            value, model=model, detailed=True, response_format=SCHEMA if structured else None
        )
    except CortexError as exc:
        return type(exc).__name__
    return "parsed"


def inner_value(answer: Any) -> Any:
    """``value`` of a ``{value, error}`` answer (None when there is none)."""
    data = as_object(answer)
    return None if data is None else data.get("value")


def error_field(answer: Any) -> str:
    """The ``error`` text of a ``{value, error}`` answer to a probe's synthetic input, cut short."""
    data = as_object(answer) or {}
    error = data.get("error")
    return error_text(error) if isinstance(error, str) else text_form(error)
