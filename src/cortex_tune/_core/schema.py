"""Turn a pydantic model or JSON schema into a schema Cortex structured output accepts."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from cortex_tune._core.errors import ConfigurationError

# Keywords Cortex refuses in a response_format schema (AI_COMPLETE structured outputs).
_UNSUPPORTED = frozenset(
    {
        "multipleOf",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "format",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "minItems",
        "maxItems",
        "patternProperties",
        "minProperties",
        "maxProperties",
        "propertyNames",
        "title",
        "default",
        "examples",
    }
)


def to_cortex_schema(response_format: Any) -> dict[str, Any]:
    """A JSON schema Cortex accepts, from a pydantic model class or a JSON-schema mapping.

    Unsupported keywords are removed; every object lists all its properties as ``required``
    and sets ``additionalProperties: false`` (OpenAI-family models need both; others accept
    them).
    """
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        schema: Any = response_format.model_json_schema()
    elif isinstance(response_format, Mapping):
        schema = copy.deepcopy(dict(response_format))
        if schema.get("type") == "json" and "schema" in schema:
            schema = schema["schema"]
    else:
        raise ConfigurationError(
            "response_format must be a pydantic model class or a JSON schema dict, "
            f"not {type(response_format).__name__}"
        )
    cleaned = _clean(schema)
    if not isinstance(cleaned, dict) or not cleaned:
        raise ConfigurationError("response_format schema is empty")
    return cleaned


def _clean(node: Any) -> Any:
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _UNSUPPORTED:
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: _clean(sub) for name, sub in value.items()}
        else:
            out[key] = _clean(value)
    if out.get("type") == "object" and isinstance(out.get("properties"), dict):
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out
