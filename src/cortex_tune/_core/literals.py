"""Snowflake string literals: the one quoting function, for the rare statement that refuses binds.

cortex-tune binds every value. Snowflake documents FINETUNE with literal arguments only, so if an
account refuses a bound argument there, the FINETUNE statements are re-sent with literals made
here and nowhere else. In a single-quoted Snowflake string constant a backslash starts an escape
sequence and a single quote ends the string; escaping exactly those two characters (``\\`` ->
``\\\\``, ``'`` -> ``\\'``) leaves every other character, newlines and Unicode included, to stand
for itself. NUL cannot be represented faithfully and is refused.
"""

from __future__ import annotations

from cortex_tune._core.errors import ConfigurationError

_ESCAPES = {"\\": "\\\\", "'": "\\'"}


def quote_literal(value: str) -> str:
    """``value`` as a single-quoted Snowflake string constant that reads back byte for byte.

    Example:
        >>> print(quote_literal("it's C:\\\\temp"))
        'it\\'s C:\\\\temp'

    Raises:
        ConfigurationError: ``value`` is not a string, or holds a NUL character.
    """
    if not isinstance(value, str):
        raise ConfigurationError(
            f"only strings can be quoted as literals, not {type(value).__name__}"
        )
    if "\x00" in value:
        raise ConfigurationError(
            "a NUL character cannot travel in a Snowflake string literal",
            hint="Remove NUL characters from the value.",
        )
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in value) + "'"


def unquote_literal(text: str) -> str:
    """The value of a literal made by :func:`quote_literal` (its exact inverse).

    Only the two escapes :func:`quote_literal` writes are read; anything else is refused.

    Raises:
        ValueError: ``text`` is not a literal :func:`quote_literal` could have made.
    """
    if len(text) < 2 or text[0] != "'" or text[-1] != "'":
        raise ValueError(f"not a single-quoted literal: {text[:40]!r}")
    out: list[str] = []
    body = iter(text[1:-1])
    for ch in body:
        if ch == "'":
            raise ValueError("unescaped single quote inside a literal")
        if ch == "\\":
            nxt = next(body, "")
            if nxt not in _ESCAPES:
                raise ValueError(f"unexpected escape \\{nxt}")
            out.append(nxt)
        else:
            out.append(ch)
    return "".join(out)
