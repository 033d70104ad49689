"""How ``cortex-tune`` runs a command line: global options, output, and the one error handler.

Every exception of a run, a typed cortex-tune error, a command-line mistake, Ctrl-C or a bug,
ends in :func:`handle`: it prints the message and the hint on stderr (or, with ``--json``, one
JSON document on stdout) and returns the exit code. Tracebacks appear only with ``--debug``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from cortex_tune._cli.args import Settings, split_globals
from cortex_tune._cli.hints import cli_hint, cli_report
from cortex_tune._core import errors as e

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_JOB_FAILED, EXIT_JOB_CANCELLED, EXIT_TIMEOUT, EXIT_CHECK, EXIT_CONNECTION = 3, 4, 5, 6, 7
EXIT_INTERRUPTED = 130

#: The exit code of each error class; the first match wins (subclasses first).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (e.PreflightError, EXIT_CHECK),
    (e.ConnectionFailedError, EXIT_CONNECTION),
    (e.ConfigurationError, EXIT_USAGE),
    (e.InvalidOptionsError, EXIT_USAGE),  # out-of-range options, whichever layer refuses them
    (e.WaitTimeoutError, EXIT_TIMEOUT),
    (e.JobCancelledError, EXIT_JOB_CANCELLED),
    (e.JobFailedError, EXIT_JOB_FAILED),
    (KeyboardInterrupt, EXIT_INTERRUPTED),
    (typer.Abort, EXIT_INTERRUPTED),
)

GLOBALS_EPILOG = (
    "Global options, before or after the command: --json, --local [PATH], "
    "--connection NAME (-c), --debug. See cortex-tune --help."
)


class _Help:
    """Help that shows no type for flags (they take no value) and ends with the global options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("epilog"):
            kwargs["epilog"] = GLOBALS_EPILOG
        super().__init__(*args, **kwargs)

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_Help, TyperCommand):
    """A ``cortex-tune`` command."""


class Group(_Help, TyperGroup):
    """A group of commands (``cortex-tune jobs``)."""


class Root(Group):
    """The ``cortex-tune`` group: lifts the global options, runs, and handles every error."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        settings, argv = split_globals(self, list(sys.argv[1:] if args is None else args))
        settings.stdout = sys.stdout
        if settings.debug:
            logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
        # With --json the one document goes to the real stdout; anything else printed
        # (the demo's narrative, a library's print) goes to stderr.
        quiet = (
            contextlib.redirect_stdout(sys.stderr) if settings.json else contextlib.nullcontext()
        )
        with quiet, _warnings_in_one_line(settings.debug):
            try:
                if settings.problem:
                    raise CommandLineError(settings.problem)
                code = super().main(
                    argv,
                    prog_name or "cortex-tune",
                    complete_var,
                    standalone_mode=False,
                    obj=settings,
                    **extra,
                )
                code = code if isinstance(code, int) else EXIT_OK  # typer.Exit gives its code
            except (Exception, KeyboardInterrupt) as exc:
                code = handle(settings, exc)
        if settings.json and not settings.emitted and code != EXIT_OK:
            # the command ended on its own exit code without a result (e.g. typer's Ctrl-C)
            kind = "Interrupted" if code == EXIT_INTERRUPTED else "CommandFailed"
            _emit_error(settings, kind, "the command did not finish (see stderr)", None, code)
        if standalone_mode:
            sys.exit(code)
        return code


@contextlib.contextmanager
def _warnings_in_one_line(debug: bool) -> Iterator[None]:
    """Without --debug, a warning prints as one line (``warning: ...``) on stderr, without the
    cortex-tune source line Python shows by default."""
    if debug:
        yield
        return
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        yield


def _show_warning(message: Warning | str, *args: Any, **kwargs: Any) -> None:
    print(f"warning: {message}", file=sys.stderr)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of the run ``ctx`` belongs to."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


def emit(settings: Settings, data: Any, text: str) -> None:
    """Print the run's result: ``data`` as one JSON document with --json, else ``text``."""
    if settings.json:
        if settings.emitted:
            raise RuntimeError("a run prints one JSON document")
        text = json.dumps(data, indent=2, sort_keys=True, default=_json_value)
        settings.stdout.write(text + "\n")
        settings.stdout.flush()
        settings.emitted = True
    else:
        typer.echo(text)


class CommandLineError(Exception):
    """A command line cortex-tune refuses (exit 2), shown like the parser's own mistakes.

    Attributes:
        where: The command whose ``--help`` explains the usage.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, where: str = "cortex-tune") -> None:
        super().__init__(message)
        self.where = where

    def format_message(self) -> str:
        """The message, as click's usage errors spell it."""
        return str(self)


def _json_value(value: Any) -> Any:
    """Decimals as JSON numbers when that loses nothing (else text); dates in ISO 8601."""
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return int(value)
        if Decimal(repr(float(value))) == value:
            return float(value)
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


def usage_error(message: str, *, where: str = "cortex-tune") -> NoReturn:
    """Refuse the command line (exit 2); ``where`` is the command to ask ``--help`` of."""
    raise CommandLineError(message, where=where)


# -- the one handler -----------------------------------------------------------------------------


def handle(settings: Settings, exc: BaseException) -> int:
    """Report ``exc`` (stderr, or one JSON document with --json); return the exit code."""
    if settings.debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if _is_command_line_error(exc):
        return _usage(settings, exc)
    code = next((c for cls, c in EXIT_CODES if isinstance(exc, cls)), EXIT_ERROR)
    if isinstance(exc, e.CortexError):
        kind, message, query_id = type(exc).__name__, exc.message, exc.query_id
        hint = cli_hint(exc)
    elif isinstance(exc, (KeyboardInterrupt, typer.Abort)):
        kind, message, query_id, hint = "Interrupted", "interrupted", None, None
    else:  # a bug: say so, and how to see more
        kind, message, query_id = type(exc).__name__, str(exc) or type(exc).__name__, None
        hint = "This is unexpected: run again with --debug and report the traceback."
    if settings.json:
        _emit_error(settings, kind, message, hint, code, query_id=query_id, **_extras(exc))
        return code
    report = getattr(exc, "report", None)
    if isinstance(exc, e.PreflightError) and report is not None:
        typer.echo(str(cli_report(report)), err=True)
    _print_error(kind, message, hint, query_id)
    return code


def _is_command_line_error(exc: BaseException) -> bool:
    """A click/typer usage error (``No such option``, a bad value, a missing argument)."""
    return callable(getattr(exc, "format_message", None)) and isinstance(
        getattr(exc, "exit_code", None), int
    )


def _usage(settings: Settings, exc: Any) -> int:
    code: int = exc.exit_code
    if type(exc).__name__ == "NoArgsIsHelpError" and not settings.json:
        typer.echo(exc.format_message(), err=True)  # the help itself
        return code
    ctx = getattr(exc, "ctx", None)
    where = getattr(exc, "where", None) or (ctx.command_path if ctx else "cortex-tune")
    hint = f"See '{where} --help'."
    kind = "UsageError" if code == EXIT_USAGE else "Error"
    message = exc.format_message() or "missing command"
    if settings.json:
        _emit_error(settings, kind, message, hint, code)
    else:
        _print_error(kind, message, hint, None)
    return code


def _extras(exc: BaseException) -> dict[str, Any]:
    """What some errors add to their JSON document: the report, the marker, the job."""
    extras: dict[str, Any] = {}
    if isinstance(exc, e.PreflightError):
        extras["report"] = cli_report(exc.report).to_dict()
    if isinstance(exc, e.AmbiguousCreateError):
        extras["marker"] = exc.marker
    job = getattr(exc, "job", None)
    if isinstance(exc, (e.WaitTimeoutError, e.JobFailedError)) and job is not None:
        extras["job"] = job_dict(job)
    return extras


def _print_error(kind: str, message: str, hint: str | None, query_id: str | None) -> None:
    typer.echo(f"error: {kind}: {message}", err=True)
    if query_id:
        typer.echo(f"query id: {query_id}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)


def _emit_error(
    settings: Settings,
    kind: str,
    message: str,
    hint: str | None,
    code: int,
    *,
    query_id: str | None = None,
    **extras: Any,
) -> None:
    if settings.emitted:  # the result is out already; one document only
        _print_error(kind, message, hint, query_id)
        return
    error: dict[str, Any] = {"type": kind, "message": message, "hint": hint}
    error.update(query_id=query_id, exit_code=code, **extras)
    emit(settings, {"error": error}, message)


def job_dict(job: Any) -> dict[str, Any]:
    """A job as JSON data, its status as Snowflake spelled it."""
    data: dict[str, Any] = job.model_dump(mode="json", exclude={"raw"})
    data["status"] = job.status_raw or job.status.value
    return data
