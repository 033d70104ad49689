"""Errors raised by the emulator's Cortex functions, shaped like Snowflake's."""

from __future__ import annotations

import re

# Snowflake's numbers for these conditions where known; Cortex-specific ones are not
# documented, so cortex-tune never keys logic on them (it reads the text).
ERRNO_FUNCTION = 100351
ERRNO_NOT_FOUND = 2003
ERRNO_INVALID_ARG = 1044
SQLSTATE_FUNCTION = "P0000"
SQLSTATE_NOT_FOUND = "02000"
SQLSTATE_INVALID_ARG = "22023"
ERRNO_CONSTANT = 2077
SQLSTATE_COMPILATION = "42601"

_ENCODED = re.compile(r"^\[cortex-emulator (\d+) (\w{5})\] (.*)$", re.S)


class EngineError(Exception):
    """An error a Cortex function raises, with Snowflake's errno and SQLSTATE."""

    def __init__(
        self, msg: str, *, errno: int = ERRNO_FUNCTION, sqlstate: str = SQLSTATE_FUNCTION
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.errno = errno
        self.sqlstate = sqlstate

    def encode(self) -> str:
        """The error as one line of text that survives an engine boundary (see :func:`decode`)."""
        return f"[cortex-emulator {self.errno} {self.sqlstate}] {self.msg}"

    def to_connector_error(self, sfqid: str | None = None) -> Exception:
        """The same error as the connector's ``ProgrammingError``, as a real account raises it."""
        from snowflake.connector.errors import ProgrammingError

        error: Exception = ProgrammingError(
            msg=self.msg,
            errno=self.errno,
            sqlstate=self.sqlstate,
            sfqid=sfqid,
            send_telemetry=False,
        )
        return error


def decode(text: str) -> EngineError | None:
    """The EngineError encoded somewhere in ``text`` by :meth:`EngineError.encode`, if any."""
    start = text.find("[cortex-emulator ")
    if start < 0:
        return None
    match = _ENCODED.match(text[start:])
    if match is None:
        return None
    return EngineError(match.group(3), errno=int(match.group(1)), sqlstate=match.group(2))


def bound_argument_refused(function: str) -> EngineError:
    """The refusal of an account that takes only constants as ``function``'s arguments.

    Snowflake documents FINETUNE with literal arguments only and is silent on binds; this is
    the emulator's stand-in for a refusal, so that cortex-tune's literal fallback is tested.
    """
    return EngineError(
        f"SQL compilation error: argument 1 to function {function} needs to be constant, found '?'",
        errno=ERRNO_CONSTANT,
        sqlstate=SQLSTATE_COMPILATION,
    )


def unknown_model(name: str) -> EngineError:
    """Cortex's ``unknown model`` error, with the emulator's hint."""
    return EngineError(
        f'unknown model "{name}" (cortex-tune emulator: base models are not available offline; '
        "register a stand-in with register_model(name, fn) or an OpenAI-compatible endpoint)"
    )


def invalid_options(reason: str) -> EngineError:
    """Cortex's ``invalid options object`` error."""
    return EngineError(f"invalid options object: {reason}")


def invalid_argument(reason: str) -> EngineError:
    """A bad argument to a Cortex function."""
    return EngineError(reason, errno=ERRNO_INVALID_ARG, sqlstate=SQLSTATE_INVALID_ARG)
