"""Advice in the words of the command line.

The library's hints name Python (``cx.finetune.list()``, ``check=False``,
``server_tokens=True``); at a shell they should name commands and flags. The advice is keyed
by what it is about, an error class or a check finding's code, and the CLI keeps its own
spelling of each here. Library users keep the Python wording.

An error's hint is replaced only when it is its class's generic advice: a hint written for
that very error (which connection is missing, which package to install) says more, and stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cortex_tune._core import errors as e
from cortex_tune._rest._tools import ToolLoopError
from cortex_tune._runs.models import Run

if TYPE_CHECKING:
    from cortex_tune._core.rules import Finding
    from cortex_tune._finetune.preflight import PreflightReport


def _job_id(exc: Any) -> str:
    job = getattr(exc, "job", None)
    return getattr(job, "id", None) or "ID"


def _noun(exc: Any) -> str:
    """``run`` for a run's error, ``job`` for a fine-tuning job's."""
    return "run" if isinstance(getattr(exc, "job", None), Run) else "job"


#: The CLI's spelling of each error class's generic advice.
ERROR_HINTS: dict[type[e.CortexError], Callable[[Any], str]] = {
    e.ConfigurationError: lambda _: (
        "Fix the value the message names; `cortex-tune COMMAND --help` lists each option's range."
    ),
    e.ConnectionFailedError: lambda _: (
        "Check the account, host and network settings of the connection (connections.toml, "
        "chosen with --connection NAME, or SNOWFLAKE_* variables), or use --local for the "
        "embedded emulator."
    ),
    e.SessionExpiredError: lambda _: "The session expired: run the command again.",
    e.MaxTokensExceededError: lambda _: (
        "Shorten the prompt, lower --max-tokens, or use a model with a larger window."
    ),
    e.InvalidOptionsError: lambda _: (
        "--temperature and --top-p take 0 to 1, --max-tokens 1 to 8192."
    ),
    e.JobNotFoundError: lambda _: (
        "Check the id with `cortex-tune jobs list`; Snowflake garbage-collects old jobs from SHOW."
    ),
    e.UnknownFunctionError: lambda _: (
        "This account lacks the function: check its name, and that Snowflake Cortex "
        "(AI_COMPLETE or SNOWFLAKE.CORTEX.COMPLETE) is offered in its region."
    ),
    e.TrainingDataError: lambda _: (
        "Run `cortex-tune check --base-model MODEL --training QUERY` to see every problem with "
        "the data before creating a job."
    ),
    e.PreflightError: lambda _: (
        "Fix what the report lists, or pass --no-check to create the job anyway."
    ),
    ToolLoopError: lambda _: (
        "The model kept asking for tools; the command line runs no tools: ask without tools."
    ),
    e.ResponseParseError: lambda _: (
        "Cortex answered in an unexpected shape: run again with --debug to see it, and report it."
    ),
    e.AmbiguousCreateError: lambda exc: (
        "Do not create the job again blindly: look for a job whose training_data contains "
        f"{exc.marker} (`cortex-tune jobs list`, then `cortex-tune jobs describe ID`)."
    ),
    e.JobFailedError: lambda exc: f"See why with `cortex-tune jobs describe {_job_id(exc)}`.",
    e.WaitTimeoutError: lambda exc: (
        f"The {_noun(exc)} is still running: `cortex-tune {_noun(exc)}s wait {_job_id(exc)}` "
        f"again, or `cortex-tune {_noun(exc)}s cancel {_job_id(exc)}`."
    ),
    e.RunNotFoundError: lambda _: (
        "Check the id (run_...) with `cortex-tune runs list`, and that --table names the runs "
        "table the run was recorded in."
    ),
    e.RunFailedError: lambda exc: (
        f"See why with `cortex-tune runs describe {_job_id(exc)}`; answered rows stay in the "
        "results table, and running the same work again answers the rest."
    ),
    e.RunCancelledError: lambda _: (
        "Rows already answered stay in the results table; running the same work again answers "
        "the rest."
    ),
    e.RunConflictError: lambda _: (
        "Another process is starting the same work right now: wait for its run "
        "(`cortex-tune runs list`, then `cortex-tune runs wait ID`) instead of starting it again."
    ),
}

#: The CLI's spelling of hints the library writes for particular errors.
SPECIFIC_HINTS: dict[str, str] = {
    e._CONNECTION_CLOSED_HINT: "The connection closed: run the command again.",
}


def cli_hint(exc: BaseException) -> str | None:
    """The hint to show at a shell for ``exc``."""
    hint: str | None = getattr(exc, "hint", None)
    if not isinstance(exc, e.CortexError):
        return hint
    if hint is not None and hint not in _generic_hints(type(exc)):
        return SPECIFIC_HINTS.get(hint, hint)
    for cls in type(exc).__mro__:
        if cls in ERROR_HINTS:
            return ERROR_HINTS[cls](exc)
        if vars(cls).get("default_hint") is not None:
            return hint  # this class's own advice, which names no Python
    return hint


def _generic_hints(cls: type) -> set[str]:
    return {h for c in cls.__mro__ if isinstance(h := vars(c).get("default_hint"), str)}


# -- the check's findings ------------------------------------------------------------------------


def _epochs_auto(_: Finding, report: PreflightReport) -> str:
    from cortex_tune._core import rules as _rules

    spec = _rules.base_model_spec(report.base_model)
    limit = f" ({spec.row_limit(None):,} rows)" if spec is not None else ""
    return (
        "--max-epochs is not set: Cortex chooses 1 to 10 epochs, so trained tokens and credits "
        f"are a range, and the row limit checked is the {_rules.DEFAULT_EPOCHS_FOR_LIMIT}-epoch "
        f"one{limit}"
    )


def _token_estimate(_: Finding, report: PreflightReport) -> str:
    from cortex_tune._core.constants import CHARS_PER_TOKEN

    return (
        f"token counts are estimates (about {CHARS_PER_TOKEN:g} characters a token); "
        "--server-tokens counts them with Cortex instead (billed compute)"
    )


#: The CLI's wording of the check's findings whose remedy is an argument.
FINDINGS: dict[str, Callable[[Finding, PreflightReport], str]] = {
    "auto-validation-split": lambda _f, _r: (
        "no validation query: Cortex holds some training rows out for validation itself (it "
        "trains on fewer rows than counted here); pass --validation QUERY to choose them"
    ),
    "epochs-auto": _epochs_auto,
    "token-estimate": _token_estimate,
    "no-credit-rate": lambda _f, report: (
        f"no credit rate for {report.base_model}: cortex-tune ships none (Snowflake publishes "
        "them in its Service Consumption Table); pass --credits-per-million RATE for credits"
    ),
}


def cli_report(report: PreflightReport) -> PreflightReport:
    """``report`` with the findings in FINDINGS worded for the command line."""
    findings = tuple(
        f.model_copy(update={"message": FINDINGS[f.code](f, report)}) if f.code in FINDINGS else f
        for f in report.findings
    )
    return report.model_copy(update={"findings": findings})
