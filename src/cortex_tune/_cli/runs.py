"""``cortex-tune runs``: list, describe, wait for and cancel runs, from any shell or scheduler.

A run is long warehouse work (``complete_table``, ``evaluate``, ``compare``) recorded in the runs
table; these commands read that table, so they find runs started by any process of the same
user. Exit codes are those of ``jobs``: ``runs wait`` exits 0 when the run SUCCEEDED, 3 when it
FAILED, 4 when it was CANCELLED, 5 when it timed out (the run goes on).
"""

from __future__ import annotations

from typing import Any

import typer

from cortex_tune._cli.core import (
    EXIT_JOB_CANCELLED,
    EXIT_JOB_FAILED,
    Command,
    Group,
    emit,
    settings_of,
)
from cortex_tune._cli.jobs import progress_for
from cortex_tune._core.constants import RUNS_TABLE

runs_app = typer.Typer(
    help="List, describe, wait for and cancel runs (complete_table, evaluate, compare).",
    no_args_is_help=True,
    cls=Group,
)

_TABLE = typer.Option(
    RUNS_TABLE, "--table", help="The runs table (a name in the current schema, or qualified)."
)


def run_dict(run: Any) -> dict[str, Any]:
    """A run as JSON data: its fields, its statements, its status as computed."""
    data: dict[str, Any] = run.model_dump(mode="json", exclude={"raw"})
    data["status"] = run.status_raw or run.status.value
    data["query_ids"] = run.query_ids
    data["parts"] = [
        {k: v for k, v in part.items() if k not in ("parameters", "plan")}
        for part in data.get("parts", [])
    ]
    return data


def run_text(run: Any) -> str:
    """A run as aligned ``name value`` lines."""
    rows = [
        ("id", run.id),
        ("kind", run.kind),
        ("target", run.target),
        ("status", run.status_raw or run.status.value),
        ("rows", f"{run.rows_done:,} of {run.rows_todo:,}" if run.rows_todo else None),
        ("failed rows", f"{run.rows_failed:,}" if run.rows_failed else None),
        ("tokens", f"{run.tokens:,}" if run.tokens else None),
        ("progress", f"{run.progress:.0%}"),
        ("statements", len(run.parts)),
        ("query ids", ", ".join(run.query_ids) or None),
        ("created", run.created_on),
        ("error", run.error),
    ]
    return "\n".join(f"{k:<14}{v}" for k, v in rows if v is not None and v != "")


def run_exit(run: Any) -> None:
    """Exit 3 for a FAILED run, 4 for a CANCELLED one."""
    if run.status.value == "FAILED":
        raise typer.Exit(EXIT_JOB_FAILED)
    if run.status.value == "CANCELLED":
        raise typer.Exit(EXIT_JOB_CANCELLED)


def _run(ctx: typer.Context, table: str, action: Any) -> Any:
    from cortex_tune._client.cortex import Cortex

    settings = settings_of(ctx)
    if settings.local_path is not None:
        client = Cortex.local(settings.local_path, runs_table=table)
    else:
        client = Cortex.connect(settings.connection, runs_table=table)
    with client as cx:
        return action(cx)


@runs_app.command("list", cls=Command)
def runs_list(
    ctx: typer.Context,
    table: str = _TABLE,
    limit: int = typer.Option(20, "--limit", min=1, help="How many of the latest runs."),
) -> None:
    """List the latest runs, newest first (their statements' rows)."""
    runs = _run(ctx, table, lambda cx: cx.runs.list(limit=limit))
    lines = [f"{'ID':<36} {'STATUS':<10} {'KIND':<15} {'TARGET':<24} ROWS"]
    lines += [
        f"{r.id:<36} {r.status.value:<10} {r.kind:<15} {r.target:<24} "
        f"{r.rows_done:,}/{r.rows_todo or 0:,}"
        for r in runs
    ]
    emit(settings_of(ctx), [run_dict(r) for r in runs], "\n".join(lines) if runs else "no runs")


@runs_app.command("describe", cls=Command)
def runs_describe(
    ctx: typer.Context, run_id: str = typer.Argument(..., help="The run id."), table: str = _TABLE
) -> None:
    """Show one run: rows done of rows to do, tokens, its statements' query ids."""
    run = _run(ctx, table, lambda cx: cx.runs.describe(run_id))
    emit(settings_of(ctx), run_dict(run), run_text(run))


@runs_app.command("wait", cls=Command)
def runs_wait(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The run id."),
    table: str = _TABLE,
    timeout: float = typer.Option(None, help="Give up after this many seconds (exit 5)."),
) -> None:
    """Wait for a run to end; exit 0 SUCCEEDED, 3 FAILED, 4 CANCELLED, 5 on timeout.

    Ctrl-C stops the waiting (exit 130); the run goes on in Snowflake.
    """
    settings = settings_of(ctx)
    run = _run(
        ctx,
        table,
        lambda cx: cx.runs.wait(run_id, timeout=timeout, progress=progress_for(settings)),
    )
    emit(settings, run_dict(run), run_text(run))
    run_exit(run)


@runs_app.command("cancel", cls=Command)
def runs_cancel(
    ctx: typer.Context, run_id: str = typer.Argument(..., help="The run id."), table: str = _TABLE
) -> None:
    """Cancel a run's statements in Snowflake (SYSTEM$CANCEL_QUERY) and show the run."""
    run = _run(ctx, table, lambda cx: cx.runs.cancel(run_id))
    emit(settings_of(ctx), run_dict(run), run_text(run))


def register(app: typer.Typer) -> None:
    """Add the ``runs`` commands to the CLI."""
    app.add_typer(runs_app, name="runs")
