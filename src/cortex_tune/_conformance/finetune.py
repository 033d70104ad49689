"""The one probe that creates something billable: FINETUNE CREATE, then CANCEL at once.

Off unless asked for (``CORTEX_TUNE_LIVE_FINETUNE=1``). It trains on a three-row table of made-up
pairs, cancels the job as soon as CREATE answers, and drops the table even if CANCEL fails (a job
whose data is gone cannot train). It settles how DESCRIBE echoes the training query: byte for
byte, with cortex-tune's request marker comment, or not (contract row C-FT-14).
"""

from __future__ import annotations

import re
from typing import Any

from cortex_tune._conformance import reading as r
from cortex_tune._conformance.client import drop
from cortex_tune._conformance.runner import Context, Finding, Probe, Settings, refused
from cortex_tune._core.constants import MARKER_PREFIX
from cortex_tune._core.errors import CortexError
from cortex_tune._core.statement import Statement
from cortex_tune.sql import finetune_cancel_sql, finetune_describe_sql

_JOB_ID = re.compile(r"ft_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STATUS = re.compile(r"[A-Z_]{1,20}")
_PAIRS = (
    ("my invoice is wrong", "billing"),
    ("no signal abroad", "roaming"),
    ("charged twice", "billing"),
)
_STILL_RUNNING = (
    "job {} may still run: check it with SNOWFLAKE.CORTEX.FINETUNE('DESCRIBE', '<id>') "
    "and cancel it with FINETUNE('CANCEL', '<id>')"
)
_MAYBE_CREATED = (
    "CREATE did not answer with a job; if one was created anyway, FINETUNE('SHOW') lists it, "
    "and it cannot train: its training table was dropped"
)
_ENABLE = "off: set CORTEX_TUNE_LIVE_FINETUNE=1 to create one job and cancel it at once"


def _enabled(settings: Settings) -> str | None:
    return None if settings.finetune else _ENABLE


def create_cancel(ctx: Context) -> Finding:
    """CREATE a job on a tiny table, CANCEL it, DESCRIBE it; compare training_data."""
    table, model = ctx.name("TRAIN"), ctx.name("MODEL")
    sent: list[str] = []

    def trace(sql: str, params: tuple[Any, ...]) -> None:
        if "FINETUNE('CREATE'" in sql and params and not sent:
            sent.append(str(params[2]))

    cx = ctx.cx.with_options(tracer=trace)
    ctx.run(Statement(f"CREATE TABLE {table} (PROMPT VARCHAR, COMPLETION VARCHAR)", (), "sql"))
    try:
        try:
            job_id = _create(ctx, cx, table, model)
        except CortexError as exc:
            return Finding(error=exc, note=_MAYBE_CREATED)
        try:
            finding = _cancel_and_describe(ctx, cx, job_id)
        except CortexError as exc:
            finding = Finding(error=exc, note=_STILL_RUNNING.format(job_id))
    finally:
        left = drop(ctx, table)
    literals = cx.finetune._literals
    finding.observed["C-FT-01"] = "CREATE(name, base model, training query) accepted"
    finding.observed["C-FT-10"] = (
        "bound arguments refused; literals used" if literals else "bound arguments accepted"
    )
    finding.observed["C-FT-09"] = "ft_<uuid>" if _JOB_ID.fullmatch(job_id) else "another form"
    if finding.error is None:
        finding.observed.update(_training_data(finding.answer, sent[0] if sent else None))
    finding.facts["left_behind"] = left
    return finding


def _create(ctx: Context, cx: Any, table: str, model: str) -> str:
    values = ", ".join("(?, ?)" for _ in _PAIRS)
    pairs = tuple(x for pair in _PAIRS for x in pair)
    insert = f"INSERT INTO {table} (PROMPT, COMPLETION) VALUES {values}"  # noqa: S608
    ctx.run(Statement(insert, pairs, "sql"))
    query = f"SELECT PROMPT AS prompt, COMPLETION AS completion FROM {table}"  # noqa: S608
    job = cx.finetune.create(model, base_model=ctx.settings.base_model, training=query, check=False)
    return str(job.id)


def _cancel_and_describe(ctx: Context, cx: Any, job_id: str) -> Finding:
    literals = cx.finetune._literals
    observed: dict[str, str] = {}
    try:
        answer = ctx.run(finetune_cancel_sql(job_id, literals=literals)).scalar()
        observed["C-FT-17"] = f"CANCEL answered {r.text_form(answer)}"
    except CortexError as exc:
        observed["C-FT-17"] = f"CANCEL raised {refused(exc)}"
    described = ctx.run(finetune_describe_sql(job_id, literals=literals))
    answer = described.scalar()
    data = r.as_object(answer) or {}
    status = data.get("status")
    readable = isinstance(status, str) and _STATUS.fullmatch(status)
    observed["C-FT-13"] = f"status after CANCEL: {status if readable else 'unreadable'}"
    observed["C-FT-12"] = r.key_list(answer)
    finding = Finding(answer=answer, query_id=described.query_id, observed=observed)
    if status not in ("CANCELLED", "CANCELED", "ERROR", "SUCCESS"):
        finding.note = _STILL_RUNNING.format(job_id)
    return finding


def _training_data(answer: Any, sent: str | None) -> dict[str, str]:
    data = r.as_object(answer) or {}
    echoed = data.get("training_data")
    if not isinstance(echoed, str):
        return {"C-FT-14": f"training_data is {r.text_form(echoed)}"}
    if sent is None:
        return {"C-FT-14": "the query sent was not seen"}
    if echoed == sent:
        return {"C-FT-14": "training_data is the query as sent, byte for byte (marker kept)"}
    marker = re.search(re.escape(MARKER_PREFIX) + r"[0-9a-f]+", sent)
    if marker and marker.group(0) in echoed:
        return {"C-FT-14": "the marker comment is kept; the rest of the text differs"}
    return {"C-FT-14": "the marker comment is dropped"}


def probes() -> list[Probe]:
    """The FINETUNE CREATE + CANCEL probe (opt-in)."""
    rows = ("C-FT-01", "C-FT-09", "C-FT-10", "C-FT-12", "C-FT-13", "C-FT-14", "C-FT-17")
    shape = (
        "SELECT SNOWFLAKE.CORTEX.FINETUNE('CREATE', ?, ?, ?); "
        "SELECT SNOWFLAKE.CORTEX.FINETUNE('CANCEL', ?); "
        "SELECT SNOWFLAKE.CORTEX.FINETUNE('DESCRIBE', ?)"
    )
    return [Probe("finetune.create_cancel", rows, shape, 1, create_cancel, _enabled)]
