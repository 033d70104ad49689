"""How the command line shows fine-tuning jobs and their progress."""

from __future__ import annotations

import sys
from typing import Any

import typer

from cortex_tune._cli.args import Settings
from cortex_tune._cli.core import EXIT_JOB_CANCELLED, EXIT_JOB_FAILED


def job_text(job: Any) -> str:
    """A job as aligned ``name value`` lines."""
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


def job_exit(job: Any) -> None:
    """Exit 3 for a job in ERROR, 4 for one CANCELLED."""
    if job.status.value == "ERROR":
        raise typer.Exit(EXIT_JOB_FAILED)
    if job.status.value == "CANCELLED":
        raise typer.Exit(EXIT_JOB_CANCELLED)


def progress_for(settings: Settings) -> Any:
    """A bar on a terminal; plain lines on status changes otherwise; nothing with --json."""
    if settings.json:
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
