"""Snowflake identifier validation: the one place identifiers are checked and quoted."""

from __future__ import annotations

import re

from cortex_tune._core.errors import InvalidIdentifierError

_UNQUOTED = r"[A-Za-z_][A-Za-z0-9_$]{0,254}"
_QUOTED = r'"(?:[^"]|""){1,255}"'
_PART = rf"(?:{_UNQUOTED}|{_QUOTED})"
_NAME_RE = re.compile(rf"{_PART}(?:\.{_PART}){{0,2}}")
_SIMPLE_RE = re.compile(_UNQUOTED)
# FINETUNE('CREATE') names the model more strictly than Snowflake names objects in general:
# "Letters, underscores, decimal digits (0-9) are allowed in the identifier. In addition, the
# identifier must start with an alphabetic character and cannot contain spaces or special
# characters unless the entire identifier string is enclosed in double quotes."
# The database and schema in front of it (the guide's 'mydb.myschema.my_tuned_model') name
# objects that already exist, under the general rules.
_MODEL_UNQUOTED = r"[A-Za-z][A-Za-z0-9_]{0,254}"
_MODEL_RE = re.compile(rf"(?:{_PART}\.){{0,2}}(?:{_MODEL_UNQUOTED}|{_QUOTED})")


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


def validate_model_name(name: str) -> str:
    """Return ``name`` if FINETUNE('CREATE') accepts it as the fine-tuned model's name.

    The model's own name is letters, digits and underscores starting with a letter, or any
    double-quoted text; it may be qualified with a database and schema (``DB.SCHEMA.MY_MODEL``).
    Raises :class:`InvalidIdentifierError` otherwise, before any I/O.
    """
    if not isinstance(name, str) or "\x00" in name or not _MODEL_RE.fullmatch(name):
        raise InvalidIdentifierError(
            f"invalid model name {name!r}: expected a Snowflake identifier as FINETUNE accepts "
            "it, letters, digits and underscores starting with a letter (MY_MODEL, "
            'DB.SCHEMA.MY_MODEL), or a "Quoted name"',
            hint="Start the name with a letter and use only letters, digits and underscores, "
            "or double-quote it.",
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
