"""What an answer looks like, without what it says: types and JSON keys, never values.

A conformance report is meant to be attached to a public bug report, so it describes each answer
by its *skeleton*: the JSON keys (recursively) with the type of every leaf in place of its value.
A string that itself holds a JSON object or array is shown as ``{"$json_text": <skeleton>}``, so a
nested answer serialised as text (contract row C-AI-07, answer B) is visible at a glance.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

#: The marker key for a string holding JSON (Snowflake's JSON keys never start with ``$``).
JSON_TEXT = "$json_text"
#: Elements of a list looked at when describing it (answers here are small).
_LIST_SAMPLE = 50
#: Error texts kept in a report are cut to this many characters.
ERROR_TEXT_LIMIT = 300
REDACTED = "<redacted>"


def json_container(value: Any) -> dict[str, Any] | list[Any] | None:
    """``value`` decoded when it is JSON text holding an object or an array, else None."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or not value.lstrip().startswith(("{", "[")):
        return None
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, (dict, list)) else None


def skeleton(value: Any) -> Any:
    """The keys and leaf types of ``value``; values themselves never appear.

    Example:
        >>> skeleton({"value": '{"choices": [{"messages": "hi"}]}', "error": None})
        {'error': 'null', 'value': {'$json_text': {'choices': [{'messages': 'str'}]}}}
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (str, bytes, bytearray)):
        decoded = json_container(value)
        return "str" if decoded is None else {JSON_TEXT: skeleton(decoded)}
    if isinstance(value, dict):
        return {str(k): skeleton(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return _merge_elements([skeleton(item) for item in value[:_LIST_SAMPLE]])
    return type(value).__name__


def _merge_elements(shapes: list[Any]) -> list[Any]:
    """Distinct element shapes; objects are merged into one with the union of their keys."""
    objects = [s for s in shapes if isinstance(s, dict) and JSON_TEXT not in s]
    others: list[Any] = []
    for s in shapes:
        if s not in objects and s not in others:
            others.append(s)
    if not objects:
        return others
    merged: dict[str, Any] = {}
    for obj in objects:
        for key, sub in obj.items():
            merged.setdefault(key, sub)
    return [dict(sorted(merged.items())), *others]


def python_type(value: Any) -> str:
    """The Python type name of an answer as the backend returned it."""
    return type(value).__name__ if value is not None else "NoneType"


def keys_of(value: Any) -> list[str]:
    """The top-level keys of an object (decoded from JSON text if need be), sorted."""
    data = json_container(value) if not isinstance(value, dict) else value
    return sorted(str(k) for k in data) if isinstance(data, dict) else []


def base_sql_type(typeof: Any) -> str | None:
    """``OBJECT`` from ``OBJECT[LOB]``, ``VARCHAR`` from ``VARCHAR(16777216)[LOB]``."""
    if not isinstance(typeof, str):
        return None
    match = re.match(r"[A-Za-z_]+", typeof.strip())
    return match.group(0).upper() if match else None


def scrub(data: Any, sensitive: Iterable[str]) -> Any:
    """``data`` with every occurrence of a sensitive string replaced, at any depth.

    The report is built from shapes and names only; this is the second line of defence for
    anything that echoes an input (an error text quoting a prompt, say).
    """
    needles = sorted({s for s in sensitive if isinstance(s, str) and len(s) >= 4}, key=len)
    needles.reverse()  # the longest first, so a secret containing another is replaced whole
    return _scrub(data, needles)


def _scrub(data: Any, needles: list[str]) -> Any:
    if isinstance(data, str):
        for needle in needles:
            data = data.replace(needle, REDACTED)
        return data
    if isinstance(data, dict):
        return {_scrub(k, needles): _scrub(v, needles) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_scrub(item, needles) for item in data]
    return data


def error_text(message: str) -> str:
    """An error message on one line, cut to a short length."""
    message = " ".join(message.split())
    return message if len(message) <= ERROR_TEXT_LIMIT else message[: ERROR_TEXT_LIMIT - 3] + "..."
