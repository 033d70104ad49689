"""Conformance probes: every statement shape cortex-tune relies on, run once against an account.

``python3 tasks.py live`` (or ``python -m cortex_tune._conformance``) connects to a real
Snowflake account, runs each probe once at the smallest cost, and writes a report that says
which rows of docs/snowflake-contract.md it settled and how (a row names the probes that settle
it). The same probes run in the test suite against the embedded emulator and the wire tier, so
the command cannot rot. See docs/live.md.

Example:
    >>> from cortex_tune import Cortex
    >>> from cortex_tune._conformance import Settings, run
    >>> cx = Cortex.local()                                       # doctest: +SKIP
    >>> report = run(cx, Settings(model="llama3.1-8b"))          # doctest: +SKIP
    >>> print(report.text())                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

from cortex_tune._conformance import client, finetune, statements
from cortex_tune._conformance.report import FORMAT, VERSION, ProbeRecord, Report
from cortex_tune._conformance.runner import Context, Probe, Settings, run_probe
from cortex_tune._core.errors import CortexError
from cortex_tune._core.statement import Statement

if TYPE_CHECKING:
    from cortex_tune._client.cortex import Cortex

__all__ = [
    "FORMAT",
    "VERSION",
    "Probe",
    "ProbeRecord",
    "Report",
    "Settings",
    "all_probes",
    "cost_note",
    "run",
]


def all_probes() -> list[Probe]:
    """Every probe, in the order they run and are reported."""
    return [
        *client.platform_probes(),
        *statements.probes(),
        *client.client_probes(),
        *finetune.probes(),
    ]


def run(
    cx: Cortex,
    settings: Settings | None = None,
    *,
    probes: Sequence[Probe] | None = None,
    on_record: Callable[[ProbeRecord], None] | None = None,
) -> Report:
    """Run every probe once on ``cx`` and return the report (nothing is written).

    Args:
        cx: The client; its retry policy is replaced by a single attempt for the run.
        settings: Model, prompt, and whether to create and cancel a fine-tuning job.
        probes: A subset of :func:`all_probes` (default: all).
        on_record: Called with each record as soon as its probe ends.

    Ctrl-C stops the run and returns what it saw: the probe running then, and those after it,
    are recorded as skipped and ``report.interrupted`` is True (a probe's clean-up still runs).
    """
    settings = settings or Settings()
    ctx = Context(cx, settings)
    report = Report(target=target(ctx), settings=settings.to_dict(), sensitive=tuple(ctx.sensitive))
    chosen = list(all_probes() if probes is None else probes)
    for index, probe in enumerate(chosen):
        try:
            record = run_probe(ctx, probe)
        except KeyboardInterrupt:
            report.interrupted = True
            for left in chosen[index:]:
                report.records.append(
                    ProbeRecord(left.name, left.rows, left.shape, left.billed, note="interrupted")
                )
            break
        report.records.append(record)
        if on_record is not None:
            on_record(record)
    typing = {True: "SYSTEM$TYPEOF over RESULT_SCAN", False: "unavailable", None: "not tried"}
    report.target["sql_types"] = typing[ctx.typeof_works]
    return report


def target(ctx: Context) -> dict[str, Any]:
    """Where the probes run: backend, connector, Snowflake version and region (no account)."""
    try:
        connector: str | None = metadata.version("snowflake-connector-python")
    except metadata.PackageNotFoundError:
        connector = None
    found: dict[str, Any] = {
        "backend": type(ctx.cx.backend).__name__,
        "connector": connector,
        "snowflake": None,
        "region": None,
    }
    for key, sql in (("snowflake", "CURRENT_VERSION()"), ("region", "CURRENT_REGION()")):
        try:
            value = ctx.run(Statement(f"SELECT {sql}", (), "sql")).scalar()
        except CortexError:
            continue
        found[key] = str(value) if value is not None else None
    return found


def cost_note(settings: Settings, probes: Sequence[Probe] | None = None) -> str:
    """What a run will cost, printed before anything runs."""
    chosen = [p for p in (all_probes() if probes is None else probes) if not p.enabled(settings)]
    billed = sum(p.billed for p in chosen)
    lines = [
        f"cortex-tune conformance: {len(chosen)} probes, {billed} billed Cortex calls with model "
        f"{settings.model!r}.",
        "  Completions ask for 1 output token; structured outputs for at most "
        f"{settings.structured_tokens}; the two 2-argument forms (COMPLETE(model, prompt), "
        "AI_COMPLETE(model, prompt)) take no options, so their one-word answer is not capped.",
        "  Billed Cortex calls are charged by input + output tokens; the other statements "
        "(token counts, FINETUNE SHOW/DESCRIBE, query history, RESULT_SCAN, small temporary "
        "tables) use the session's warehouse for a moment. Nothing is retried.",
    ]
    if settings.finetune:
        lines.append(
            f"  FINETUNE: one job on {settings.base_model!r} over a 3-row table, cancelled as "
            "soon as CREATE answers (training done before the cancel is billed)."
        )
    else:
        lines.append("  FINETUNE CREATE + CANCEL: off (CORTEX_TUNE_LIVE_FINETUNE=1 turns it on).")
    return "\n".join(lines)
