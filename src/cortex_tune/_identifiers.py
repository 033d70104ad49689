"""Snowflake identifier validation: the one place identifiers are checked and quoted."""

from __future__ import annotations

import re

from cortex_tune._errors import InvalidIdentifierError

_UNQUOTED = r"[A-Za-z_][A-Za-z0-9_$]{0,254}"
_QUOTED = r'"(?:[^"]|""){1,255}"'
_PART = rf"(?:{_UNQUOTED}|{_QUOTED})"
_NAME_RE = re.compile(rf"{_PART}(?:\.{_PART}){{0,2}}")
_SIMPLE_RE = re.compile(_UNQUOTED)


def validate_name(name: str, *, what: str = "name") -> str:
    """Return ``name`` if it is a valid, optionally qualified, Snowflake identifier.

    Accepts ``name``, ``schema.name``, ``db.schema.name`` and double-quoted parts
    (``"My ""odd"" name"``). Raises :class:`InvalidIdentifierError` otherwise, before any I/O.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or "\x00" in name:
        raise InvalidIdentifierError(
            f"invalid {what} {name!r}: expected a Snowflake identifier such as MY_MODEL, "
            'DB.SCHEMA.MY_MODEL or "Quoted Name"',
            hint="Use letters, digits and underscores starting with a letter or underscore, "
            "or double-quote the name.",
        )
    return name


def quote_column(name: str) -> str:
    """Render a single column identifier for SQL text, validated first.

    An unquoted identifier is kept as written (Snowflake upper-cases it); a quoted one is kept
    quoted. Anything else is refused.
    """
    if _SIMPLE_RE.fullmatch(name):
        return name
    if re.fullmatch(_QUOTED, name):
        return name
    raise InvalidIdentifierError(
        f"invalid column name {name!r}",
        hint='Use a plain identifier such as BODY, or a double-quoted one such as "Body".',
    )


def split_name(name: str) -> list[str]:
    """Split a validated, possibly qualified identifier into its parts (quotes kept)."""
    validate_name(name)
    return [m.group(0) for m in re.finditer(_PART, name)]


def normalise_part(part: str) -> str:
    """The name Snowflake resolves ``part`` to: upper-cased unless quoted."""
    if part.startswith('"'):
        return part[1:-1].replace('""', '"')
    return part.upper()
