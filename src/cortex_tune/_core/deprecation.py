"""Warnings about Snowflake functions that Snowflake has announced for deprecation.

cortex-tune warns once per process per function, the first time one of its own statements
calls such a function, with the documented date and the way out. The category,
:class:`LegacyFunctionWarning`, is a :class:`FutureWarning` (shown by default, meant for
end users), so it can be filtered::

    import warnings
    from cortex_tune import LegacyFunctionWarning

    warnings.simplefilter("ignore", LegacyFunctionWarning)
"""

from __future__ import annotations

import os
import re
import sys
import threading
import warnings
from dataclasses import dataclass

from cortex_tune._core.statement import Statement


class LegacyFunctionWarning(FutureWarning):
    """A call used a Snowflake function announced for deprecation (once per process each)."""


@dataclass(frozen=True)
class Notice:
    """One announced deprecation: what, when, and the way out."""

    function: str
    when: str
    way_out: str

    def text(self) -> str:
        """The warning's text."""
        return f"{self.function} {self.when}. {self.way_out}"


_COMPLETE = Notice(
    "SNOWFLAKE.CORTEX.COMPLETE / TRY_COMPLETE",
    "is a legacy function that Snowflake will deprecate by the end of 2026 (behavior change "
    "bundle 2026_08 removes it from accounts that did not use it between 2026-07-09 and "
    "2026-10-06)",
    "Way out: Cortex(functions='ai') for single prompts (AI_COMPLETE), and a programmatic access "
    "token or key pair for conversations, which then go through Cortex's Chat Completions REST "
    "API (see transport= in the docs).",
)
_COUNT_TOKENS = Notice(
    "SNOWFLAKE.CORTEX.COUNT_TOKENS",
    "is a legacy function that Snowflake will deprecate by the end of 2026",
    "Way out: Cortex(functions='ai') counts with AI_COUNT_TOKENS.",
)
_FINETUNE = Notice(
    "SNOWFLAKE.CORTEX.FINETUNE",
    "is scheduled by Snowflake for deprecation in Q1 2027",
    "Way out: Snowflake names Cortex Training as its successor.",
)

# Statements of the client's own verbs only: raw SQL (cx.sql) and the doctor's probes are the
# user's explicit choice.
_LEGACY_SQL = re.compile(r"SNOWFLAKE\.CORTEX\.(TRY_COMPLETE|COMPLETE|COUNT_TOKENS)\s*\(")
_QUIET_OPS = frozenset({"sql", "doctor"})

_warned: set[str] = set()
_lock = threading.Lock()


def notice_for(statement: Statement) -> Notice | None:
    """The deprecation notice a statement falls under, if any."""
    if statement.op in _QUIET_OPS:
        return None
    if statement.op.startswith("finetune."):
        return _FINETUNE
    match = _LEGACY_SQL.search(statement.sql)
    if match is None:
        return None
    return _COUNT_TOKENS if match.group(1) == "COUNT_TOKENS" else _COMPLETE


def warn_for(statement: Statement) -> None:
    """Warn (once per process per function) when ``statement`` calls a deprecated function.

    The warning names the first line outside cortex-tune: the user's call.
    """
    notice = notice_for(statement)
    if notice is None:
        return
    with _lock:
        if notice.function in _warned:
            return
        _warned.add(notice.function)
    warnings.warn(notice.text(), LegacyFunctionWarning, stacklevel=_outside_stacklevel())


def _outside_stacklevel() -> int:
    """The ``stacklevel`` of the nearest caller outside the cortex_tune package."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = sys._getframe(1)  # the function calling this one: stacklevel 1 of its warn()
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level
