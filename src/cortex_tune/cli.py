"""The ``cortex-tune`` command line: the library's verbs for shells, schedulers and CI.

Global options work before or after the command (``cortex-tune jobs list --json``):
``--json``, ``--local [PATH]``, ``--connection NAME`` (``-c``), ``--debug``.

Exit codes a script can rely on:

====  =====================================================================
0     success
1     any other error (a query Snowflake refused, a bad answer)
2     usage error: bad options or arguments, values out of range
      (``--temperature 5``, ``--max-tokens 0`` or ``8193``), several SQL statements
3     the job ended in ERROR (the run FAILED)
4     the job (the run) was CANCELLED
5     ``jobs wait`` / ``create --wait`` / ``runs wait`` timed out (the job, the run goes on)
6     the preflight check found errors
7     cannot connect or log in
130   interrupted (Ctrl-C)
====  =====================================================================

With ``--json`` stdout carries exactly one JSON document, whatever happens: the command's
result, or ``{"error": {"type", "message", "hint", "query_id", "exit_code"}}``. ``type`` is the
cortex-tune error class (``JobNotFoundError``), ``UsageError`` for a bad command line, or
``Interrupted``; some errors add a key: ``report`` (PreflightError), ``marker``
(AmbiguousCreateError), ``job`` (WaitTimeoutError). Without ``--json`` errors go to stderr as
``error: TYPE: message`` and ``hint: ...`` lines. No traceback unless ``--debug``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from cortex_tune._cli import chat as _cli_chat
from cortex_tune._cli import runs as _cli_runs
from cortex_tune._cli.args import Settings
from cortex_tune._cli.core import (
    EXIT_CHECK,
    EXIT_CONNECTION,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_JOB_CANCELLED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    Command,
    Group,
    Root,
    emit,
    job_dict,
    settings_of,
    usage_error,
)
from cortex_tune._cli.hints import cli_report
from cortex_tune._cli.jobs import job_exit, job_text, progress_for
from cortex_tune._version import __version__

__all__ = [
    "EXIT_CHECK",
    "EXIT_CONNECTION",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_JOB_CANCELLED",
    "EXIT_JOB_FAILED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "app",
    "main",
]

T = TypeVar("T")

app = typer.Typer(
    name="cortex-tune",
    help="Fine-tune and serve LLMs with Snowflake Cortex, or offline on the embedded emulator.",
    epilog=(
        "Exit codes: 0 success; 1 error; 2 usage (bad options or arguments, values out of range); "
        "3 job ERROR; 4 job CANCELLED; 5 wait timed out; 6 preflight errors; 7 cannot connect or "
        "log in; 130 interrupted. With --json stdout is one JSON document, errors included: "
        '{"error": {"type", "message", "hint", "query_id", "exit_code"}}.'
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Root,
)
jobs_app = typer.Typer(
    help="List, describe, cancel and wait for fine-tuning jobs.", no_args_is_help=True, cls=Group
)
app.add_typer(jobs_app, name="jobs")


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        emit(settings_of(ctx), {"version": __version__}, __version__)
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    connection: str = typer.Option(
        None, "--connection", "-c", help="A connection name from connections.toml."
    ),
    local: str = typer.Option(
        None,
        "--local",
        help="Use the embedded emulator, keeping jobs under PATH (default .cortex-local); "
        "wins over --connection.",
        metavar="[PATH]",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print exactly one JSON document on stdout (errors too)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and DEBUG logs."),
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_version
    ),
) -> None:
    """Fine-tune and serve LLMs with Snowflake Cortex.

    Connects like the Snowflake connector: --connection NAME, else the default connection of
    connections.toml (SNOWFLAKE_DEFAULT_CONNECTION_NAME), else SNOWFLAKE_* variables. The
    global options work before or after the command.
    """
    # Root.main lifts the global options from anywhere on the line before parsing; they are
    # declared here for --help, and read here only when the app runs without Root.main.
    if not isinstance(ctx.obj, Settings):
        ctx.obj = Settings(connection=connection, local=local, json=as_json, debug=debug)


def _client(settings: Settings) -> Any:
    from cortex_tune._client.cortex import Cortex

    if settings.local_path is not None:
        return Cortex.local(settings.local_path)
    return Cortex.connect(settings.connection)


def _run(ctx: typer.Context, action: Callable[[Any], T]) -> T:
    """Open the client, run ``action`` on it and close it (errors go to the one handler)."""
    with _client(settings_of(ctx)) as cx:
        return action(cx)


@jobs_app.command("list", cls=Command)
def jobs_list(ctx: typer.Context) -> None:
    """List fine-tuning jobs (FINETUNE('SHOW'))."""
    jobs = _run(ctx, lambda cx: cx.finetune.list())
    lines = [f"{'ID':<44} {'STATUS':<12} {'BASE MODEL':<14} CREATED"]
    lines += [
        f"{j.id:<44} {j.status_raw or j.status.value:<12} {j.base_model or '':<14} {j.created_on or ''}"
        for j in jobs
    ]
    text = "\n".join(lines) if jobs else "no fine-tuning jobs"
    emit(settings_of(ctx), [job_dict(j) for j in jobs], text)


@jobs_app.command("describe", cls=Command)
def jobs_describe(
    ctx: typer.Context, job_id: str = typer.Argument(..., help="The job id.")
) -> None:
    """Show one job in full (FINETUNE('DESCRIBE', ID))."""
    job = _run(ctx, lambda cx: cx.finetune.describe(job_id))
    emit(settings_of(ctx), job_dict(job), job_text(job))


@jobs_app.command("cancel", cls=Command)
def jobs_cancel(ctx: typer.Context, job_id: str = typer.Argument(..., help="The job id.")) -> None:
    """Cancel a job (FINETUNE('CANCEL', ID)) and show its state."""
    job = _run(ctx, lambda cx: cx.finetune.cancel(job_id))
    emit(settings_of(ctx), job_dict(job), job_text(job))


@jobs_app.command("wait", cls=Command)
def jobs_wait(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., help="The job id."),
    timeout: float = typer.Option(None, help="Give up after this many seconds (exit 5)."),
) -> None:
    """Wait for a job to end; exit 0 on SUCCESS, 3 on ERROR, 4 on CANCELLED, 5 on timeout."""
    job = _run(
        ctx,
        lambda cx: cx.finetune.wait(
            job_id, timeout=timeout, progress=progress_for(settings_of(ctx))
        ),
    )
    emit(settings_of(ctx), job_dict(job), job_text(job))
    job_exit(job)


@app.command(cls=Command)
def create(
    ctx: typer.Context,
    name: str = typer.Argument(
        ..., help="The fine-tuned model's name (MY_MODEL or DB.SCHEMA.MY_MODEL)."
    ),
    base_model: str = typer.Option(..., "--base-model", "-m", help="e.g. mistral-7b, llama3.1-8b."),
    training: str = typer.Option(
        ..., "--training", "-t", help="A query yielding prompt and completion."
    ),
    validation: str = typer.Option(None, "--validation", help="A validation query (optional)."),
    max_epochs: int = typer.Option(None, "--max-epochs", help="1 to 10; default: Cortex decides."),
    no_check: bool = typer.Option(False, "--no-check", help="Skip the preflight check."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the job to end."),
    timeout: float = typer.Option(None, help="With --wait: give up after this many seconds."),
) -> None:
    """Create a fine-tuning job (FINETUNE('CREATE', ...)); print its id (and state with --wait).

    Exit 6 when the preflight check finds errors (no job is created).
    """

    def run(cx: Any) -> Any:
        job = cx.finetune.create(
            name,
            base_model=base_model,
            training=training,
            validation=validation,
            max_epochs=max_epochs,
            check=not no_check,
        )
        return (
            cx.finetune.wait(job.id, timeout=timeout, progress=progress_for(settings_of(ctx)))
            if wait
            else job
        )

    job = _run(ctx, run)
    emit(settings_of(ctx), job_dict(job), job_text(job) if wait else job.id)
    if wait:
        job_exit(job)


@app.command(cls=Command)
def check(
    ctx: typer.Context,
    base_model: str = typer.Option(..., "--base-model", "-m", help="e.g. mistral-7b, llama3.1-8b."),
    training: str = typer.Option(
        ..., "--training", "-t", help="A query yielding prompt and completion."
    ),
    validation: str = typer.Option(None, "--validation", help="A validation query (optional)."),
    max_epochs: int = typer.Option(None, "--max-epochs", help="1 to 10; default: Cortex decides."),
    server_tokens: bool = typer.Option(
        False,
        "--server-tokens",
        help="Count tokens with Cortex (billed compute) instead of estimating.",
    ),
    credits_per_million: float = typer.Option(
        None,
        "--credits-per-million",
        help="The base model's credits per million trained tokens, to estimate credits.",
        metavar="RATE",
    ),
) -> None:
    """Check training data before creating a job (no Cortex credits); exit 6 on errors."""
    rates = None if credits_per_million is None else {base_model: credits_per_million}
    report = _run(
        ctx,
        lambda cx: cx.finetune.check(
            base_model,
            training=training,
            validation=validation,
            max_epochs=max_epochs,
            server_tokens=server_tokens,
            credits_per_million=rates,
        ),
    )
    report = cli_report(report)
    emit(settings_of(ctx), report.to_dict(), str(report))
    if not report.ok:
        raise typer.Exit(EXIT_CHECK)


@app.command(cls=Command)
def complete(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="A Cortex model or a fine-tuned model's name."),
    prompt: str = typer.Argument(..., help="The prompt, or - to read it from stdin."),
    temperature: float = typer.Option(None, help="0 to 1 (out of range: exit 2)."),
    top_p: float = typer.Option(None, "--top-p", help="0 to 1 (out of range: exit 2)."),
    max_tokens: int = typer.Option(
        None, "--max-tokens", help="Most tokens to generate, 1 to 8192 (out of range: exit 2)."
    ),
    guardrails: bool = typer.Option(None, "--guardrails/--no-guardrails", help="Cortex Guard."),
    stream: bool = typer.Option(False, "--stream", help="Print tokens as they come (REST)."),
) -> None:
    """Complete a prompt (COMPLETE / AI_COMPLETE, or REST with --stream) and print the answer."""
    text = sys.stdin.read() if prompt == "-" else prompt
    if stream:
        options = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens}
        _cli_chat.stream_complete(ctx, model, text, guardrails=guardrails, **options)
        return
    answer = _run(
        ctx,
        lambda cx: cx.complete(
            model,
            text,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            guardrails=guardrails,
        ),
    )
    data = answer.model_dump(mode="json", exclude={"raw", "parsed"})
    emit(settings_of(ctx), data, answer.text)


@app.command(cls=Command)
def sql(
    ctx: typer.Context,
    statement: str = typer.Argument(
        ..., help="One SQL statement; several (separated by ;) are refused with exit 2."
    ),
) -> None:
    """Run one SQL statement and print its rows (handy on the emulator: --local).

    Rows print tab-separated; with --json, as a list of objects keyed by column name.
    The statement runs once: the command never re-sends it.
    """
    from cortex_tune._cli.sql import execute_once, records, require_one

    require_one(statement)
    result = _run(ctx, lambda cx: execute_once(cx, statement))
    text = "\n".join("\t".join(str(v) for v in row) for row in result.rows)
    emit(settings_of(ctx), records(result.columns, result.rows), text)


@app.command(cls=Command)
def doctor(ctx: typer.Context) -> None:
    """Check the connection is ready for Cortex, one line per check with a remedy."""
    report = _run(ctx, lambda cx: cx.doctor())
    emit(settings_of(ctx), report.to_dict(), str(report))
    if not report.ok:
        raise typer.Exit(EXIT_CONNECTION if report.checks[0].state == "fail" else EXIT_ERROR)


@app.command(cls=Command)
def demo(
    ctx: typer.Context,
    path: str = typer.Option(
        None, help="Keep the emulator's jobs and data in this directory (default: --local PATH)."
    ),
    progress: bool = typer.Option(True, help="Show a progress bar while the job trains."),
) -> None:
    """Run the end-to-end demo on the embedded emulator: load, check, fine-tune, wait, evaluate.

    With --json the narrative goes to stderr and stdout gets the key numbers.
    """
    settings = settings_of(ctx)
    if settings.connection is not None:
        usage_error(
            "demo runs on the embedded emulator only: leave out --connection",
            where="cortex-tune demo",
        )
    from cortex_tune._cli.demo import run_demo

    summary = run_demo(path=path or settings.local or None, progress=progress and not settings.json)
    if settings.json:
        emit(settings, summary, "")


@app.command(cls=Command)
def version(ctx: typer.Context) -> None:
    """Print the cortex-tune version (also: cortex-tune --version)."""
    emit(settings_of(ctx), {"version": __version__}, __version__)


_cli_chat.register(app)
_cli_runs.register(app)


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``cortex-tune`` script."""
    app(args=sys.argv[1:] if args is None else args, prog_name="cortex-tune")
