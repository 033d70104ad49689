"""The ``cortex-tune`` command line: the library's verbs for shells, schedulers and CI.

Exit codes a script can rely on:

====  =========================================================
0     success
1     any other error (a query Snowflake refused, a bad answer)
2     usage error (bad options or arguments)
3     the job ended in ERROR
4     the job was CANCELLED
5     ``jobs wait`` / ``create --wait`` timed out (the job goes on)
6     the preflight check found errors
7     cannot connect or log in
====  =========================================================
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import typer

from cortex_tune import _cli_chat
from cortex_tune._version import __version__

T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_JOB_FAILED, EXIT_JOB_CANCELLED, EXIT_TIMEOUT, EXIT_CHECK, EXIT_CONNECTION = 3, 4, 5, 6, 7

app = typer.Typer(
    name="cortex-tune",
    help="Fine-tune and serve LLMs with Snowflake Cortex, or offline on the embedded emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
jobs_app = typer.Typer(
    help="List, describe, cancel and wait for fine-tuning jobs.", no_args_is_help=True
)
app.add_typer(jobs_app, name="jobs")


@dataclass
class _Settings:
    connection: str | None = None
    local: str | None = None
    json: bool = False
    debug: bool = False


def _settings(ctx: typer.Context) -> _Settings:
    settings = ctx.find_root().obj
    return settings if isinstance(settings, _Settings) else _Settings()


@app.callback()
def _main(
    ctx: typer.Context,
    connection: str = typer.Option(
        None, "--connection", "-c", help="A connection name from connections.toml."
    ),
    local: str = typer.Option(
        None,
        "--local",
        help="Use the embedded emulator, keeping jobs under PATH (default .cortex-local).",
        metavar="[PATH]",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document (for scripts)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and DEBUG logs."),
) -> None:
    """Fine-tune and serve LLMs with Snowflake Cortex.

    Connects like the Snowflake connector: --connection NAME, else the default connection of
    connections.toml (SNOWFLAKE_DEFAULT_CONNECTION_NAME), else SNOWFLAKE_* variables.
    """
    ctx.obj = _Settings(connection=connection, local=local, json=as_json, debug=debug)
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")


def _client(ctx: typer.Context) -> Any:
    from cortex_tune._client import Cortex

    settings = _settings(ctx)
    if settings.local is not None:
        return Cortex.local(settings.local or None)
    return Cortex.connect(settings.connection)


def _fail(ctx: typer.Context, exc: BaseException) -> NoReturn:
    """Print an error (and its hint) on stderr and exit with the code its class maps to."""
    from cortex_tune import _errors as e

    settings = _settings(ctx)
    if settings.debug:
        raise exc
    code = EXIT_ERROR
    if isinstance(exc, e.ConnectionFailedError):
        code = EXIT_CONNECTION
    elif isinstance(exc, e.ConfigurationError):
        code = EXIT_USAGE
    elif isinstance(exc, e.WaitTimeoutError):
        code = EXIT_TIMEOUT
    elif isinstance(exc, e.JobCancelledError):
        code = EXIT_JOB_CANCELLED
    elif isinstance(exc, e.JobFailedError):
        code = EXIT_JOB_FAILED
    elif type(exc).__name__ == "PreflightError":
        code = EXIT_CHECK
    message = exc.message if isinstance(exc, e.CortexError) else str(exc)
    typer.echo(f"error: {type(exc).__name__}: {message}", err=True)
    hint = getattr(exc, "hint", None)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(code)


def _run(ctx: typer.Context, action: Callable[[Any], T]) -> T:
    """Open the client, run ``action`` on it and close it; an error exits with its code."""
    try:
        with _client(ctx) as cx:
            return action(cx)
    except Exception as exc:
        _fail(ctx, exc)


def _emit(ctx: typer.Context, data: Any, text: str) -> None:
    if _settings(ctx).json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        typer.echo(text)


def _job_dict(job: Any) -> dict[str, Any]:
    data: dict[str, Any] = job.model_dump(mode="json", exclude={"raw"})
    data["status"] = job.status_raw or job.status.value
    return data


def _job_text(job: Any) -> str:
    rows = [
        ("id", job.id),
        ("status", job.status_raw or job.status.value),
        ("progress", f"{job.progress:.0%}"),
        ("base model", job.base_model),
        ("model", job.model),
        ("created", job.created_on),
        ("finished", job.finished_on),
        ("trained tokens", f"{job.trained_tokens:,}" if job.trained_tokens else None),
    ]
    if job.training_result is not None:
        rows.append(("training loss", job.training_result.training_loss))
        rows.append(("validation loss", job.training_result.validation_loss))
    if job.error is not None:
        rows.append(("error", f"{job.error.code}: {job.error.message}"))
    return "\n".join(f"{k:<16}{v}" for k, v in rows if v is not None and v != "")


def _job_exit(job: Any) -> None:
    if job.status.value == "ERROR":
        raise typer.Exit(EXIT_JOB_FAILED)
    if job.status.value == "CANCELLED":
        raise typer.Exit(EXIT_JOB_CANCELLED)


@jobs_app.command("list")
def jobs_list(ctx: typer.Context) -> None:
    """List fine-tuning jobs (FINETUNE('SHOW'))."""
    jobs = _run(ctx, lambda cx: cx.finetune.list())
    lines = [f"{'ID':<44} {'STATUS':<12} {'BASE MODEL':<14} CREATED"]
    lines += [
        f"{j.id:<44} {j.status_raw or j.status.value:<12} {j.base_model or '':<14} {j.created_on or ''}"
        for j in jobs
    ]
    _emit(ctx, [_job_dict(j) for j in jobs], "\n".join(lines) if jobs else "no fine-tuning jobs")


@jobs_app.command("describe")
def jobs_describe(
    ctx: typer.Context, job_id: str = typer.Argument(..., help="The job id.")
) -> None:
    """Show one job in full (FINETUNE('DESCRIBE', ID))."""
    job = _run(ctx, lambda cx: cx.finetune.describe(job_id))
    _emit(ctx, _job_dict(job), _job_text(job))


@jobs_app.command("cancel")
def jobs_cancel(ctx: typer.Context, job_id: str = typer.Argument(..., help="The job id.")) -> None:
    """Cancel a job (FINETUNE('CANCEL', ID)) and show its state."""
    job = _run(ctx, lambda cx: cx.finetune.cancel(job_id))
    _emit(ctx, _job_dict(job), _job_text(job))


@jobs_app.command("wait")
def jobs_wait(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., help="The job id."),
    timeout: float = typer.Option(None, help="Give up after this many seconds (exit 5)."),
) -> None:
    """Wait for a job to end; exit 0 on SUCCESS, 3 on ERROR, 4 on CANCELLED, 5 on timeout."""
    job = _run(ctx, lambda cx: cx.finetune.wait(job_id, timeout=timeout, progress=_progress(ctx)))
    _emit(ctx, _job_dict(job), _job_text(job))
    _job_exit(job)


def _progress(ctx: typer.Context) -> Any:
    """A bar on a terminal; plain lines on status changes otherwise; nothing with --json."""
    if _settings(ctx).json:
        return False
    if sys.stderr.isatty():
        return True
    last: list[str] = []

    def line(job: Any) -> None:
        state = f"{job.status.value} {job.progress:.0%}"
        if not last or last[-1] != state:
            last.append(state)
            typer.echo(f"{job.id} {state}", err=True)

    return line


@app.command()
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
    """Create a fine-tuning job (FINETUNE('CREATE', ...)); print its id (and state with --wait)."""

    def run(cx: Any) -> Any:
        job = cx.finetune.create(
            name,
            base_model=base_model,
            training=training,
            validation=validation,
            max_epochs=max_epochs,
            check=not no_check,
        )
        return cx.finetune.wait(job.id, timeout=timeout, progress=_progress(ctx)) if wait else job

    job = _run(ctx, run)
    _emit(ctx, _job_dict(job), _job_text(job) if wait else job.id)
    if wait:
        _job_exit(job)


@app.command()
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
) -> None:
    """Check training data before creating a job (no Cortex credits); exit 6 on errors."""
    report = _run(
        ctx,
        lambda cx: cx.finetune.check(
            base_model,
            training=training,
            validation=validation,
            max_epochs=max_epochs,
            server_tokens=server_tokens,
        ),
    )
    _emit(ctx, report.to_dict(), str(report))
    if not report.ok:
        raise typer.Exit(EXIT_CHECK)


@app.command()
def complete(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="A Cortex model or a fine-tuned model's name."),
    prompt: str = typer.Argument(..., help="The prompt, or - to read it from stdin."),
    temperature: float = typer.Option(None, help="0 to 1."),
    top_p: float = typer.Option(None, "--top-p", help="0 to 1."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Most tokens to generate."),
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
    _emit(ctx, data, answer.text)


@app.command()
def sql(
    ctx: typer.Context,
    statement: str = typer.Argument(..., help="One SQL statement (use --local for the emulator)."),
) -> None:
    """Run one SQL statement and print its rows (handy on the emulator: --local)."""
    rows = _run(ctx, lambda cx: cx.sql(statement))
    _emit(ctx, [list(r) for r in rows], "\n".join("\t".join(str(v) for v in r) for r in rows))


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check the connection is ready for Cortex, one line per check with a remedy."""
    report = _run(ctx, lambda cx: cx.doctor())
    _emit(ctx, report.to_dict(), str(report))
    if not report.ok:
        raise typer.Exit(EXIT_CONNECTION if report.checks[0].state == "fail" else EXIT_ERROR)


@app.command()
def demo(
    path: str = typer.Option(None, help="Keep the emulator's jobs and data in this directory."),
    progress: bool = typer.Option(True, help="Show a progress bar while the job trains."),
) -> None:
    """Run the end-to-end demo on the embedded emulator: load, check, fine-tune, wait, evaluate."""
    from cortex_tune._demo import run_demo

    run_demo(path=path, progress=progress)


@app.command()
def version() -> None:
    """Print the cortex-tune version."""
    typer.echo(__version__)


_cli_chat.register(app)


def _expand_local(args: list[str]) -> list[str]:
    """``--local`` right before a command (or last) means the default path, not a path
    named like the command: ``cortex-tune --local jobs list``."""
    commands = {
        c.name or getattr(c.callback, "__name__", "").replace("_", "-")
        for c in app.registered_commands
    } | {"jobs"}
    out = list(args)
    for i, arg in enumerate(out):
        if arg == "--local" and (
            i + 1 == len(out) or out[i + 1] in commands or out[i + 1].startswith("-")
        ):
            out[i] = "--local=.cortex-local"
    return out


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``cortex-tune`` script."""
    app(args=_expand_local(sys.argv[1:] if args is None else args), prog_name="cortex-tune")
